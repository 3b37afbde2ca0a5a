"""Publish throughput: N manifest variants into a fresh SQLite registry and into a MemoryStore.

Variants are made in memory from the bundled demo manifests (src/capgraph/demo/manifests) by
changing the slug and the description, so every publish stores a new artifact; nothing is
written outside a temporary directory. Three passes per store, each timed on its own:

* ``new``: N first publishes (parse, validate, compose, canonicalise, sign, store);
* ``identical``: the same N texts again: content hash equal to the latest, nothing stored;
* the SQLite/Memory ratio for both.

Usage: .venv/bin/python bench/publish_throughput.py [-n 2000] [--format json|yaml] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from capgraph.bootstrap import build_registry
from capgraph.config import Settings
from capgraph.core.manifest import parse_manifest_text
from capgraph.service import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore


def demo_manifests() -> list[dict[str, Any]]:
    folder = resources.files("capgraph.demo").joinpath("manifests")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yml", ".yaml")):
            out.append(parse_manifest_text(entry.read_text(encoding="utf-8"), hint="yaml"))
    return out


def variants(n: int, fmt: str) -> list[str]:
    """N manifest texts: demo manifests with a unique slug and a changed description."""
    base = demo_manifests()
    texts = []
    for i in range(n):
        data = json.loads(json.dumps(base[i % len(base)]))  # deep copy
        artifact = data["artifact"]
        artifact["slug"] = f"{artifact['slug']}-bench-{i:06d}"
        artifact["description"] = f"{artifact['description']} Benchmark variant {i}."
        if fmt == "json":
            texts.append(json.dumps(data, ensure_ascii=False))
        else:
            texts.append(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return texts


def timed_publish(registry: Registry, texts: list[str], hint: str) -> dict[str, Any]:
    created = 0
    per_call: list[float] = []
    start = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        result = registry.publish(text, hint=hint)
        per_call.append(time.perf_counter() - t0)
        created += result.created
    elapsed = time.perf_counter() - start
    per_call.sort()
    return {
        "count": len(texts),
        "created": created,
        "seconds": round(elapsed, 4),
        "per_second": round(len(texts) / elapsed, 1),
        "median_ms": round(statistics.median(per_call) * 1e3, 3),
        "p99_ms": round(per_call[min(len(per_call) - 1, int(len(per_call) * 0.99))] * 1e3, 3),
    }


def run(n: int, fmt: str) -> dict[str, Any]:
    texts = variants(n, fmt)
    hint = "json" if fmt == "json" else "yaml"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="capgraph-bench-") as tmp:
        sqlite_registry = build_registry(Settings(data_dir=Path(tmp) / "sqlite"))
        memory_registry = Registry(
            store=MemoryStore(), keys=FileKeyStore(Path(tmp) / "memory" / "keys"),
            registry_name="capgraph", public_url="http://127.0.0.1:8000",
        )
        for name, registry in (("sqlite", sqlite_registry), ("memory", memory_registry)):
            registry.jwks()  # create the signing key outside the timed region
            registry.publish(variants(1, fmt)[0].replace("-bench-000000", "-warmup"), hint=hint)
            new = timed_publish(registry, texts, hint)
            same = timed_publish(registry, texts, hint)
            assert new["created"] == n, f"{name}: expected {n} new versions, got {new['created']}"
            assert same["created"] == 0, f"{name}: identical re-publish stored something"
            results[name] = {"new": new, "identical": same}
        sqlite_registry.store.close()
    results["ratio_sqlite_over_memory"] = {
        "new": round(results["sqlite"]["new"]["per_second"]
                     / results["memory"]["new"]["per_second"], 3),
        "identical": round(results["sqlite"]["identical"]["per_second"]
                           / results["memory"]["identical"]["per_second"], 3),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="manifests per pass")
    parser.add_argument("--format", choices=("json", "yaml"), default="json")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    results = run(args.n, args.format)
    results["config"] = {"n": args.n, "format": args.format, "python": platform.python_version()}
    print(f"publish throughput, {args.n} manifests ({args.format}), python "
          f"{platform.python_version()}")
    print(f"{'store':8} {'pass':10} {'manifests/s':>12} {'median ms':>10} {'p99 ms':>8}")
    for store in ("sqlite", "memory"):
        for kind in ("new", "identical"):
            r = results[store][kind]
            print(f"{store:8} {kind:10} {r['per_second']:>12} {r['median_ms']:>10} "
                  f"{r['p99_ms']:>8}")
    ratio = results["ratio_sqlite_over_memory"]
    print(f"ratio sqlite/memory: new {ratio['new']}, identical {ratio['identical']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
