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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from capgraph.core import translog
from capgraph.errors import CapgraphError
from capgraph.ports import (
    ApiKeyRecord,
    ArtifactSummary,
    FeedbackRecord,
    StoredVersion,
    VersionBuilder,
)
from capgraph.search.cards import card_json
from capgraph.search.documents import SearchDoc

__all__ = ["SQLiteStore", "StorageError"]

log = logging.getLogger(__name__)


_CARD_PAGE = 2_000


def _fill_cards(conn: sqlite3.Connection) -> None:
    """Each artifact's compact card, from its latest stored passport (databases written
    before cards were kept). A passport it cannot read keeps no card: readers then use the
    passport itself, as before."""
    after = ""
    while rows := conn.execute(  # in pages: a million passports need not be in memory at once
            "SELECT a.slug, v.passport FROM artifacts a JOIN versions v "
            "ON v.slug = a.slug AND v.version = a.latest_version "
            "WHERE a.slug > ? ORDER BY a.slug LIMIT ?", (after, _CARD_PAGE)).fetchall():
        cards = []
        for slug, passport in rows:
            try:
                cards.append((card_json(json.loads(bytes(passport))["unfragile"]), str(slug)))
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                log.warning("no compact card for %s: %r", slug, exc)
        conn.executemany("UPDATE artifacts SET card = ? WHERE slug = ?", cards)
        after = str(rows[-1][0])


