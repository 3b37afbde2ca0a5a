"""Shared by the search and resolve tests: one embedding model per test process, and a data
directory holding the demo corpus and the two seeds, indexed once and copied per module.

Embedding the demo corpus takes tens of seconds on a busy machine; every module that needs it
copies the template instead (a few milliseconds), so the model runs on it once per session.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from capgraph.bootstrap import build_registry
from capgraph.cli.main import load_demo
from capgraph.config import Settings
from capgraph.registry import Registry
from capgraph.search.embedding import MiniLMEmbedder
from tests.conftest import SEEDS

__all__ = [
    "LUNAR_INTENT", "POSTURE_ADMITS", "copy_demo", "demo_app", "demo_registry", "embedder",
    "posture_manifests", "published", "seed_documents", "stable_search",
]


class _OneTextPerRun(MiniLMEmbedder):
    """The real model, run on one text at a time: the vectors are bit-for-bit those of a
    batch (padding is masked), at well under half the CPU, since a batch pads every text to
    its longest one."""

    def embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) < 2:
            return super().embed(texts)
        return np.concatenate([MiniLMEmbedder.embed(self, [text]) for text in texts])


@functools.cache
def embedder() -> MiniLMEmbedder:
    """The real model, loaded once per test process."""
    return _OneTextPerRun(threads=1)


@contextmanager
def published(keys: Path, manifests: list[dict[str, Any]], *, dense: bool
              ) -> Iterator[Registry]:
    """An in-memory registry (with the real model when ``dense``) holding ``manifests``,
    published at the tests' fixed time; closed afterwards."""
    from capgraph.bootstrap import assemble_registry
    from capgraph.storage.keystore import FileKeyStore
    from capgraph.storage.memory import MemoryStore
    from tests.conftest import FIXED_NOW
    from tests.unit.factories import to_yaml

    registry = assemble_registry(store=MemoryStore(), keys=FileKeyStore(keys / "keys"),
                                 registry_name="capgraph-test",
                                 public_url="http://registry.test", clock=lambda: FIXED_NOW,
                                 embedder=embedder() if dense else None)
    for data in manifests:
        registry.publish(to_yaml(data))
    try:
        yield registry
    finally:
        registry.store.close()


def seed_documents() -> list[dict[str, Any]]:
    """The two seed envelopes, read at run time."""
    paths = sorted(SEEDS.glob("*.passport.json"))
    assert len(paths) == 2, f"expected the two seed passports in {SEEDS}"
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


@functools.cache
def _template() -> Path:
    root = Path(tempfile.mkdtemp(prefix="capgraph-demo-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    data = root / "data"
    registry = build_registry(Settings(data_dir=data), embedder=embedder())
    try:
        created, _ = load_demo(registry)
        assert created > 0
        for document in seed_documents():
            registry.import_passport(document)
        assert registry.vectors is not None
        registry.vectors.sync()
        registry.vectors.save_snapshot()
    finally:
        registry.store.close()
    return data


def copy_demo(dest: Path) -> Path:
    """A data directory (SQLite database, keys, vector snapshot) with the demo corpus and the
    seeds loaded and indexed, at ``dest``."""
    shutil.copytree(_template(), dest)
    return dest


def demo_registry(data_dir: Path) -> Registry:
    """A Registry over a data directory, on the shared model (the caller closes its store)."""
    return build_registry(Settings(data_dir=data_dir), embedder=embedder())


def stable_search(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a search answer ranks, without its per-request ids: for before/after checks."""
    return [
        (m["artifact"]["slug"], m["matchScore"],
         tuple((c["id"], c["matchScore"]) for c in m["capabilities"]))
        for m in result["matches"]
    ]


LUNAR_INTENT = "catalogue lunar regolith samples"


def posture_manifests() -> dict[str, dict[str, Any]]:
    """Five artifacts offering the same lunar-sample capabilities, each tripping a different
    risk-posture gate (docs/RESOLVE.md): ``good`` (active, quality 0.85, low risk),
    ``deprecated``, ``low-quality`` (a bare manifest, quality < 0.5), ``risky`` (declares high
    data access risk, builder unverified) and ``archived``."""
    from tests.unit.factories import capability, long_text, manifest

    caps = [
        capability("catalogue", name="lunar regolith sample cataloguing",
                   description=long_text("lunar regolith sample cataloguing by grain and site"),
                   intents_served=[LUNAR_INTENT, "label moon rock specimens"]),
        capability("craters", name="crater depth estimation",
                   description=long_text("crater depth estimation from orbital images"),
                   intents_served=["estimate the depth of a crater", "measure crater rims"]),
        capability("dust", name="moon dust grain sizing",
                   description=long_text("moon dust grain sizing under a microscope"),
                   intents_served=["size moon dust grains", "measure regolith particles"]),
    ]
    out: dict[str, dict[str, Any]] = {}
    for slug in ("good", "deprecated", "risky", "archived"):
        data = manifest(capabilities=caps)
        data["artifact"].update({"slug": f"lunar-{slug}", "name": f"Lunar {slug.title()}"})
        out[slug] = data
    out["deprecated"]["artifact"]["status"] = "deprecated"
    out["archived"]["artifact"]["status"] = "archived"
    out["risky"]["trust"] = {"data_access_risk": "high"}
    out["low-quality"] = {
        "unfragile_version": "1.0",
        "artifact": {"name": "Lunar Low Quality", "slug": "lunar-low-quality", "type": "api",
                     "maintainer": "nobody", "homepage": "http://lunar-low.example"},
        "capabilities": [{"id": "catalogue", "name": caps[0]["name"],
                          "description": "Reads one request over HTTPS and answers with a "
                                         "JSON list of entries; nothing is stored and no "
                                         "other service is called.",
                          "intents_served": [LUNAR_INTENT]}],
    }
    return out


# Which of ``posture_manifests`` each posture lets through (none is verified, so strict
# admits none of them).
POSTURE_ADMITS = {
    "default": {"lunar-good", "lunar-deprecated", "lunar-risky", "lunar-low-quality"},
    "production": {"lunar-good", "lunar-risky"},
    "enterprise": {"lunar-good"},
    "strict": set(),
}


@contextmanager
def demo_app(data_dir: Path) -> Iterator[tuple[Any, Registry]]:
    """The real app, in process (no port), over a data directory, on the shared model."""
    from capgraph.http.app import create_app
    from tests.integration.conftest import InProcess

    registry = demo_registry(data_dir)
    client = InProcess(create_app(registry, Settings(data_dir=data_dir)))
    try:
        yield client, registry
    finally:
        client.close()
        registry.store.close()
