"""How the per-publish re-index delete scales with the size of the keyword index.

``SQLiteStore._index`` runs ``DELETE FROM capability_fts WHERE slug = ?`` on every publish.
``slug`` is an UNINDEXED column of the FTS5 table, so SQLite scans every row to find the
artifact's rows: the cost grows with the number of capabilities in the registry. This times
that statement on an FTS5 table with capgraph's schema at several sizes, next to a delete by
rowid found through an ordinary indexed table (one way to make it independent of size).

Usage: .venv/bin/python bench/fts_delete_scaling.py [--sizes 1000 10000 100000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from pathlib import Path

SCHEMA = ("CREATE VIRTUAL TABLE capability_fts USING fts5(slug UNINDEXED, cap_id UNINDEXED, "
          "type UNINDEXED, name, intents, body, artifact, tokenize = 'porter unicode61')")
BODY = "extract tables and text from scanned pdf documents with layout analysis " * 6
CAPS_PER_ARTIFACT = 4


def median_ms(conn: sqlite3.Connection, sql: str, slugs: list[str]) -> float:
    samples = []
    for slug in slugs:
        t0 = time.perf_counter()
        conn.execute(sql, (slug,))
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3


def measure(rows: int, repeats: int = 20) -> dict[str, float]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute(SCHEMA)
    artifacts = rows // CAPS_PER_ARTIFACT
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO capability_fts VALUES (?,?,?,?,?,?,?)",
        [(f"artifact-{i // CAPS_PER_ARTIFACT}", f"cap-{i % CAPS_PER_ARTIFACT}", "model",
          "capability name", "an intent; another intent", BODY, "artifact summary")
         for i in range(rows)],
    )
    conn.execute("CREATE TABLE fts_rows (rid INTEGER PRIMARY KEY, slug TEXT NOT NULL)")
    conn.execute("CREATE INDEX fts_rows_slug ON fts_rows(slug)")
    conn.execute("INSERT INTO fts_rows SELECT rowid, slug FROM capability_fts")
    conn.execute("COMMIT")
    picks = [f"artifact-{(k * 7919) % artifacts}" for k in range(repeats * 2)]
    by_slug = median_ms(conn, "DELETE FROM capability_fts WHERE slug = ?", picks[:repeats])
    by_rowid = median_ms(
        conn, "DELETE FROM capability_fts WHERE rowid IN "
              "(SELECT rid FROM fts_rows WHERE slug = ?)", picks[repeats:])
    conn.close()
    return {"rows": rows, "delete_where_slug_ms": round(by_slug, 3),
            "delete_by_indexed_rowid_ms": round(by_rowid, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = [measure(n) for n in args.sizes]
    print(f"sqlite {sqlite3.sqlite_version}; median of 20 deletes of one artifact "
          f"({CAPS_PER_ARTIFACT} rows)")
    print(f"{'FTS rows':>9} {'WHERE slug = ? (ms)':>20} {'by indexed rowid (ms)':>22}")
    for r in results:
        print(f"{r['rows']:>9} {r['delete_where_slug_ms']:>20} "
              f"{r['delete_by_indexed_rowid_ms']:>22}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
