"""The default ``Store``: one SQLite file in WAL mode, a connection per thread.

Writes take SQLite's write lock up front (``BEGIN IMMEDIATE``) so two processes publishing the
same slug are serialised and version numbers never collide; readers never block. A
``generation`` counter, bumped inside every write transaction, lets caches in any process see
that something changed with one cheap read.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from capgraph.errors import CapgraphError
from capgraph.ports import ApiKeyRecord, ArtifactSummary, StoredVersion, VersionBuilder

__all__ = ["SQLiteStore", "StorageError"]

log = logging.getLogger(__name__)

_MIGRATIONS: list[str] = [
    """
    CREATE TABLE artifacts (
        slug TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        score INTEGER NOT NULL,
        latest_version INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX artifacts_type ON artifacts(type, slug);
    CREATE TABLE versions (
        slug TEXT NOT NULL,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        score INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        source_kind TEXT NOT NULL,
        source TEXT NOT NULL,
        passport BLOB NOT NULL,
        key_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        capability_numbers TEXT NOT NULL,
        PRIMARY KEY (slug, version)
    ) WITHOUT ROWID;
    CREATE TABLE integrations (
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        PRIMARY KEY (src, dst)
    ) WITHOUT ROWID;
    CREATE INDEX integrations_dst ON integrations(dst);
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation INTEGER NOT NULL
    );
    INSERT INTO meta (id, generation) VALUES (1, 0);
    """,
]


class StorageError(CapgraphError):
    """The database could not be read or written."""

    code = "storage-error"
    title = "Storage error"


class SQLiteStore:
    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._migrate()

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"could not start a write: {exc}") from exc
        before = conn.total_changes
        try:
            yield conn
            if conn.total_changes != before:
                conn.execute("UPDATE meta SET generation = generation + 1 WHERE id = 1")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(_MIGRATIONS[current:], start=current + 1):
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                log.info("applied migration %d to %s", number, self.path)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- versions ----------------------------------------------------------------------------
    _COLUMNS = ("slug, version, name, type, score, content_hash, source_kind, source, passport, "
                "key_id, created_at, capability_numbers")

    @staticmethod
    def _row(row: tuple[object, ...]) -> StoredVersion:
        (slug, version, name, kind, score, content_hash, source_kind, source, passport, key_id,
         created_at, numbers) = row
        return StoredVersion(
            slug=str(slug), version=int(version), name=str(name),  # type: ignore[call-overload]
            artifact_type=str(kind), score=int(score),  # type: ignore[call-overload]
            content_hash=str(content_hash), source_kind=str(source_kind), source=str(source),
            passport=bytes(passport), key_id=str(key_id),  # type: ignore[call-overload]
            created_at=str(created_at), capability_numbers=json.loads(str(numbers)),
        )

    def append(self, slug: str, build: VersionBuilder) -> tuple[StoredVersion, bool]:
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {self._COLUMNS} FROM versions WHERE slug = ? "
                "ORDER BY version DESC LIMIT 1",
                (slug,),
            ).fetchone()
            latest = self._row(row) if row else None
            number = latest.version + 1 if latest else 1
            new = build(latest, number)
            if new is None:
                assert latest is not None, "a builder may only decline when a version exists"
                return latest, False
            conn.execute(
                f"INSERT INTO versions ({self._COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (slug, number, new.name, new.artifact_type, new.score, new.content_hash,
                 new.source_kind, new.source, new.passport, new.key_id, new.created_at,
                 json.dumps(new.capability_numbers)),
            )
            conn.execute(
                "INSERT INTO artifacts (slug, name, type, score, latest_version, updated_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(slug) DO UPDATE SET name=excluded.name, "
                "type=excluded.type, score=excluded.score, "
                "latest_version=excluded.latest_version, updated_at=excluded.updated_at",
                (slug, new.name, new.artifact_type, new.score, number, new.created_at),
            )
            conn.execute("DELETE FROM integrations WHERE src = ?", (slug,))
            conn.executemany(
                "INSERT OR IGNORE INTO integrations (src, dst) VALUES (?, ?)",
                [(slug, dst) for dst in new.integrations if dst != slug],
            )
            stored = StoredVersion(
                slug=slug, version=number, name=new.name, artifact_type=new.artifact_type,
                score=new.score, content_hash=new.content_hash, source_kind=new.source_kind,
                source=new.source, passport=new.passport, key_id=new.key_id,
                created_at=new.created_at, capability_numbers=dict(new.capability_numbers),
            )
        return stored, True

    def latest(self, slug: str) -> StoredVersion | None:
        row = self._conn().execute(
            f"SELECT {self._COLUMNS} FROM versions WHERE slug = ? ORDER BY version DESC LIMIT 1",
            (slug,),
        ).fetchone()
        return self._row(row) if row else None

    def version(self, slug: str, number: int) -> StoredVersion | None:
        row = self._conn().execute(
            f"SELECT {self._COLUMNS} FROM versions WHERE slug = ? AND version = ?",
            (slug, number),
        ).fetchone()
        return self._row(row) if row else None

    def versions(self, slug: str) -> list[StoredVersion]:
        rows = self._conn().execute(
            f"SELECT {self._COLUMNS} FROM versions WHERE slug = ? ORDER BY version", (slug,)
        ).fetchall()
        return [self._row(r) for r in rows]

    def artifacts(
        self, *, artifact_type: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ArtifactSummary]:
        sql = "SELECT slug, name, type, score, latest_version, updated_at FROM artifacts"
        args: tuple[object, ...] = ()
        if artifact_type is not None:
            sql += " WHERE type = ?"
            args = (artifact_type,)
        sql += " ORDER BY slug LIMIT ? OFFSET ?"
        rows = self._conn().execute(sql, (*args, limit, offset)).fetchall()
        return [ArtifactSummary(*r) for r in rows]

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM artifacts").fetchone()[0])

    def references_to(self, slug: str) -> int:
        row = self._conn().execute(
            "SELECT count(*) FROM integrations WHERE dst = ? AND src != ?", (slug, slug)
        ).fetchone()
        return int(row[0])

    def existing(self, slugs: list[str]) -> list[str]:
        if not slugs:
            return []
        marks = ",".join("?" * len(slugs))
        rows = self._conn().execute(
            f"SELECT slug FROM artifacts WHERE slug IN ({marks})", slugs
        ).fetchall()
        found = {r[0] for r in rows}
        return [s for s in slugs if s in found]

    def generation(self) -> int:
        return int(self._conn().execute("SELECT generation FROM meta WHERE id = 1").fetchone()[0])

    # -- API keys ----------------------------------------------------------------------------
    def add_api_key(self, key_id: str, name: str, secret_hash: str, created_at: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, name, secret_hash, created_at) VALUES (?,?,?,?)",
                (key_id, name, secret_hash, created_at),
            )

    def api_key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        row = self._conn().execute(
            "SELECT key_id, name, created_at, revoked FROM api_keys WHERE secret_hash = ?",
            (secret_hash,),
        ).fetchone()
        return ApiKeyRecord(row[0], row[1], row[2], bool(row[3])) if row else None

    def api_keys(self) -> list[ApiKeyRecord]:
        rows = self._conn().execute(
            "SELECT key_id, name, created_at, revoked FROM api_keys ORDER BY created_at"
        ).fetchall()
        return [ApiKeyRecord(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def revoke_api_key(self, key_id: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute("UPDATE api_keys SET revoked = 1 WHERE key_id = ?", (key_id,))
            return cursor.rowcount > 0

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