# Append only: a database records how many it has applied. Each is SQL or, where data must be
# derived in Python, a function run in the same transaction.
_MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
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
        log_index INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (slug, version)
    ) WITHOUT ROWID;
    CREATE TABLE log_leaves (
        idx INTEGER PRIMARY KEY,
        data BLOB NOT NULL
    );
    CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
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
    CREATE VIRTUAL TABLE capability_fts USING fts5(
        slug UNINDEXED, cap_id UNINDEXED, type UNINDEXED, name, intents, body, artifact,
        tokenize = 'porter unicode61'
    );
    """,
    """
    CREATE TABLE capability_vectors (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        type TEXT NOT NULL,
        vec BLOB
    );
    CREATE TABLE capability_intents (
        intent TEXT NOT NULL,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        type TEXT NOT NULL,
        PRIMARY KEY (intent, slug, cap_id)
    ) WITHOUT ROWID;
    CREATE INDEX capability_intents_slug ON capability_intents(slug);
    """,
    """
    CREATE TABLE feedback (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ref TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        intent TEXT NOT NULL,
        intent_vec BLOB,
        outcome TEXT NOT NULL,
        clicked INTEGER,
        source TEXT,
        comment TEXT,
        confidence REAL NOT NULL,
        client TEXT NOT NULL,
        counted INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX feedback_slug ON feedback(slug, counted);
    CREATE INDEX feedback_client ON feedback(client, slug, created_at);
    """,
    """
    CREATE TABLE capability_fts_rows (
        slug TEXT NOT NULL,
        fts_rowid INTEGER NOT NULL,
        PRIMARY KEY (slug, fts_rowid)
    ) WITHOUT ROWID;
    INSERT INTO capability_fts_rows (slug, fts_rowid) SELECT slug, rowid FROM capability_fts;
    """,
    # The keyword index moved out of SQLite (FTS5 any-word queries took 213 ms at 1M
    # capabilities) into tantivy, fed by this append-only log like the vector index.
    """
    CREATE TABLE keyword_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        intents TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        artifact TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO keyword_log (slug, cap_id, type, name, intents, body, artifact)
        SELECT slug, cap_id, type, name, intents, body, artifact FROM capability_fts
        ORDER BY rowid;
    DROP TABLE capability_fts_rows;
    DROP TABLE capability_fts;
    """,
    "ALTER TABLE artifacts ADD COLUMN card TEXT NOT NULL DEFAULT ''",
    _fill_cards,
]


_EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events.resolves (
    resolve_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    cap_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    confidence REAL NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (resolve_id, slug)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events.matches (
    match_id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    cap_id TEXT NOT NULL,
    query TEXT NOT NULL,
    confidence REAL NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
"""


class StorageError(CapgraphError):
    """The database could not be read or written."""

    code = "storage-error"
    title = "Storage error"


class SQLiteStore:
    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.events_path = self.path.with_name(self.path.stem + "-events.db")
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
            # FULL: a commit is on disk before the publish is acknowledged, so a checkpoint
            # that was served can never be lost to a power failure (a monitor would then see
            # a rewritten log). NORMAL survives a killed process but not a lost OS.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Resolve and search-match records: one per request, so they live in a database
            # of their own that commits without an fsync (a lost record only means a late
            # report about it is refused). Reports themselves go to the main database.
            conn.execute("ATTACH DATABASE ? AS events", (str(self.events_path),))
            conn.execute("PRAGMA events.journal_mode = WAL")
            conn.execute("PRAGMA events.synchronous = NORMAL")
            conn.executescript(_EVENTS_SCHEMA)
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
            for number, step in enumerate(_MIGRATIONS[current:], start=current + 1):
                if isinstance(step, str):
                    for statement in filter(str.strip, step.split(";")):
                        conn.execute(statement)
                else:
                    step(conn)
                conn.execute(f"PRAGMA user_version = {number}")
                log.info("applied migration %d to %s", number, self.path)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- versions ----------------------------------------------------------------------------
    _COLUMNS = ("slug, version, name, type, score, content_hash, source_kind, source, passport, "
                "key_id, created_at, capability_numbers, log_index")

    @staticmethod
    def _row(row: tuple[object, ...]) -> StoredVersion:
        (slug, version, name, kind, score, content_hash, source_kind, source, passport, key_id,
         created_at, numbers, log_index) = row
        return StoredVersion(
            slug=str(slug), version=int(version), name=str(name),  # type: ignore[call-overload]
            artifact_type=str(kind), score=int(score),  # type: ignore[call-overload]
            content_hash=str(content_hash), source_kind=str(source_kind), source=str(source),
            passport=bytes(passport), key_id=str(key_id),  # type: ignore[call-overload]
            created_at=str(created_at), capability_numbers=json.loads(str(numbers)),
            log_index=int(log_index),  # type: ignore[call-overload]
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
            log_index = self._log_append(conn, new.log_leaf)
            conn.execute(
                f"INSERT INTO versions ({self._COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (slug, number, new.name, new.artifact_type, new.score, new.content_hash,
                 new.source_kind, new.source, new.passport, new.key_id, new.created_at,
                 json.dumps(new.capability_numbers), log_index),
            )
            conn.execute(
                "INSERT INTO artifacts (slug, name, type, score, latest_version, updated_at, "
                "card) VALUES (?,?,?,?,?,?,?) ON CONFLICT(slug) DO UPDATE SET "
                "name=excluded.name, type=excluded.type, score=excluded.score, "
                "latest_version=excluded.latest_version, updated_at=excluded.updated_at, "
                "card=excluded.card",
                (slug, new.name, new.artifact_type, new.score, number, new.created_at, new.card),
            )
            self._index(conn, slug, new.artifact_type, new.search_docs, new.vectors)
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
                log_index=log_index,
            )
        return stored, True


    @staticmethod
    def _index(conn: sqlite3.Connection, slug: str, artifact_type: str, docs: list[SearchDoc],
               vectors: list[tuple[str, bytes]] | None) -> None:
        """Write an artifact's index entries inside the caller's transaction."""
        conn.execute("DELETE FROM capability_intents WHERE slug = ?", (slug,))
        conn.executemany(
            "INSERT OR IGNORE INTO capability_intents (intent, slug, cap_id, type) "
            "VALUES (?, ?, ?, ?)",
            [(intent, slug, d.cap_id, artifact_type) for d in docs
             for intent in d.declared_intents if intent],
        )
        conn.execute("INSERT INTO keyword_log (slug, cap_id, type) VALUES (?, '', ?)",
                     (slug, artifact_type))
        conn.executemany(
            "INSERT INTO keyword_log (slug, cap_id, type, name, intents, body, artifact) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(slug, d.cap_id, artifact_type, d.name, d.intents, d.body, d.artifact)
             for d in docs],
        )
        if vectors is not None:
            conn.execute(
                "INSERT INTO capability_vectors (slug, cap_id, type, vec) VALUES (?,'',?,NULL)",
                (slug, artifact_type),
            )
            conn.executemany(
                "INSERT INTO capability_vectors (slug, cap_id, type, vec) VALUES (?,?,?,?)",
                [(slug, cap_id, artifact_type, vec) for cap_id, vec in vectors],
            )

    def reindex(self, slug: str, artifact_type: str, docs: list[SearchDoc],
                vectors: list[tuple[str, bytes]] | None) -> None:
        with self._write() as conn:
            self._index(conn, slug, artifact_type, docs, vectors)

    def latest_cards(self, slugs: list[str]) -> dict[str, tuple[int, int, str]]:
        out: dict[str, tuple[int, int, str]] = {}
        conn = self._conn()
        for start in range(0, len(slugs), 500):
            chunk = slugs[start : start + 500]
            rows = conn.execute(
                "SELECT slug, latest_version, score, card FROM artifacts WHERE slug IN "
                f"({','.join('?' * len(chunk))})", chunk,
            ).fetchall()
            out.update((str(r[0]), (int(r[1]), int(r[2]), str(r[3]))) for r in rows)
        return out

    # -- keyword index -----------------------------------------------------------------------
    def keyword_changes(
        self, since: int, *, limit: int
    ) -> list[tuple[int, str, str, str, str, str, str, str]]:
        rows = self._conn().execute(
            "SELECT seq, slug, cap_id, type, name, intents, body, artifact FROM keyword_log "
            "WHERE seq > ? ORDER BY seq LIMIT ?", (since, limit),
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]),
                 str(r[7])) for r in rows]

    def intent_matches(self, intent: str, *, artifact_type: str | None = None
                       ) -> list[tuple[str, str]]:
        sql = "SELECT slug, cap_id FROM capability_intents WHERE intent = ?"
        args: list[object] = [intent]
        if artifact_type is not None:
            sql += " AND type = ?"
            args.append(artifact_type)
        return [(str(r[0]), str(r[1])) for r in self._conn().execute(sql, args).fetchall()]

    # -- outcomes ------------------------------------------------------------------------------
    def record_resolve(self, resolve_id: str, intent: str, created_at: str,
                       items: list[tuple[str, str, float]]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR IGNORE INTO events.resolves (resolve_id, slug, cap_id, intent, "
                "confidence, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(resolve_id, slug, cap, intent, conf, created_at) for slug, cap, conf in items],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def resolve_record(self, resolve_id: str, slug: str) -> tuple[str, str, float] | None:
        row = self._conn().execute(
            "SELECT cap_id, intent, confidence FROM events.resolves "
            "WHERE resolve_id = ? AND slug = ?", (resolve_id, slug),
        ).fetchone()
        return (str(row[0]), str(row[1]), float(row[2])) if row else None

    def record_matches(self, rows: list[tuple[str, str, str, str, float, str]]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR IGNORE INTO events.matches (match_id, slug, cap_id, query, "
                "confidence, created_at) VALUES (?, ?, ?, ?, ?, ?)", rows,
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def match_record(self, match_id: str) -> tuple[str, str, str, float] | None:
        row = self._conn().execute(
            "SELECT slug, cap_id, query, confidence FROM events.matches WHERE match_id = ?",
            (match_id,),
        ).fetchone()
        return (str(row[0]), str(row[1]), str(row[2]), float(row[3])) if row else None

    def add_feedback(self, record: FeedbackRecord, *, per_client_cap: int, since: str,
                     same_client: Sequence[str] = ()) -> tuple[bool, bool]:
        clients = list(dict.fromkeys([record.client, *same_client]))
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM feedback WHERE ref = ?", (record.ref,)).fetchone():
                return False, False
            used = conn.execute(
                f"SELECT count(*) FROM feedback WHERE client IN ({','.join('?' * len(clients))})"
                " AND slug = ? AND counted = 1 AND created_at >= ?",
                (*clients, record.slug, since),
            ).fetchone()[0]
            counted = int(used) < per_client_cap
            conn.execute(
                "INSERT INTO feedback (ref, kind, slug, cap_id, intent, intent_vec, outcome, "
                "clicked, source, comment, confidence, client, counted, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.ref, record.kind, record.slug, record.cap_id, record.intent,
                 record.intent_vec, record.outcome, record.clicked, record.source,
                 record.comment, record.confidence, record.client, int(counted),
                 record.created_at),
            )
        return True, counted

    def counted_feedback(self, slug: str) -> list[tuple[str, str, str, float, str]]:
        rows = self._conn().execute(
            "SELECT cap_id, outcome, intent, confidence, created_at FROM feedback "
            "WHERE slug = ? AND counted = 1 ORDER BY seq", (slug,),
        ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4])) for r in rows]

    def feedback_changes(self, since: int, *, limit: int
                         ) -> list[tuple[int, str, str, bytes | None, str]]:
        rows = self._conn().execute(
            "SELECT seq, slug, cap_id, intent_vec, outcome FROM feedback "
            "WHERE seq > ? AND counted = 1 ORDER BY seq LIMIT ?", (since, limit),
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else bytes(r[3]),
                 str(r[4])) for r in rows]

    def vector_changes(
        self, since: int, *, limit: int
    ) -> list[tuple[int, str, str, str, bytes | None]]:
        rows = self._conn().execute(
            "SELECT seq, slug, cap_id, type, vec FROM capability_vectors WHERE seq > ? "
            "ORDER BY seq LIMIT ?", (since, limit),
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]),
                 None if r[4] is None else bytes(r[4])) for r in rows]

    # -- transparency log --------------------------------------------------------------------
    @staticmethod
    def _size(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT max(idx) FROM log_leaves").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    @staticmethod
    def _node(conn: sqlite3.Connection, level: int, index: int) -> bytes:
        row = conn.execute(
            "SELECT hash FROM log_nodes WHERE level = ? AND idx = ?", (level, index)
        ).fetchone()
        if row is None:
            raise StorageError(f"log node ({level}, {index}) is missing")
        return bytes(row[0])

    def _log_append(self, conn: sqlite3.Connection, data: bytes) -> int:
        """Append a leaf inside the caller's write transaction; return its index."""
        size = self._size(conn)
        nodes = translog.new_nodes(
            size, translog.leaf_hash(data), lambda lv, ix: self._node(conn, lv, ix)
        )
        conn.execute("INSERT INTO log_leaves (idx, data) VALUES (?, ?)", (size, data))
        conn.executemany("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        return size

    def log_size(self) -> int:
        return self._size(self._conn())

    def log_node(self, level: int, index: int) -> bytes:
        return self._node(self._conn(), level, index)

    def log_entries(self, start: int, end: int) -> list[bytes]:
        rows = self._conn().execute(
            "SELECT data FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

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
