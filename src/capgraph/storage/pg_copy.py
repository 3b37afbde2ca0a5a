"""Moving an embedded registry (a SQLite file and its events file) into PostgreSQL.

Every table is copied as it is, in one PostgreSQL transaction holding the write lock (all or
nothing; the target must be empty). The feed tables keep their sequence numbers, so index
snapshots made from the SQLite file stay valid. The proof: the transparency log's root over
the copied nodes equals the root over the original nodes, and both equal the root computed
again from the copied leaves.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from capgraph.core import translog
from capgraph.errors import StorageError
from capgraph.storage.postgres import connect
from capgraph.storage.postgres_schema import migrate
from capgraph.storage.postgres_tx import Conn

__all__ = ["CopyReport", "copy_sqlite_to_postgres"]

# (table, columns, SQLite order, columns of SQLite integers that are booleans here)
_TABLES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("artifacts", "slug, name, type, score, latest_version, updated_at, card", "slug", ()),
    ("versions", "slug, version, name, type, score, content_hash, source_kind, source, "
     "passport, key_id, created_at, capability_numbers, log_index", "slug, version", ()),
    ("log_leaves", "idx, data", "idx", ()),
    ("log_nodes", "level, idx, hash", "level, idx", ()),
    ("integrations", "src, dst", "src, dst", ()),
    ("publishers", "publisher_id, name, created_at, domain", "rowid", ()),
    ("api_keys", "key_id, name, secret_hash, created_at, revoked, publisher_id", "rowid",
     ("revoked",)),
    ("ownership", "slug, owner, maintainers, verification, updated_at", "slug", ()),
    ("claims", "claim_id, kind, subject, method, token, publisher_id, created_at, "
     "expires_at, status", "rowid", ()),
    ("capability_vectors", "seq, slug, cap_id, type, vec", "seq", ()),
    ("capability_intents", "intent, slug, cap_id, type", "intent, slug, cap_id", ()),
    ("keyword_log", "seq, slug, cap_id, type, name, intents, body, artifact", "seq", ()),
    ("feedback", "seq, ref, kind, slug, cap_id, intent, intent_vec, outcome, clicked, "
     "source, comment, confidence, client, counted, created_at", "seq", ("clicked", "counted")),
    ("events.resolves", "resolve_id, slug, cap_id, intent, confidence, created_at",
     "resolve_id, slug", ()),
    ("events.matches", "match_id, slug, cap_id, query, confidence, created_at", "match_id", ()),
    # Copied, though a salt lives two days at most: new salts mid-day would give every client
    # a new id, and the per-client feedback cap would start afresh for the copied reports.
    ("client_salts", "day, salt", "day", ()),
]


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    log_size: int = 0
    source_root: bytes = b""
    target_root: bytes = b""
    leaves_root: bytes = b""

    @property
    def consistent(self) -> bool:
        return self.source_root == self.target_root == self.leaves_root


def _source(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StorageError(f"no SQLite database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    events = path.with_name(path.stem + "-events.db")
    if events.is_file():
        conn.execute("ATTACH DATABASE ? AS events", (f"file:{events}?mode=ro",))
    else:
        conn.execute("ATTACH DATABASE ':memory:' AS events")
        conn.execute("CREATE TABLE events.resolves (resolve_id, slug, cap_id, intent, "
                     "confidence, created_at)")
        conn.execute("CREATE TABLE events.matches (match_id, slug, cap_id, query, confidence, "
                     "created_at)")
    return conn


def _rows(source: sqlite3.Connection, table: str, columns: str, order: str,
          booleans: tuple[str, ...]) -> list[tuple[Any, ...]]:
    names = [c.strip() for c in columns.split(",")]
    flags = [n in booleans for n in names]
    rows = source.execute(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()
    return [tuple(None if v is None else bool(v) if flag else v
                  for v, flag in zip(row, flags, strict=True)) for row in rows]


def _check_empty(target: Conn) -> None:
    for table in ("versions", "log_leaves", "api_keys", "publishers", "feedback"):
        row = target.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
        if row and row[0]:
            raise StorageError(f"the target database is not empty ({table} has rows)")


def _root(read: translog.NodeReader, size: int) -> bytes:
    return translog.tree_hash(read, size)


def copy_sqlite_to_postgres(source_path: Path, target_url: str) -> CopyReport:
    """Copy the registry in ``source_path`` into the (migrated, empty) PostgreSQL database
    at ``target_url``; the counts and the log roots of both sides."""
    source = _source(source_path)
    report = CopyReport()
    try:
        target = connect(target_url)
        try:
            migrate(target)
            with target.transaction():
                generation = target.execute(
                    "SELECT generation FROM meta WHERE id = 1 FOR UPDATE").fetchone()
                _check_empty(target)
                # A host tried on the empty target may have made a salt: no stored report
                # was hashed with it (there are none), so the source's salts replace it
                # (hosts are started on the copy after it, as docs/SCALING.md says).
                target.execute("DELETE FROM client_salts")
                for table, columns, order, booleans in _TABLES:
                    rows = _rows(source, table, columns, order, booleans)
                    name = table.removeprefix("events.")
                    with target.cursor().copy(
                            f"COPY {name} ({columns}) FROM STDIN".encode()) as copy:
                        for row in rows:
                            copy.write_row(row)
                    report.rows[name] = len(rows)
                for name in ("capability_vectors", "keyword_log", "feedback"):
                    target.execute(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'seq'), "
                        f"coalesce((SELECT max(seq) FROM {name}), 0) + 1, false)".encode())
                moved = int(generation[0]) if generation else 0
                target.execute("UPDATE meta SET generation = %s WHERE id = 1", (moved + 1,))
                report.log_size = report.rows["log_leaves"]
                report.source_root = _root(_sqlite_reader(source), report.log_size)
                report.target_root = _root(_pg_reader(target), report.log_size)
                leaves = [bytes(r[0]) for r in target.execute(
                    "SELECT data FROM log_leaves ORDER BY idx").fetchall()]
                report.leaves_root = _leaves_root(leaves)
                if not report.consistent:
                    raise StorageError("the copied log's root differs from the original's: "
                                       "nothing was copied")
        finally:
            target.close()
    except psycopg.Error as exc:
        raise StorageError(f"copy failed, nothing was copied: {exc}") from exc
    finally:
        source.close()
    return report


def _sqlite_reader(conn: sqlite3.Connection) -> translog.NodeReader:
    def read(level: int, index: int) -> bytes:
        row = conn.execute("SELECT hash FROM log_nodes WHERE level = ? AND idx = ?",
                           (level, index)).fetchone()
        if row is None:
            raise StorageError(f"the source log lacks node ({level}, {index})")
        return bytes(row[0])
    return read


def _pg_reader(conn: Conn) -> translog.NodeReader:
    def read(level: int, index: int) -> bytes:
        row = conn.execute("SELECT hash FROM log_nodes WHERE level = %s AND idx = %s",
                           (level, index)).fetchone()
        if row is None:
            raise StorageError(f"the copied log lacks node ({level}, {index})")
        return bytes(row[0])
    return read


def _leaves_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH over the leaf data, level by level (no stored node used)."""
    if not leaves:
        return translog.tree_hash(lambda level, index: b"", 0)
    level = [translog.leaf_hash(leaf) for leaf in leaves]
    while len(level) > 1:
        level = [translog.node_hash(level[i], level[i + 1]) if i + 1 < len(level)
                 else level[i] for i in range(0, len(level), 2)]
    return level[0]
