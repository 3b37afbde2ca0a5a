"""Publish throughput: N manifest variants into a fresh SQLite registry and into a MemoryStore.

Variants are made in memory from the bundled demo manifests (src/capgraph/demo/manifests) by
changing the slug and the description, so every publish stores a new artifact; nothing is
written outside a temporary directory. For each store (SQLite through
``capgraph.bootstrap.build_registry(Settings(data_dir=tmp))``, and a ``MemoryStore`` registry)
and each embedder setting (``none``: storage, signing and indexing only; ``minilm``: the default,
which embeds every capability on publish), two passes are timed:

* ``new``: N first publishes (parse, validate, compose, embed, canonicalise, sign, store);
* ``identical``: the same N texts again: content hash equal to the latest, nothing stored;

plus the SQLite/Memory ratio, and the mean time of the first and last 10% of the new
publishes (a per-publish cost that grows with the registry shows up there), and the process CPU
time per publish (less disturbed than wall time when other processes share the cores).

Usage: .venv/bin/python bench/publish_throughput.py [-n 1000] [--n-embed 60]
           [--embedder none|minilm|both] [--format json|yaml] [--json OUT]
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

from capgraph.bootstrap import assemble_registry, build_embedder, build_registry
from capgraph.config import Settings
from capgraph.core.manifest import parse_manifest_text
from capgraph.registry import Registry
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
    cpu_start = time.process_time()
    start = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        result = registry.publish(text, hint=hint)
        per_call.append(time.perf_counter() - t0)
        created += result.created
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    tenth = max(1, len(per_call) // 10)
    first, last = per_call[:tenth], per_call[-tenth:]
    ordered = sorted(per_call)
    return {
        "count": len(texts),
        "created": created,
        "seconds": round(elapsed, 4),
        "per_second": round(len(texts) / elapsed, 1),
        "cpu_ms_per_publish": round(cpu / len(texts) * 1e3, 3),
        "median_ms": round(statistics.median(ordered) * 1e3, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3, 3),
        "first10_mean_ms": round(statistics.fmean(first) * 1e3, 3),
        "last10_mean_ms": round(statistics.fmean(last) * 1e3, 3),
    }


def memory_registry(keys_dir: Path, embedder: Any) -> Registry:
    """A Registry on a MemoryStore, otherwise configured like build_registry's."""
    return assemble_registry(store=MemoryStore(), keys=FileKeyStore(keys_dir), embedder=embedder,
                             registry_name="capgraph", public_url="http://127.0.0.1:8000")


def run_one(store: str, embedder_name: str, embedder: Any, n: int, fmt: str,
            tmp: Path) -> dict[str, Any]:
    texts = variants(n, fmt)
    hint = "json" if fmt == "json" else "yaml"
    folder = tmp / f"{store}-{embedder_name}"
    if store == "sqlite":
        registry = build_registry(Settings(data_dir=folder, embedder=embedder_name),
                                  embedder=embedder)
    else:
        registry = memory_registry(folder / "keys", embedder)
    registry.jwks()  # create the signing key outside the timed region
    registry.publish(variants(1, fmt)[0].replace("-bench-000000", "-warmup"), hint=hint)
    new = timed_publish(registry, texts, hint)
    same = timed_publish(registry, texts, hint)
    assert new["created"] == n, f"{store}: expected {n} new versions, got {new['created']}"
    assert same["created"] == 0, f"{store}: identical re-publish stored something"
    registry.store.close()
    return {"store": store, "embedder": embedder_name, "new": new, "identical": same}


def run(n: int, n_embed: int, embedders: list[str], fmt: str) -> dict[str, Any]:
    results: dict[str, Any] = {"runs": [], "ratio_sqlite_over_memory": {}}
    with tempfile.TemporaryDirectory(prefix="capgraph-bench-") as tmp:
        for name in embedders:
            embedder = build_embedder(Settings(data_dir=Path(tmp), embedder=name))
            count = n if name == "none" else n_embed
            by_store = {store: run_one(store, name, embedder, count, fmt, Path(tmp))
                        for store in ("sqlite", "memory")}
            results["runs"].extend(by_store.values())
            results["ratio_sqlite_over_memory"][name] = {
                kind: round(by_store["sqlite"][kind]["per_second"]
                            / by_store["memory"][kind]["per_second"], 3)
                for kind in ("new", "identical")
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="manifests per pass, no embedder")
    parser.add_argument("--n-embed", type=int, default=60,
                        help="manifests per pass with the MiniLM embedder")
    parser.add_argument("--embedder", choices=("none", "minilm", "both"), default="both")
    parser.add_argument("--format", choices=("json", "yaml"), default="json")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    embedders = ["none", "minilm"] if args.embedder == "both" else [args.embedder]
    results = run(args.n, args.n_embed, embedders, args.format)
    results["config"] = {"n": args.n, "n_embed": args.n_embed, "format": args.format,
                         "python": platform.python_version()}
    print(f"publish throughput ({args.format} manifests), python {platform.python_version()}")
    print(f"{'store':7} {'embedder':8} {'pass':9} {'N':>5} {'manifests/s':>11} "
          f"{'median ms':>9} {'p99 ms':>8} {'first10% ms':>11} {'last10% ms':>10} {'cpu ms/op':>9}")
    for r in results["runs"]:
        for kind in ("new", "identical"):
            x = r[kind]
            print(f"{r['store']:7} {r['embedder']:8} {kind:9} {x['count']:>5} "
                  f"{x['per_second']:>11} {x['median_ms']:>9} {x['p99_ms']:>8} "
                  f"{x['first10_mean_ms']:>11} {x['last10_mean_ms']:>10} "
                  f"{x['cpu_ms_per_publish']:>9}")
    for name, ratio in results["ratio_sqlite_over_memory"].items():
        print(f"ratio sqlite/memory (embedder {name}): new {ratio['new']}, "
              f"identical {ratio['identical']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
