"""The default ``Store``: one SQLite file in WAL mode, a connection per thread.

Write transactions take SQLite's write lock up front (``BEGIN IMMEDIATE``), so every write of
every thread and process is serialised (version numbers and log indexes never collide);
readers never block. A
``generation`` counter, bumped inside every write transaction, lets caches in any process see
that something changed with one cheap read.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from capgraph.errors import StorageError
from capgraph.ports import (
    ApiKeyRecord,
    ArtifactCard,
    ArtifactSummary,
    ClaimRecord,
    CountedReport,
    FeedbackChange,
    IntentMatch,
    KeywordChange,
    MatchRecord,
    OwnershipRecord,
    PublisherRecord,
    ResolveRecord,
    StoredVersion,
    VectorChange,
)
from capgraph.storage import complete_nodes, sqlite_tx
from capgraph.storage.sqlite_schema import EVENTS_SCHEMA, MIGRATIONS
from capgraph.storage.sqlite_tx import COLUMNS, Transaction, version_of

__all__ = ["SQLiteStore"]

log = logging.getLogger(__name__)


class SQLiteStore:
    """One database file (and an events file beside it), a connection per thread."""

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
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise StorageError(f"could not open {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        self._use_wal(conn, "main")
        # FULL: a commit is on disk before the publish is acknowledged, so a checkpoint
        # that was served can never be lost to a power failure (a monitor would then see
        # a rewritten log). NORMAL survives a killed process but not a lost OS.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Resolve and search-match records: one per request, so they live in a database
        # of their own that commits without an fsync (a lost record only means a late
        # report about it is refused). Reports themselves go to the main database.
        conn.execute("ATTACH DATABASE ? AS events", (str(self.events_path),))
        self._use_wal(conn, "events")
        conn.execute("PRAGMA events.synchronous = NORMAL")
        conn.executescript(EVENTS_SCHEMA)
        return conn

    def _use_wal(self, conn: sqlite3.Connection, schema: str) -> None:
        """Switch a database to WAL. A new file's first switch needs an exclusive lock, which
        SQLite does not wait for when two connections race for it (waiting could deadlock):
        processes opening a new file at once retry here, within the busy timeout."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                conn.execute(f"PRAGMA {schema}.journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding SQLite's write lock from its start: writers of every
        thread and process are serialised, readers never block."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"could not start a write: {exc}") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        with self._immediate() as conn:
            before = conn.total_changes
            yield Transaction(conn)
            if conn.total_changes != before:
                conn.execute("UPDATE meta SET generation = generation + 1 WHERE id = 1")

    def _owner_only(self) -> None:
        """The database files hold API-key hashes, feedback and intents: readable by their
        owner only. SQLite creates a file with the umask's mode (0644 usually) and gives a
        database's -wal and -shm files its mode, so both databases are made (or tightened)
        0600 before SQLite first opens them."""
        for path in (self.path, self.events_path):
            # Created only when missing: closing any descriptor of a file this process has
            # open in SQLite would drop SQLite's POSIX locks on it (and so corrupt it).
            with suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.chmod(path, 0o600)
            for suffix in ("-wal", "-shm"):
                sidecar = path.with_name(path.name + suffix)
                if sidecar.exists():
                    os.chmod(sidecar, 0o600)

    def _migrate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._owner_only()
        with self._immediate() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, step in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in filter(str.strip, step.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                log.info("applied migration %d to %s", number, self.path)

    # -- versions ----------------------------------------------------------------------------
    def latest(self, slug: str) -> StoredVersion | None:
        return sqlite_tx.latest(self._conn(), slug)

    def version(self, slug: str, number: int) -> StoredVersion | None:
        row = self._conn().execute(
            f"SELECT {COLUMNS} FROM versions WHERE slug = ? AND version = ?", (slug, number),
        ).fetchone()
        return version_of(row) if row else None

    def versions(self, slug: str) -> list[StoredVersion]:
        rows = self._conn().execute(
            f"SELECT {COLUMNS} FROM versions WHERE slug = ? ORDER BY version", (slug,)
        ).fetchall()
        return [version_of(r) for r in rows]

    def artifacts(self, *, artifact_type: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[ArtifactSummary]:
        sql = "SELECT slug, name, type, score, latest_version, updated_at FROM artifacts"
        args: tuple[object, ...] = ()
        if artifact_type is not None:
            sql += " WHERE type = ?"
            args = (artifact_type,)
        sql += " ORDER BY slug LIMIT ? OFFSET ?"
        rows = self._conn().execute(sql, (*args, limit, offset)).fetchall()
        return [ArtifactSummary(*r) for r in rows]

    def count(self, *, artifact_type: str | None = None) -> int:
        if artifact_type is None:
            row = self._conn().execute("SELECT count(*) FROM artifacts").fetchone()
        else:
            row = self._conn().execute("SELECT count(*) FROM artifacts WHERE type = ?",
                                       (artifact_type,)).fetchone()
        return int(row[0])

    def references_to(self, slug: str) -> int:
        row = self._conn().execute(
            "SELECT count(*) FROM integrations WHERE dst = ? AND src != ?", (slug, slug)
        ).fetchone()
        return int(row[0])

    def referrers(self, slug: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT src FROM integrations WHERE dst = ? AND src != ? ORDER BY src", (slug, slug)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def existing(self, slugs: Sequence[str]) -> list[str]:
        found: set[str] = set()
        for start in range(0, len(slugs), 500):
            chunk = list(slugs[start:start + 500])
            rows = self._conn().execute(
                f"SELECT slug FROM artifacts WHERE slug IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update(str(r[0]) for r in rows)
        return [s for s in slugs if s in found]

    def latest_cards(self, slugs: Sequence[str]) -> dict[str, ArtifactCard]:
        out: dict[str, ArtifactCard] = {}
        conn = self._conn()
        for start in range(0, len(slugs), 500):
            chunk = list(slugs[start:start + 500])
            rows = conn.execute(
                "SELECT slug, latest_version, score, card FROM artifacts WHERE slug IN "
                f"({','.join('?' * len(chunk))})", chunk,
            ).fetchall()
            out.update((str(r[0]), ArtifactCard(int(r[1]), int(r[2]), str(r[3])))
                       for r in rows)
        return out

    def slugs_without_card(self, *, after: str, limit: int) -> list[str]:
        rows = self._conn().execute(
            "SELECT slug FROM artifacts WHERE card = '' AND slug > ? ORDER BY slug LIMIT ?",
            (after, limit),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def generation(self) -> int:
        return int(self._conn().execute("SELECT generation FROM meta WHERE id = 1").fetchone()[0])

    # -- transparency log --------------------------------------------------------------------
    def log_size(self) -> int:
        return sqlite_tx.log_size(self._conn())

    def log_node(self, level: int, index: int) -> bytes:
        return sqlite_tx.log_node(self._conn(), level, index)

    def log_entries(self, start: int, end: int) -> list[bytes]:
        rows = self._conn().execute(
            "SELECT data FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def log_nodes(self, level: int, start: int, end: int) -> list[bytes]:
        rows = self._conn().execute(
            "SELECT hash FROM log_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (level, start, end),
        ).fetchall()
        return complete_nodes([bytes(r[0]) for r in rows], level, start, end)

    # -- index feeds -------------------------------------------------------------------------
    def keyword_changes(self, since: int, *, limit: int) -> list[KeywordChange]:
        rows = self._conn().execute(
            "SELECT seq, slug, cap_id, type, name, intents, body, artifact FROM keyword_log "
            "WHERE seq > ? ORDER BY seq LIMIT ?", (since, limit),
        ).fetchall()
        return [KeywordChange(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
                              str(r[5]), str(r[6]), str(r[7])) for r in rows]

    def vector_changes(self, since: int, *, limit: int) -> list[VectorChange]:
        rows = self._conn().execute(
            "SELECT seq, slug, cap_id, type, vec FROM capability_vectors WHERE seq > ? "
            "ORDER BY seq LIMIT ?", (since, limit),
        ).fetchall()
        return [VectorChange(int(r[0]), str(r[1]), str(r[2]), str(r[3]),
                             None if r[4] is None else bytes(r[4])) for r in rows]

    def feedback_changes(self, since: int, *, limit: int) -> list[FeedbackChange]:
        rows = self._conn().execute(
            "SELECT seq, slug, cap_id, intent_vec, outcome FROM feedback "
            "WHERE seq > ? AND counted = 1 ORDER BY seq LIMIT ?", (since, limit),
        ).fetchall()
        return [FeedbackChange(int(r[0]), str(r[1]), str(r[2]),
                               None if r[3] is None else bytes(r[3]), str(r[4])) for r in rows]

    def intent_matches(self, intent: str, *, artifact_type: str | None = None
                       ) -> list[IntentMatch]:
        sql = "SELECT slug, cap_id FROM capability_intents WHERE intent = ?"
        args: list[object] = [intent]
        if artifact_type is not None:
            sql += " AND type = ?"
            args.append(artifact_type)
        rows = self._conn().execute(sql + " ORDER BY slug, cap_id", args).fetchall()
        return [IntentMatch(str(r[0]), str(r[1])) for r in rows]

    # -- events and feedback -----------------------------------------------------------------
    def record_resolves(self, records: Sequence[ResolveRecord]) -> None:
        with self._immediate() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO events.resolves (resolve_id, slug, cap_id, intent, "
                "confidence, created_at) VALUES (?, ?, ?, ?, ?, ?)", records,
            )

    def resolve_record(self, resolve_id: str, slug: str) -> ResolveRecord | None:
        row = self._conn().execute(
            "SELECT resolve_id, slug, cap_id, intent, confidence, created_at "
            "FROM events.resolves WHERE resolve_id = ? AND slug = ?", (resolve_id, slug),
        ).fetchone()
        return (ResolveRecord(str(row[0]), str(row[1]), str(row[2]), str(row[3]),
                              float(row[4]), str(row[5])) if row else None)

    def record_matches(self, records: Sequence[MatchRecord]) -> None:
        with self._immediate() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO events.matches (match_id, slug, cap_id, query, "
                "confidence, created_at) VALUES (?, ?, ?, ?, ?, ?)", records,
            )

    def match_record(self, match_id: str) -> MatchRecord | None:
        row = self._conn().execute(
            "SELECT match_id, slug, cap_id, query, confidence, created_at FROM events.matches "
            "WHERE match_id = ?", (match_id,),
        ).fetchone()
        return (MatchRecord(str(row[0]), str(row[1]), str(row[2]), str(row[3]),
                            float(row[4]), str(row[5])) if row else None)

    def counted_feedback(self, slug: str) -> list[CountedReport]:
        return sqlite_tx.counted_feedback(self._conn(), slug)

    # -- client salts ------------------------------------------------------------------------
    def daily_salt(self, day: str) -> bytes:
        found = self.existing_salt(day)
        if found is not None:
            return found
        with self._immediate() as conn:  # not write(): a salt is no change a cache sees
            conn.execute("INSERT INTO client_salts (day, salt) VALUES (?, ?) "
                         "ON CONFLICT DO NOTHING", (day, os.urandom(32)))
            row = conn.execute("SELECT salt FROM client_salts WHERE day = ?", (day,)).fetchone()
        return bytes(row[0])

    def existing_salt(self, day: str) -> bytes | None:
        row = self._conn().execute("SELECT salt FROM client_salts WHERE day = ?",
                                   (day,)).fetchone()
        return bytes(row[0]) if row else None

    def prune_salts(self, *, before: str) -> int:
        with self._immediate() as conn:
            return conn.execute("DELETE FROM client_salts WHERE day < ?", (before,)).rowcount

    # -- API keys ----------------------------------------------------------------------------
    def api_key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        row = self._conn().execute(
            f"SELECT {sqlite_tx.API_KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?",
            (secret_hash,),
        ).fetchone()
        return sqlite_tx.api_key(row) if row else None

    def api_keys(self) -> list[ApiKeyRecord]:
        rows = self._conn().execute(
            f"SELECT {sqlite_tx.API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, rowid"
        ).fetchall()
        return [sqlite_tx.api_key(r) for r in rows]

    # -- ownership ---------------------------------------------------------------------------
    def publisher(self, publisher_id: str) -> PublisherRecord | None:
        return sqlite_tx.publisher(self._conn(), publisher_id)

    def publishers(self) -> list[PublisherRecord]:
        rows = self._conn().execute(
            f"SELECT {sqlite_tx.PUBLISHER_COLUMNS} FROM publishers ORDER BY created_at, rowid"
        ).fetchall()
        return [sqlite_tx.publisher_of(r) for r in rows]

    def ownership(self, slug: str) -> OwnershipRecord | None:
        return sqlite_tx.ownership(self._conn(), slug)

    def verified_ownerships(self) -> list[OwnershipRecord]:
        rows = self._conn().execute(
            f"SELECT {sqlite_tx.OWNERSHIP_COLUMNS} FROM ownership "
            "WHERE verification IS NOT NULL ORDER BY slug").fetchall()
        return [sqlite_tx.ownership_of(r) for r in rows]

    def claim(self, claim_id: str) -> ClaimRecord | None:
        row = self._conn().execute(
            f"SELECT {sqlite_tx.CLAIM_COLUMNS} FROM claims WHERE claim_id = ?", (claim_id,)
        ).fetchone()
        return sqlite_tx.claim_of(row) if row else None

    def verified_claim(self, slug: str, publisher_id: str) -> ClaimRecord | None:
        row = self._conn().execute(
            f"SELECT {sqlite_tx.CLAIM_COLUMNS} FROM claims WHERE kind = 'artifact' "
            "AND subject = ? AND publisher_id = ? AND status = 'verified' "
            "ORDER BY rowid DESC LIMIT 1", (slug, publisher_id)).fetchone()
        return sqlite_tx.claim_of(row) if row else None

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
