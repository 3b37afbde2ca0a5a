"""SQLite vs PostgreSQL under the same registry: publish throughput, resolve and passport-read
latency, and how long a second host (another Registry on the same PostgreSQL, indexes of its
own) takes to serve and find a write made through the first.

N manifest variants (bench/publish_throughput.py) are published into a fresh registry on each
backend (``build_registry``; PostgreSQL: a fresh database ``capgraph_bench_<random>`` on
``--postgres``, migrated, dropped after), then R resolves of the demo manifests' intents and R
passport reads are timed one by one. Single-threaded, in process: what each store costs per
call, not server throughput.

Usage: .venv/bin/python bench/backends.py [-n 2000] [-r 500] [--embedder none|minilm]
           [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from publish_throughput import demo_manifests, timed_publish, variants

from capgraph.bootstrap import build_embedder, build_registry, migrate_database
from capgraph.config import Settings
from capgraph.registry import Registry


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    at = lambda q: ordered[min(len(ordered) - 1, int(len(ordered) * q))]  # noqa: E731
    return {"p50_ms": round(statistics.median(ordered) * 1e3, 3),
            "p99_ms": round(at(0.99) * 1e3, 3), "count": len(ordered)}


def timed(call: Any, items: list[Any]) -> dict[str, float]:
    samples = []
    for item in items:
        t0 = time.perf_counter()
        call(item)
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def intents(count: int) -> list[str]:
    found = [i for m in demo_manifests() for c in m["capabilities"]
             for i in c.get("intents_served", [])]
    return [found[k % len(found)] for k in range(count)]


def run_backend(name: str, settings: Settings, embedder: Any, n: int, r: int,
                second: Settings | None) -> dict[str, Any]:
    texts = variants(n, "yaml")
    registry = build_registry(settings, embedder=embedder)
    registry.jwks()
    registry.publish(variants(1, "yaml")[0].replace("-bench-000000", "-warmup"), hint="yaml")
    published = timed_publish(registry, texts, "yaml")
    slugs = [f"{t.split('slug: ', 1)[1].split()[0]}" for t in texts[:r]]
    base = "http://127.0.0.1:8000"
    out: dict[str, Any] = {
        "backend": name, "n": n, "publish": published,
        "resolve": timed(lambda i: registry.resolve(i), intents(r)),
        "passport_read": timed(lambda s: registry.envelope_bytes(s, base), slugs),
        "generation_read": timed(lambda _: registry.generation(), list(range(r))),
    }
    if second is not None:
        out["cross_host"] = cross_host(registry, second, embedder, texts, r // 10 or 1)
    registry.close()
    return out


def cross_host(first: Registry, settings: Settings, embedder: Any, texts: list[str],
               rounds: int) -> dict[str, Any]:
    """A second registry on the same database: how long after a publish through the first
    returns until the second serves the passport and finds it by search (its next call)."""
    other = build_registry(settings, embedder=embedder)
    t0 = time.perf_counter()
    other.search("convert a document")  # replays every index log once
    replay = time.perf_counter() - t0
    served, found = [], []
    for k in range(rounds):
        text = texts[k].replace("-bench-", "-xhost-")
        slug = text.split("slug: ", 1)[1].split()[0]
        first.publish(text, hint="yaml")
        t0 = time.perf_counter()
        other.envelope_bytes(slug, "http://127.0.0.1:8000")
        served.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hits = other.search(slug.replace("-", " "), limit=20)
        found.append(time.perf_counter() - t0)
        assert any(m.slug == slug for m in hits.matches), slug
    other.close()
    return {"initial_replay_s": round(replay, 3), "served": percentiles(served),
            "found_by_search": percentiles(found)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("-r", type=int, default=500)
    parser.add_argument("--embedder", default="none", choices=["none", "minilm"])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    database = f"capgraph_bench_{secrets.token_hex(4)}"
    admin = args.postgres
    url = admin.rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"'.encode())
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="capgraph-bench-") as tmp:
            embedder = build_embedder(Settings(data_dir=Path(tmp), embedder=args.embedder))
            sqlite = Settings(data_dir=Path(tmp) / "sqlite", embedder=args.embedder)
            results.append(run_backend("sqlite", sqlite, embedder, args.n, args.r, None))
            pg = Settings(data_dir=Path(tmp) / "pg-a", embedder=args.embedder,
                          database_url=url)
            migrate_database(pg)
            other = Settings(data_dir=Path(tmp) / "pg-b", embedder=args.embedder,
                             database_url=url)
            results.append(run_backend("postgresql", pg, embedder, args.n, args.r, other))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'.encode())
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)


if __name__ == "__main__":
    main()
