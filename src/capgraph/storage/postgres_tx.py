"""The write transaction of ``PostgresStore``, and the reads it shares with the store.

Rows become records with the converters of the SQLite store (the columns are the same).
An insert that may collide uses ``ON CONFLICT DO NOTHING`` and checks what it wrote: a failed
statement would abort the whole PostgreSQL transaction, where SQLite lets it go on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from capgraph.errors import StorageError
from capgraph.ports import (
    ApiKeyRecord,
    ClaimRecord,
    CountedReport,
    FeedbackRecord,
    IntentEntry,
    KeywordEntry,
    LogNode,
    OwnershipRecord,
    PublisherRecord,
    StoredVersion,
    VectorEntry,
)
from capgraph.storage.sqlite_tx import (
    CLAIM_COLUMNS,
    COLUMNS,
    OWNERSHIP_COLUMNS,
    PUBLISHER_COLUMNS,
    ownership_of,
    publisher_of,
    version_of,
)

__all__ = ["Conn", "PgTransaction", "counted_feedback", "latest", "log_node", "log_size",
           "ownership", "publisher"]

Conn = psycopg.Connection[tuple[Any, ...]]


def latest(conn: Conn, slug: str) -> StoredVersion | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM versions WHERE slug = %s ORDER BY version DESC LIMIT 1",
        (slug,)).fetchone()
    return version_of(row) if row else None


def log_size(conn: Conn) -> int:
    row = conn.execute("SELECT max(idx) FROM log_leaves").fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def log_node(conn: Conn, level: int, index: int) -> bytes:
    row = conn.execute("SELECT hash FROM log_nodes WHERE level = %s AND idx = %s",
                       (level, index)).fetchone()
    if row is None:
        raise StorageError(f"log node ({level}, {index}) is missing")
    return bytes(row[0])


def counted_feedback(conn: Conn, slug: str) -> list[CountedReport]:
    rows = conn.execute(
        "SELECT cap_id, outcome, intent, confidence, created_at FROM feedback "
        "WHERE slug = %s AND counted ORDER BY seq", (slug,)).fetchall()
    return [CountedReport(str(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4]))
            for r in rows]


def ownership(conn: Conn, slug: str) -> OwnershipRecord | None:
    row = conn.execute(f"SELECT {OWNERSHIP_COLUMNS} FROM ownership WHERE slug = %s",
                       (slug,)).fetchone()
    return ownership_of(row) if row else None


def publisher(conn: Conn, publisher_id: str) -> PublisherRecord | None:
    row = conn.execute(f"SELECT {PUBLISHER_COLUMNS} FROM publishers WHERE publisher_id = %s",
                       (publisher_id,)).fetchone()
    return publisher_of(row) if row else None


class PgTransaction:
    """``WriteTransaction`` on a connection inside a transaction that holds the ``meta`` row
    lock. ``changed`` says whether any statement wrote a row (the generation then moves)."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn
        self.changed = False

    def _write(self, sql: str, args: Sequence[object] = ()) -> int:
        count = self._conn.execute(sql.encode(), args).rowcount
        if count > 0:
            self.changed = True
        return count

    def _write_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(sql.encode(), rows)
            self.changed = True

    def latest(self, slug: str) -> StoredVersion | None:
        return latest(self._conn, slug)

    def log_size(self) -> int:
        return log_size(self._conn)

    def log_node(self, level: int, index: int) -> bytes:
        return log_node(self._conn, level, index)

    def counted_feedback(self, slug: str) -> list[CountedReport]:
        return counted_feedback(self._conn, slug)

    def feedback_exists(self, ref: str) -> bool:
        return self._conn.execute("SELECT 1 FROM feedback WHERE ref = %s",
                                  (ref,)).fetchone() is not None

    def counted_reports_by(self, clients: Sequence[str], slug: str, *, since: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM feedback WHERE client = ANY(%s) AND slug = %s AND counted "
            "AND created_at >= %s", (list(clients), slug, since)).fetchone()
        return int(row[0]) if row else 0

    def put_log_leaf(self, index: int, data: bytes, nodes: Sequence[LogNode]) -> None:
        if index != log_size(self._conn):
            raise StorageError(f"log leaf {index} is not the next one")
        self._write("INSERT INTO log_leaves (idx, data) VALUES (%s, %s)", (index, data))
        self._write_many("INSERT INTO log_nodes (level, idx, hash) VALUES (%s, %s, %s)",
                         list(nodes))

    def put_version(self, stored: StoredVersion, *, card: str,
                    integrations: Sequence[str]) -> None:
        v = stored
        current = latest(self._conn, v.slug)
        if v.version != (current.version + 1 if current else 1):
            raise StorageError(f"{v.slug} version {v.version} is not the next one")
        self._write(
            f"INSERT INTO versions ({COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (v.slug, v.version, v.name, v.artifact_type, v.score, v.content_hash,
             v.source_kind, v.source, v.passport, v.key_id, v.created_at,
             json.dumps(v.capability_numbers), v.log_index))
        self._write(
            "INSERT INTO artifacts (slug, name, type, score, latest_version, updated_at, card) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (slug) DO UPDATE SET "
            "name = excluded.name, type = excluded.type, score = excluded.score, "
            "latest_version = excluded.latest_version, updated_at = excluded.updated_at, "
            "card = excluded.card",
            (v.slug, v.name, v.artifact_type, v.score, v.version, v.created_at, card))
        self._write("DELETE FROM integrations WHERE src = %s", (v.slug,))
        self._write_many(
            "INSERT INTO integrations (src, dst) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(v.slug, dst) for dst in integrations if dst != v.slug])

    def fill_card(self, slug: str, version: int, card: str) -> None:
        self._write("UPDATE artifacts SET card = %s WHERE slug = %s AND latest_version = %s "
                    "AND card = ''", (card, slug, version))

    def replace_intents(self, slug: str, entries: Sequence[IntentEntry]) -> None:
        self._write("DELETE FROM capability_intents WHERE slug = %s", (slug,))
        self._write_many(
            "INSERT INTO capability_intents (intent, slug, cap_id, type) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", list(entries))

    def add_keyword_entries(self, entries: Sequence[KeywordEntry]) -> None:
        self._write_many(
            "INSERT INTO keyword_log (slug, cap_id, type, name, intents, body, artifact) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)", list(entries))

    def add_vector_entries(self, entries: Sequence[VectorEntry]) -> None:
        self._write_many(
            "INSERT INTO capability_vectors (slug, cap_id, type, vec) VALUES (%s, %s, %s, %s)",
            list(entries))

    def add_feedback(self, record: FeedbackRecord, *, counted: bool) -> None:
        r = record
        wrote = self._write(
            "INSERT INTO feedback (ref, kind, slug, cap_id, intent, intent_vec, outcome, "
            "clicked, source, comment, confidence, client, counted, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (r.ref, r.kind, r.slug, r.cap_id, r.intent, r.intent_vec, r.outcome, r.clicked,
             r.source, r.comment, r.confidence, r.client, counted, r.created_at))
        if not wrote:
            raise StorageError(f"a report on {r.ref} is already stored")

    def add_api_key(self, record: ApiKeyRecord, secret_hash: str) -> None:
        wrote = self._write(
            "INSERT INTO api_keys (key_id, name, secret_hash, created_at, revoked, "
            "publisher_id) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (record.key_id, record.name, secret_hash, record.created_at, record.revoked,
             record.publisher_id))
        if not wrote:
            raise StorageError(f"API key {record.key_id} is already stored")

    def revoke_api_key(self, key_id: str) -> bool:
        return self._write("UPDATE api_keys SET revoked = TRUE WHERE key_id = %s",
                           (key_id,)) > 0

    def ownership(self, slug: str) -> OwnershipRecord | None:
        return ownership(self._conn, slug)

    def publisher(self, publisher_id: str) -> PublisherRecord | None:
        return publisher(self._conn, publisher_id)

    def add_publisher(self, record: PublisherRecord) -> None:
        wrote = self._write(
            f"INSERT INTO publishers ({PUBLISHER_COLUMNS}) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (record.publisher_id, record.name, record.created_at, record.domain))
        if not wrote:
            raise StorageError(f"publisher {record.publisher_id} is already stored")

    def put_ownership(self, record: OwnershipRecord) -> None:
        self._write(
            f"INSERT INTO ownership ({OWNERSHIP_COLUMNS}) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (slug) DO UPDATE SET owner = excluded.owner, "
            "maintainers = excluded.maintainers, verification = excluded.verification, "
            "updated_at = excluded.updated_at",
            (record.slug, record.owner, json.dumps(list(record.maintainers)),
             None if record.verification is None else json.dumps(record.verification),
             record.updated_at))

    def add_claim(self, record: ClaimRecord) -> None:
        wrote = self._write(
            f"INSERT INTO claims ({CLAIM_COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (record.claim_id, record.kind, record.subject, record.method, record.token,
             record.publisher_id, record.created_at, record.expires_at, record.status))
        if not wrote:
            raise StorageError(f"claim {record.claim_id} is already stored")

    def set_claim_status(self, claim_id: str, status: str) -> None:
        if not self._write("UPDATE claims SET status = %s WHERE claim_id = %s",
                           (status, claim_id)):
            raise StorageError(f"no claim {claim_id}")
