"""SQLite rows to records, and the write transaction of ``SQLiteStore``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

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

__all__ = ["COLUMNS", "Transaction", "api_key", "counted_feedback", "latest", "log_node",
           "log_size", "version_of"]

COLUMNS = ("slug, version, name, type, score, content_hash, source_kind, source, passport, "
            "key_id, created_at, capability_numbers, log_index")


def version_of(row: tuple[object, ...]) -> StoredVersion:
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


def latest(conn: sqlite3.Connection, slug: str) -> StoredVersion | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM versions WHERE slug = ? ORDER BY version DESC LIMIT 1", (slug,),
    ).fetchone()
    return version_of(row) if row else None


def log_size(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(idx) FROM log_leaves").fetchone()
    return 0 if row[0] is None else int(row[0]) + 1


def log_node(conn: sqlite3.Connection, level: int, index: int) -> bytes:
    row = conn.execute(
        "SELECT hash FROM log_nodes WHERE level = ? AND idx = ?", (level, index)
    ).fetchone()
    if row is None:
        raise StorageError(f"log node ({level}, {index}) is missing")
    return bytes(row[0])


def counted_feedback(conn: sqlite3.Connection, slug: str) -> list[CountedReport]:
    rows = conn.execute(
        "SELECT cap_id, outcome, intent, confidence, created_at FROM feedback "
        "WHERE slug = ? AND counted = 1 ORDER BY seq", (slug,),
    ).fetchall()
    return [CountedReport(str(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4]))
            for r in rows]


def api_key(row: tuple[object, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(str(row[0]), str(row[1]), str(row[2]), bool(row[3]), str(row[4]))


API_KEY_COLUMNS = "key_id, name, created_at, revoked, publisher_id"
PUBLISHER_COLUMNS = "publisher_id, name, created_at, domain"
OWNERSHIP_COLUMNS = "slug, owner, maintainers, verification, updated_at"
CLAIM_COLUMNS = ("claim_id, kind, subject, method, token, publisher_id, created_at, "
                 "expires_at, status")


def publisher_of(row: tuple[object, ...]) -> PublisherRecord:
    return PublisherRecord(str(row[0]), str(row[1]), str(row[2]),
                           None if row[3] is None else str(row[3]))


def ownership_of(row: tuple[object, ...]) -> OwnershipRecord:
    return OwnershipRecord(str(row[0]), str(row[1]), tuple(json.loads(str(row[2]))),
                           None if row[3] is None else json.loads(str(row[3])), str(row[4]))


def claim_of(row: tuple[object, ...]) -> ClaimRecord:
    return ClaimRecord(*(str(v) for v in row))


def ownership(conn: sqlite3.Connection, slug: str) -> OwnershipRecord | None:
    row = conn.execute(f"SELECT {OWNERSHIP_COLUMNS} FROM ownership WHERE slug = ?",
                       (slug,)).fetchone()
    return ownership_of(row) if row else None


def publisher(conn: sqlite3.Connection, publisher_id: str) -> PublisherRecord | None:
    row = conn.execute(f"SELECT {PUBLISHER_COLUMNS} FROM publishers WHERE publisher_id = ?",
                       (publisher_id,)).fetchone()
    return publisher_of(row) if row else None


class Transaction:
    """``WriteTransaction`` on a connection inside ``BEGIN IMMEDIATE``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def latest(self, slug: str) -> StoredVersion | None:
        return latest(self._conn, slug)

    def log_size(self) -> int:
        return log_size(self._conn)

    def log_node(self, level: int, index: int) -> bytes:
        return log_node(self._conn, level, index)

    def counted_feedback(self, slug: str) -> list[CountedReport]:
        return counted_feedback(self._conn, slug)

    def feedback_exists(self, ref: str) -> bool:
        return self._conn.execute("SELECT 1 FROM feedback WHERE ref = ?", (ref,)).fetchone() \
            is not None

    def counted_reports_by(self, clients: Sequence[str], slug: str, *, since: str) -> int:
        marks = ",".join("?" * len(clients))
        row = self._conn.execute(
            f"SELECT count(*) FROM feedback WHERE client IN ({marks}) AND slug = ? "
            "AND counted = 1 AND created_at >= ?", (*clients, slug, since),
        ).fetchone()
        return int(row[0])

    def put_log_leaf(self, index: int, data: bytes, nodes: Sequence[LogNode]) -> None:
        if index != log_size(self._conn):
            raise StorageError(f"log leaf {index} is not the next one")
        self._conn.execute("INSERT INTO log_leaves (idx, data) VALUES (?, ?)", (index, data))
        self._conn.executemany("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)",
                               nodes)

    def put_version(self, stored: StoredVersion, *, card: str,
                    integrations: Sequence[str]) -> None:
        v = stored
        current = latest(self._conn, v.slug)
        if v.version != (current.version + 1 if current else 1):
            raise StorageError(f"{v.slug} version {v.version} is not the next one")
        self._conn.execute(
            f"INSERT INTO versions ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (v.slug, v.version, v.name, v.artifact_type, v.score, v.content_hash,
             v.source_kind, v.source, v.passport, v.key_id, v.created_at,
             json.dumps(v.capability_numbers), v.log_index),
        )
        self._conn.execute(
            "INSERT INTO artifacts (slug, name, type, score, latest_version, updated_at, card) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(slug) DO UPDATE SET name=excluded.name, "
            "type=excluded.type, score=excluded.score, latest_version=excluded.latest_version, "
            "updated_at=excluded.updated_at, card=excluded.card",
            (v.slug, v.name, v.artifact_type, v.score, v.version, v.created_at, card),
        )
        self._conn.execute("DELETE FROM integrations WHERE src = ?", (v.slug,))
        self._conn.executemany("INSERT OR IGNORE INTO integrations (src, dst) VALUES (?, ?)",
                               [(v.slug, dst) for dst in integrations if dst != v.slug])

    def fill_card(self, slug: str, version: int, card: str) -> None:
        self._conn.execute(
            "UPDATE artifacts SET card = ? WHERE slug = ? AND latest_version = ? AND card = ''",
            (card, slug, version),
        )

    def replace_intents(self, slug: str, entries: Sequence[IntentEntry]) -> None:
        self._conn.execute("DELETE FROM capability_intents WHERE slug = ?", (slug,))
        self._conn.executemany(
            "INSERT OR IGNORE INTO capability_intents (intent, slug, cap_id, type) "
            "VALUES (?, ?, ?, ?)", entries,
        )

    def add_keyword_entries(self, entries: Sequence[KeywordEntry]) -> None:
        self._conn.executemany(
            "INSERT INTO keyword_log (slug, cap_id, type, name, intents, body, artifact) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", entries,
        )

    def add_vector_entries(self, entries: Sequence[VectorEntry]) -> None:
        self._conn.executemany(
            "INSERT INTO capability_vectors (slug, cap_id, type, vec) VALUES (?, ?, ?, ?)",
            entries,
        )

    def add_feedback(self, record: FeedbackRecord, *, counted: bool) -> None:
        r = record
        try:
            self._conn.execute(
                "INSERT INTO feedback (ref, kind, slug, cap_id, intent, intent_vec, outcome, "
                "clicked, source, comment, confidence, client, counted, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (r.ref, r.kind, r.slug, r.cap_id, r.intent, r.intent_vec, r.outcome, r.clicked,
                 r.source, r.comment, r.confidence, r.client, int(counted), r.created_at),
            )
        except sqlite3.IntegrityError as exc:
            raise StorageError(f"a report on {r.ref} is already stored") from exc

    def add_api_key(self, record: ApiKeyRecord, secret_hash: str) -> None:
        try:
            self._conn.execute(
                "INSERT INTO api_keys (key_id, name, secret_hash, created_at, revoked, "
                "publisher_id) VALUES (?, ?, ?, ?, ?, ?)",
                (record.key_id, record.name, secret_hash, record.created_at,
                 int(record.revoked), record.publisher_id),
            )
        except sqlite3.IntegrityError as exc:
            raise StorageError(f"API key {record.key_id} is already stored") from exc

    def revoke_api_key(self, key_id: str) -> bool:
        cursor = self._conn.execute("UPDATE api_keys SET revoked = 1 WHERE key_id = ?",
                                    (key_id,))
        return cursor.rowcount > 0

    def ownership(self, slug: str) -> OwnershipRecord | None:
        return ownership(self._conn, slug)

    def publisher(self, publisher_id: str) -> PublisherRecord | None:
        return publisher(self._conn, publisher_id)

    def add_publisher(self, record: PublisherRecord) -> None:
        try:
            self._conn.execute(
                f"INSERT INTO publishers ({PUBLISHER_COLUMNS}) VALUES (?, ?, ?, ?)",
                (record.publisher_id, record.name, record.created_at, record.domain))
        except sqlite3.IntegrityError as exc:
            raise StorageError(f"publisher {record.publisher_id} is already stored") from exc

    def put_ownership(self, record: OwnershipRecord) -> None:
        self._conn.execute(
            f"INSERT OR REPLACE INTO ownership ({OWNERSHIP_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            (record.slug, record.owner, json.dumps(list(record.maintainers)),
             None if record.verification is None else json.dumps(record.verification),
             record.updated_at))

    def add_claim(self, record: ClaimRecord) -> None:
        try:
            self._conn.execute(
                f"INSERT INTO claims ({CLAIM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.claim_id, record.kind, record.subject, record.method, record.token,
                 record.publisher_id, record.created_at, record.expires_at, record.status))
        except sqlite3.IntegrityError as exc:
            raise StorageError(f"claim {record.claim_id} is already stored") from exc

    def set_claim_status(self, claim_id: str, status: str) -> None:
        cursor = self._conn.execute("UPDATE claims SET status = ? WHERE claim_id = ?",
                                    (status, claim_id))
        if cursor.rowcount == 0:
            raise StorageError(f"no claim {claim_id}")
