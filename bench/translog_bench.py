"""Transparency log benchmarks on SQLite: append throughput, proof latency and checkpoint cost
at N entries (default 1,000,000).

Everything goes through the registry's own code: the N-entry log is built with
``registry.translog.append_leaf`` (what every publish calls inside its transaction), 1,000
appends per transaction; entries are small fake leaves (128 bytes), not real passports (~6 KB),
so the file stays ~0.3 GB instead of ~6 GB; node work and row counts are the same. Then:

* ``append_public``: ``registry.versions.append_version`` with small fake versions, one
  transaction each (a publish minus parsing, composing and signing), on a fresh file and on
  the N-entry file;
* ``inclusion`` / ``consistency``: proof generation for random indexes / old sizes at the full
  size, straight from the stored nodes (``translog.*_proof(store.log_node, ...)``) and through
  ``Registry.inclusion`` / ``Registry.consistency`` (what the HTTP routes call), p50/p99;
* ``checkpoint``: tree head computation, Ed25519 signing of the note, and an uncached
  ``Registry.checkpoint()`` (both), at N and at the size below N with the most one bits (the
  most stored nodes to combine).

The database lives in a temporary directory and is deleted at the end.

Usage: .venv/bin/python bench/translog_bench.py [-n 1000000] [--samples 2000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capgraph.bootstrap import assemble_registry
from capgraph.core import translog
from capgraph.core.checkpoint import Checkpoint, sign_checkpoint
from capgraph.registry.translog import append_leaf
from capgraph.registry.versions import NewVersion, append_version
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.sqlite import SQLiteStore

BATCH = 1000


def leaf_data(i: int) -> bytes:
    return b"capgraph-bench-leaf:" + i.to_bytes(8, "big") + bytes(100)


def stats_us(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    return {"p50_us": round(pick(0.50), 1), "p99_us": round(pick(0.99), 1),
            "mean_us": round(statistics.fmean(ordered) * 1e6, 1), "n": len(ordered)}


def build(store: SQLiteStore, n: int) -> dict[str, Any]:
    t0 = last = time.perf_counter()
    marks = []
    done = 0
    while done < n:
        with store.write() as tx:
            for i in range(done, min(done + BATCH, n)):
                append_leaf(tx, leaf_data(i))
        done = min(done + BATCH, n)
        if done % 100_000 == 0 or done == n:
            now = time.perf_counter()
            marks.append({"at": done, "entries_per_s": round(100_000 / (now - last))
                          if done % 100_000 == 0 else None})
            last = now
            print(f"  built {done:>9,} entries, {done / (now - t0):,.0f}/s overall",
                  file=sys.stderr)
    elapsed = time.perf_counter() - t0
    return {"entries": n, "seconds": round(elapsed, 1), "entries_per_s": round(n / elapsed),
            "per_100k": marks}


def fake_version(i: int) -> NewVersion:
    data = leaf_data(10_000_000 + i)
    return NewVersion(name="bench", artifact_type="api", score=50,
                      content_hash=f"sha256:{i:064x}", source_kind="manifest", source="{}",
                      passport=data, key_id="bench", created_at="2026-01-01T00:00:00.000Z",
                      log_leaf=data, card='{"bench": true}')


def append_public(store: SQLiteStore, count: int, offset: int) -> dict[str, Any]:
    def builder(i: int) -> Any:
        return lambda tx, latest, number: fake_version(i)

    t0 = time.perf_counter()
    for i in range(offset, offset + count):
        append_version(store, f"bench-{i}", builder(i))
    elapsed = time.perf_counter() - t0
    return {"appends": count, "entries_per_s": round(count / elapsed),
            "ms_per_append": round(elapsed / count * 1000, 3)}


def timed(fn: Any, args: list[Any]) -> list[float]:
    out = []
    for a in args:
        t0 = time.perf_counter()
        fn(*a)
        out.append(time.perf_counter() - t0)
    return out


def high_popcount_below(n: int) -> int:
    """The size <= n with the most one bits (the most subtrees to combine for its root)."""
    best = n
    for bit in range(n.bit_length()):
        candidate = (n >> bit << bit) - 1 if n >> bit & 1 else n
        if 0 < candidate <= n and bin(candidate).count("1") > bin(best).count("1"):
            best = candidate
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="log size to build")
    parser.add_argument("--samples", type=int, default=2000, help="proofs timed per kind")
    parser.add_argument("--appends", type=int, default=2000, help="public appends timed")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    rng = random.Random(5)
    results: dict[str, Any] = {"python": platform.python_version(), "n": args.n}

    with tempfile.TemporaryDirectory(prefix="capgraph-tlog-") as tmp:
        fresh = SQLiteStore(Path(tmp) / "fresh.db")
        results["append_public_fresh"] = append_public(fresh, args.appends, 0)
        fresh.close()
        print(f"public append, fresh file: {results['append_public_fresh']}")

        store = SQLiteStore(Path(tmp) / "log.db")
        print(f"building {args.n:,} entries through append_leaf ...", file=sys.stderr)
        results["build"] = build(store, args.n)
        print(f"build: {results['build']['entries_per_s']:,} entries/s "
              f"({results['build']['seconds']} s)")
        results["append_public_at_n"] = append_public(store, args.appends, 0)
        print(f"public append at {args.n:,}: {results['append_public_at_n']}")
        size = store.log_size()
        results["size"] = size
        results["db_mb"] = round(sum(p.stat().st_size for p in Path(tmp).glob("log.db*"))
                                 / 1e6, 1)

        read = store.log_node
        idx = [(read, rng.randrange(size), size) for _ in range(args.samples)]
        olds = [(read, rng.randrange(1, size), size) for _ in range(args.samples)]
        results["inclusion_proof"] = stats_us(timed(translog.inclusion_proof, idx))
        results["consistency_proof"] = stats_us(timed(translog.consistency_proof, olds))

        registry = assemble_registry(store=store, keys=FileKeyStore(Path(tmp) / "keys"),
                            registry_name="bench", public_url="http://bench.test")
        registry.checkpoint()  # creates the log key outside the timings
        results["registry_inclusion"] = stats_us(
            timed(registry.inclusion, [(i, s) for _, i, s in idx]))
        results["registry_consistency"] = stats_us(
            timed(registry.consistency, [(o, s) for _, o, s in olds]))
        for name in ("inclusion_proof", "consistency_proof", "registry_inclusion",
                     "registry_consistency"):
            print(f"{name} at {size:,}: {results[name]}")

        key, origin = registry.keys.log_key(datetime.now(UTC), registry.log_origin)
        checkpoints: dict[str, Any] = {}
        for label, at in (("at_size", size), ("high_popcount", high_popcount_below(size))):
            heads = timed(translog.tree_hash, [(read, at)] * 200)
            root = translog.tree_hash(read, at)
            signing = []
            for _ in range(200):
                t0 = time.perf_counter()
                sign_checkpoint(Checkpoint(origin, at, root), key, name=origin)
                signing.append(time.perf_counter() - t0)
            checkpoints[label] = {"size": at, "one_bits": bin(at).count("1"),
                                  "tree_head": stats_us(heads), "sign": stats_us(signing)}
        uncached = []
        for _ in range(200):
            registry._log._checkpoints.clear()  # time the checkpoint cache miss
            t0 = time.perf_counter()
            registry.checkpoint()
            uncached.append(time.perf_counter() - t0)
        checkpoints["registry_checkpoint_uncached"] = stats_us(uncached)
        results["checkpoint"] = checkpoints
        print(f"checkpoint: {json.dumps(checkpoints)}")
        store.close()

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
