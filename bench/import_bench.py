"""Importing a large model catalog, and listing /v0.1 servers, on a SQLite file.

    .venv/bin/python bench/import_bench.py -n 1000 --servers 300

Prints: a catalog of N synthetic models (OpenRouter shape) imported entry by entry (first
time, then again: every entry unchanged), and S server.json imports then a full walk of
``GET /v0.1/servers`` pages through the Registry (limit 100). Keyword search only (the
embedder costs the same per capability as any publish: BENCHMARKS.md, Foundation).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from capgraph.bootstrap import assemble_registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.sqlite import SQLiteStore


def catalog(n: int) -> bytes:
    return json.dumps({"data": [{
        "id": f"vendor{i % 40}/model-{i}", "name": f"Vendor {i % 40}: Model {i}",
        "description": f"Synthetic model number {i} for the import benchmark, tuned for tests.",
        "context_length": 8192 * (1 + i % 16),
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "pricing": {"prompt": f"0.00000{1 + i % 9}", "completion": f"0.0000{1 + i % 9}"},
    } for i in range(n)]}).encode()


def server(i: int) -> bytes:
    return json.dumps({
        "name": f"io.github.bench{i % 50}/server-{i}", "version": "1.0.0",
        "description": f"Benchmark server {i} that answers synthetic lookups.",
        "repository": {"url": f"https://github.com/bench{i % 50}/server-{i}",
                       "source": "github"},
        "packages": [{"registryType": "npm", "identifier": f"@bench/server-{i}",
                      "version": "1.0.0", "transport": {"type": "stdio"}}]}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        registry = assemble_registry(store=store, keys=FileKeyStore(Path(tmp) / "keys"),
                                     registry_name="bench", public_url="http://bench.test")
        data = catalog(args.n)
        start = time.perf_counter()
        report = registry.import_document(data)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = registry.import_document(data)
        second = time.perf_counter() - start
        print(f"catalog of {args.n} models ({len(data):,} bytes): {report.counts()} in "
              f"{first:.2f} s ({1000 * first / args.n:.2f} ms/model); again "
              f"{again.counts()} in {second:.2f} s ({1000 * second / args.n:.2f} ms/model)")
        start = time.perf_counter()
        for i in range(args.servers):
            registry.import_document(server(i))
        took = time.perf_counter() - start
        print(f"{args.servers} server.json imports: {took:.2f} s "
              f"({1000 * took / args.servers:.2f} ms each)")
        walks = []
        for _ in range(3):
            start = time.perf_counter()
            cursor, pages = None, 0
            while True:
                page = registry.mcp_servers(base_url="http://bench.test", cursor=cursor,
                                            limit=100)
                pages += 1
                cursor = page.next_cursor
                if not cursor:
                    break
            walks.append(time.perf_counter() - start)
        per_page = statistics.median(walks) / pages
        print(f"/v0.1/servers walk over {args.servers} servers: {pages} pages, median "
              f"{statistics.median(walks):.2f} s a walk ({1000 * per_page:.0f} ms a page)")
        store.close()


if __name__ == "__main__":
    main()
