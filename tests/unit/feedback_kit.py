"""Builders for the outcome, feedback and learning tests: a settable clock, a fast stand-in
embedder, registries on either backend, and helpers that resolve and report."""

from __future__ import annotations

import json
import re
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from capgraph.bootstrap import assemble_registry
from capgraph.ports import Store
from capgraph.registry import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from capgraph.storage.sqlite import SQLiteStore
from tests.conftest import FIXED_NOW
from tests.unit.factories import capability, manifest, to_yaml
from tests.wire import resolve_json


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class WordEmbedder:
    """Bag of hashed words, unit length: texts sharing words have a high cosine. Stands in for
    MiniLM where a test needs similarity, not meaning (MiniLM costs seconds per test)."""

    name = "test-words"
    dim = 256

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out


def make_store(kind: str, tmp_path: Path) -> Store:
    return MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "cg.db")


def make_registry(store: Store, tmp_path: Path, *, clock: Clock | None = None,
                  embedder: WordEmbedder | None = None) -> Registry:
    return assemble_registry(store=store, keys=FileKeyStore(tmp_path / "keys"),
                    registry_name="capgraph-test", public_url="http://registry.test",
                    clock=clock or Clock(), embedder=embedder)


def tool_manifest(slug: str, *, kind: str = "api", topic: str = "alpha") -> str:
    """A valid manifest whose first capability declares the intent ``do <topic> for me``."""
    data = manifest(capabilities=[capability(topic), capability(f"{topic}-extra"),
                                  capability(f"{topic}-more")])
    data["artifact"].update(slug=slug, name=f"Tool {slug}", type=kind)
    return to_yaml(data)


def twin_manifest(slug: str) -> str:
    """Manifests that differ only in slug and name: near-ties for ``summarize meeting notes``,
    so learned outcomes decide their order."""
    cap = capability("notes", name="meeting notes summarizer",
                     intents_served=["summarize my meeting notes", "condense meeting notes"])
    data = manifest(capabilities=[cap, capability("minutes"), capability("agenda")])
    data["artifact"].update(slug=slug, name=f"Notes {slug}")
    return to_yaml(data)


def resolve_entry(registry: Registry, intent: str = "do alpha for me", *, slug: str | None = None
                  ) -> dict[str, Any]:
    """``{resolveId, slug, callbackToken}`` for the top (or the given slug's) resolved entry."""
    answer = resolve_json(registry, intent, limit=5)
    assert answer["resolved"], answer
    entries = [e for e in answer["resolved"] if slug in (None, e["artifact"]["slug"])]
    assert entries, (slug, [e["artifact"]["slug"] for e in answer["resolved"]])
    return {"resolveId": answer["resolveId"], "slug": entries[0]["artifact"]["slug"],
            "callbackToken": entries[0]["callbackToken"]}


def body(registry: Registry, slug: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(registry.passport(slug).passport)["unfragile"]
    return data


def counted(registry: Registry, slug: str) -> int:
    return len(registry.store.counted_feedback(slug))
