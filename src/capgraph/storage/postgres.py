"""A ``Store`` on PostgreSQL, for several API hosts sharing one system of record.

Connections come from a pool (``psycopg_pool``). Every write transaction first locks the one
``meta`` row (``SELECT ... FOR UPDATE``): writers of every host are serialised, so version
numbers, log indexes and the feed tables' sequence values are handed out one writer at a time,
in commit order; readers never wait for it. Each statement after the lock sees every commit
made before it (READ COMMITTED). The ``generation`` counter in that row moves in every write
transaction that wrote a row, so each host's caches and search indexes (which read it on every
request) see another host's write on their next request.

When the database cannot be reached (down, restarting, every connection busy for
``timeout`` seconds) a call raises ``StorageUnavailable`` (503 with Retry-After over HTTP)
instead of hanging; the pool replaces broken connections on its own. A read that finds its
pooled connection broken (the server restarted) retries once on a fresh one; a write never
retries (it may have committed).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from capgraph.errors import StorageError, StorageUnavailable
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
from capgraph.storage import complete_nodes
from capgraph.storage.postgres_schema import check_schema
from capgraph.storage.postgres_tx import Conn, PgTransaction
from capgraph.storage.sqlite_tx import (
    API_KEY_COLUMNS,
    CLAIM_COLUMNS,
    COLUMNS,
    OWNERSHIP_COLUMNS,
    PUBLISHER_COLUMNS,
    api_key,
    claim_of,
    ownership_of,
    publisher_of,
    version_of,
)

__all__ = ["PostgresStore", "connect"]

log = logging.getLogger(__name__)
Row = tuple[Any, ...]


def connect(url: str, *, timeout: float = 5.0) -> Conn:
    """One autocommit connection (migrations, copies); ``StorageUnavailable`` when the
    server cannot be reached."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout)))
    except psycopg.OperationalError as exc:
        raise StorageUnavailable(f"cannot reach PostgreSQL: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresStore:
    """The registry's tables in one PostgreSQL database (the first schema of its search
    path). The schema must be migrated (``capgraph db migrate``) before it is opened."""

    def __init__(self, url: str, *, pool_size: int = 10, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max(1, pool_size), timeout=timeout, open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout))},
            reconnect_timeout=0, name="capgraph")
        self._pool.open(wait=False)
        try:
            with self._connection() as conn:
                try:
                    check_schema(conn, _redacted(url))
                except psycopg.Error as exc:
                    raise StorageError(f"cannot read the schema version: {exc}") from exc
        except BaseException:
            self._pool.close()  # no pool threads left behind by a store that did not open
            raise

    # -- connections -------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StorageUnavailable(
                f"no PostgreSQL connection within {self._timeout:g} s") from exc
        except psycopg.OperationalError as exc:
            raise StorageUnavailable(f"PostgreSQL is unavailable: {_first_line(exc)}") from exc
        except psycopg.Error as exc:
            raise StorageError(f"PostgreSQL: {_first_line(exc)}") from exc

    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        for attempt in (1, 2):
            try:
                with self._connection() as conn:
                    return conn.execute(sql.encode(), args).fetchall()
            except StorageUnavailable as exc:
                broken = isinstance(exc.__cause__, psycopg.OperationalError) and not \
                    isinstance(exc.__cause__, PoolTimeout)
                if attempt == 2 or not broken:
                    raise
                log.info("retrying a read on a fresh connection: %s", exc.message)
        raise AssertionError("unreachable")

    def _row(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    @contextmanager
    def write(self) -> Iterator[PgTransaction]:
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT generation FROM meta WHERE id = 1 FOR UPDATE")
            tx = PgTransaction(conn)
            yield tx
            if tx.changed:
                conn.execute("UPDATE meta SET generation = generation + 1 WHERE id = 1")

    # -- versions ----------------------------------------------------------------------------
    def latest(self, slug: str) -> StoredVersion | None:
        row = self._row(f"SELECT {COLUMNS} FROM versions WHERE slug = %s "
                        "ORDER BY version DESC LIMIT 1", (slug,))
        return version_of(row) if row else None

    def version(self, slug: str, number: int) -> StoredVersion | None:
        row = self._row(f"SELECT {COLUMNS} FROM versions WHERE slug = %s AND version = %s",
                        (slug, number))
        return version_of(row) if row else None

    def versions(self, slug: str) -> list[StoredVersion]:
        return [version_of(r) for r in self._rows(
            f"SELECT {COLUMNS} FROM versions WHERE slug = %s ORDER BY version", (slug,))]

    def artifacts(self, *, artifact_type: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[ArtifactSummary]:
        sql = "SELECT slug, name, type, score, latest_version, updated_at FROM artifacts"
        args: list[object] = []
        if artifact_type is not None:
            sql += " WHERE type = %s"
            args.append(artifact_type)
        sql += " ORDER BY slug LIMIT %s OFFSET %s"
        return [ArtifactSummary(*r) for r in self._rows(sql, [*args, limit, offset])]

    def count(self, *, artifact_type: str | None = None) -> int:
        if artifact_type is None:
            row = self._row("SELECT count(*) FROM artifacts")
        else:
            row = self._row("SELECT count(*) FROM artifacts WHERE type = %s", (artifact_type,))
        return int(row[0]) if row else 0

    def references_to(self, slug: str) -> int:
        row = self._row("SELECT count(*) FROM integrations WHERE dst = %s AND src != %s",
                        (slug, slug))
        return int(row[0]) if row else 0

    def referrers(self, slug: str) -> list[str]:
        return [str(r[0]) for r in self._rows(
            "SELECT src FROM integrations WHERE dst = %s AND src != %s ORDER BY src",
            (slug, slug))]

    def existing(self, slugs: Sequence[str]) -> list[str]:
        if not slugs:
            return []
        found = {str(r[0]) for r in self._rows(
            "SELECT slug FROM artifacts WHERE slug = ANY(%s)", (list(slugs),))}
        return [s for s in slugs if s in found]

    def latest_cards(self, slugs: Sequence[str]) -> dict[str, ArtifactCard]:
        if not slugs:
            return {}
        rows = self._rows("SELECT slug, latest_version, score, card FROM artifacts "
                          "WHERE slug = ANY(%s)", (list(slugs),))
        return {str(r[0]): ArtifactCard(int(r[1]), int(r[2]), str(r[3])) for r in rows}

    def slugs_without_card(self, *, after: str, limit: int) -> list[str]:
        return [str(r[0]) for r in self._rows(
            "SELECT slug FROM artifacts WHERE card = '' AND slug > %s ORDER BY slug LIMIT %s",
            (after, limit))]

    def generation(self) -> int:
        row = self._row("SELECT generation FROM meta WHERE id = 1")
        if row is None:
            raise StorageError("the meta row is missing")
        return int(row[0])

    # -- transparency log --------------------------------------------------------------------
    def log_size(self) -> int:
        row = self._row("SELECT max(idx) FROM log_leaves")
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def log_node(self, level: int, index: int) -> bytes:
        row = self._row("SELECT hash FROM log_nodes WHERE level = %s AND idx = %s",
                        (level, index))
        if row is None:
            raise StorageError(f"log node ({level}, {index}) is missing")
        return bytes(row[0])

    def log_entries(self, start: int, end: int) -> list[bytes]:
        return [bytes(r[0]) for r in self._rows(
            "SELECT data FROM log_leaves WHERE idx >= %s AND idx < %s ORDER BY idx",
            (start, end))]

    def log_nodes(self, level: int, start: int, end: int) -> list[bytes]:
        rows = self._rows("SELECT hash FROM log_nodes WHERE level = %s AND idx >= %s "
                          "AND idx < %s ORDER BY idx", (level, start, end))
        return complete_nodes([bytes(r[0]) for r in rows], level, start, end)

    # -- index feeds -------------------------------------------------------------------------
    def keyword_changes(self, since: int, *, limit: int) -> list[KeywordChange]:
        rows = self._rows(
            "SELECT seq, slug, cap_id, type, name, intents, body, artifact FROM keyword_log "
            "WHERE seq > %s ORDER BY seq LIMIT %s", (since, limit))
        return [KeywordChange(int(r[0]), *(str(v) for v in r[1:])) for r in rows]

    def vector_changes(self, since: int, *, limit: int) -> list[VectorChange]:
        rows = self._rows(
            "SELECT seq, slug, cap_id, type, vec FROM capability_vectors WHERE seq > %s "
            "ORDER BY seq LIMIT %s", (since, limit))
        return [VectorChange(int(r[0]), str(r[1]), str(r[2]), str(r[3]),
                             None if r[4] is None else bytes(r[4])) for r in rows]

    def feedback_changes(self, since: int, *, limit: int) -> list[FeedbackChange]:
        rows = self._rows(
            "SELECT seq, slug, cap_id, intent_vec, outcome FROM feedback "
            "WHERE seq > %s AND counted ORDER BY seq LIMIT %s", (since, limit))
        return [FeedbackChange(int(r[0]), str(r[1]), str(r[2]),
                               None if r[3] is None else bytes(r[3]), str(r[4])) for r in rows]

    def intent_matches(self, intent: str, *, artifact_type: str | None = None
                       ) -> list[IntentMatch]:
        sql = "SELECT slug, cap_id FROM capability_intents WHERE intent = %s"
        args: list[object] = [intent]
        if artifact_type is not None:
            sql += " AND type = %s"
            args.append(artifact_type)
        return [IntentMatch(str(r[0]), str(r[1]))
                for r in self._rows(sql + " ORDER BY slug, cap_id", args)]

    # -- events and feedback -----------------------------------------------------------------
    def _record(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Event rows: committed without waiting for the disk (like SQLite's events file), a
        lost record only means a late report about it is refused."""
        if not rows:
            return
        with self._connection() as conn, conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            with conn.cursor() as cur:
                cur.executemany(sql.encode(), rows)

    def record_resolves(self, records: Sequence[ResolveRecord]) -> None:
        self._record("INSERT INTO resolves (resolve_id, slug, cap_id, intent, confidence, "
                     "created_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                     list(records))

    def resolve_record(self, resolve_id: str, slug: str) -> ResolveRecord | None:
        row = self._row("SELECT resolve_id, slug, cap_id, intent, confidence, created_at "
                        "FROM resolves WHERE resolve_id = %s AND slug = %s", (resolve_id, slug))
        return (ResolveRecord(str(row[0]), str(row[1]), str(row[2]), str(row[3]),
                              float(row[4]), str(row[5])) if row else None)

    def record_matches(self, records: Sequence[MatchRecord]) -> None:
        self._record("INSERT INTO matches (match_id, slug, cap_id, query, confidence, "
                     "created_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                     list(records))

    def match_record(self, match_id: str) -> MatchRecord | None:
        row = self._row("SELECT match_id, slug, cap_id, query, confidence, created_at "
                        "FROM matches WHERE match_id = %s", (match_id,))
        return (MatchRecord(str(row[0]), str(row[1]), str(row[2]), str(row[3]),
                            float(row[4]), str(row[5])) if row else None)

    def counted_feedback(self, slug: str) -> list[CountedReport]:
        rows = self._rows(
            "SELECT cap_id, outcome, intent, confidence, created_at FROM feedback "
            "WHERE slug = %s AND counted ORDER BY seq", (slug,))
        return [CountedReport(str(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4]))
                for r in rows]

    # -- client salts ------------------------------------------------------------------------
    def daily_salt(self, day: str) -> bytes:
        found = self.existing_salt(day)
        if found is not None:
            return found
        # Two autocommit statements: a host racing this one either inserts first (this
        # insert then waits for its commit and does nothing) or finds this one's row; the
        # read after sees whichever salt won. No meta lock: caches need not see a salt.
        with self._connection() as conn:
            conn.execute("INSERT INTO client_salts (day, salt) VALUES (%s, %s) "
                         "ON CONFLICT DO NOTHING", (day, os.urandom(32)))
            row = conn.execute("SELECT salt FROM client_salts WHERE day = %s",
                               (day,)).fetchone()
        if row is None:
            raise StorageError(f"the salt of {day} vanished as it was made")
        return bytes(row[0])

    def existing_salt(self, day: str) -> bytes | None:
        row = self._row("SELECT salt FROM client_salts WHERE day = %s", (day,))
        return bytes(row[0]) if row else None

    def prune_salts(self, *, before: str) -> int:
        with self._connection() as conn:
            return conn.execute("DELETE FROM client_salts WHERE day < %s", (before,)).rowcount

    # -- API keys ----------------------------------------------------------------------------
    def api_key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        row = self._row(f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE secret_hash = %s",
                        (secret_hash,))
        return api_key(row) if row else None

    def api_keys(self) -> list[ApiKeyRecord]:
        return [api_key(r) for r in self._rows(
            f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, seq")]

    # -- ownership ---------------------------------------------------------------------------
    def publisher(self, publisher_id: str) -> PublisherRecord | None:
        row = self._row(f"SELECT {PUBLISHER_COLUMNS} FROM publishers WHERE publisher_id = %s",
                        (publisher_id,))
        return publisher_of(row) if row else None

    def publishers(self) -> list[PublisherRecord]:
        return [publisher_of(r) for r in self._rows(
            f"SELECT {PUBLISHER_COLUMNS} FROM publishers ORDER BY created_at, seq")]

    def ownership(self, slug: str) -> OwnershipRecord | None:
        row = self._row(f"SELECT {OWNERSHIP_COLUMNS} FROM ownership WHERE slug = %s", (slug,))
        return ownership_of(row) if row else None

    def verified_ownerships(self) -> list[OwnershipRecord]:
        return [ownership_of(r) for r in self._rows(
            f"SELECT {OWNERSHIP_COLUMNS} FROM ownership WHERE verification IS NOT NULL "
            "ORDER BY slug")]

    def claim(self, claim_id: str) -> ClaimRecord | None:
        row = self._row(f"SELECT {CLAIM_COLUMNS} FROM claims WHERE claim_id = %s", (claim_id,))
        return claim_of(row) if row else None

    def verified_claim(self, slug: str, publisher_id: str) -> ClaimRecord | None:
        row = self._row(
            f"SELECT {CLAIM_COLUMNS} FROM claims WHERE kind = 'artifact' AND subject = %s "
            "AND publisher_id = %s AND status = 'verified' ORDER BY seq DESC LIMIT 1",
            (slug, publisher_id))
        return claim_of(row) if row else None

    def close(self) -> None:
        self._pool.close()


def _redacted(url: str) -> str:
    """A connection URL without its password, for messages."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user_pass = head.partition("//")
    return f"{scheme}//{user_pass.split(':', 1)[0]}:***@{tail}"
