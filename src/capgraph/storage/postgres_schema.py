"""The PostgreSQL store's schema: versioned migrations, applied by ``capgraph db migrate``.

A database records the number of migrations it has applied in ``schema_version``. Migrations
are append only (never edit one that has shipped); each runs in one transaction holding an
advisory lock, so two hosts migrating at once apply each step once. A store refuses a
database whose schema is older than this code (``SchemaOutOfDate``) rather than migrating on
its own: with several hosts, the operator decides when the schema moves.
"""

from __future__ import annotations

import logging

import psycopg

from capgraph.errors import SchemaOutOfDate

__all__ = ["LATEST", "MIGRATIONS", "check_schema", "migrate", "schema_version"]

log = logging.getLogger(__name__)

# The advisory lock every migration holds (any constant shared by all capgraph hosts).
MIGRATION_LOCK = 0x63617067  # "capg"

MIGRATIONS: list[str] = [
    # 1: the schema of SQLite migration 9, in PostgreSQL's types. The feed tables'
    # ``seq`` comes from an identity column: writers are serialised (the ``meta`` row is
    # locked by every write transaction), so sequence values are handed out in commit order
    # and a follower reading ``seq > last`` never skips a row committed later.
    """
    CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation BIGINT NOT NULL
    );
    INSERT INTO meta (id, generation) VALUES (1, 0);
    CREATE TABLE artifacts (
        slug TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        score INTEGER NOT NULL,
        latest_version INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        card TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX artifacts_type ON artifacts (type, slug);
    CREATE INDEX artifacts_without_card ON artifacts (slug) WHERE card = '';
    CREATE TABLE versions (
        slug TEXT NOT NULL,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        score INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        source_kind TEXT NOT NULL,
        source TEXT NOT NULL,
        passport BYTEA NOT NULL,
        key_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        capability_numbers TEXT NOT NULL,
        log_index BIGINT NOT NULL UNIQUE,
        PRIMARY KEY (slug, version)
    );
    CREATE TABLE log_leaves (
        idx BIGINT PRIMARY KEY,
        data BYTEA NOT NULL
    );
    CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        PRIMARY KEY (level, idx)
    );
    CREATE TABLE integrations (
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        PRIMARY KEY (src, dst)
    );
    CREATE INDEX integrations_dst ON integrations (dst);
    CREATE TABLE publishers (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        publisher_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        domain TEXT
    );
    CREATE TABLE api_keys (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT FALSE,
        publisher_id TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE ownership (
        slug TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        maintainers TEXT NOT NULL,
        verification TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX ownership_verified ON ownership (slug) WHERE verification IS NOT NULL;
    CREATE TABLE claims (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        claim_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        method TEXT NOT NULL,
        token TEXT NOT NULL,
        publisher_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        status TEXT NOT NULL
    );
    CREATE INDEX claims_subject ON claims (subject, publisher_id) WHERE kind = 'artifact';
    CREATE TABLE capability_vectors (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        type TEXT NOT NULL,
        vec BYTEA
    );
    CREATE TABLE capability_intents (
        intent TEXT NOT NULL,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        type TEXT NOT NULL,
        PRIMARY KEY (intent, slug, cap_id)
    );
    CREATE INDEX capability_intents_slug ON capability_intents (slug);
    CREATE TABLE keyword_log (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        intents TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        artifact TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE feedback (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ref TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        intent TEXT NOT NULL,
        intent_vec BYTEA,
        outcome TEXT NOT NULL,
        clicked BOOLEAN,
        source TEXT,
        comment TEXT,
        confidence DOUBLE PRECISION NOT NULL,
        client TEXT NOT NULL,
        counted BOOLEAN NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX feedback_slug ON feedback (slug, counted);
    CREATE INDEX feedback_client ON feedback (client, slug, created_at);
    CREATE TABLE resolves (
        resolve_id TEXT NOT NULL,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        intent TEXT NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (resolve_id, slug)
    );
    CREATE TABLE matches (
        match_id TEXT PRIMARY KEY,
        slug TEXT NOT NULL,
        cap_id TEXT NOT NULL,
        query TEXT NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    # 2: the daily salts client addresses are hashed with, shared by every host (they were
    # files in each host's key ring: a client reporting through k hosts was k clients).
    "CREATE TABLE client_salts (day TEXT PRIMARY KEY, salt BYTEA NOT NULL)",
]

LATEST = len(MIGRATIONS)


def schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """How many migrations the database (its first schema on the search path) has applied."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(found[0]) if found else 0  # type: ignore[call-overload]


def check_schema(conn: psycopg.Connection[tuple[object, ...]], where: str) -> None:
    """``SchemaOutOfDate`` unless the database has every migration of this code (and no
    later one this code does not know)."""
    current = schema_version(conn)
    if current < LATEST:
        raise SchemaOutOfDate(
            f"the database {where} has schema version {current}, this capgraph needs "
            f"{LATEST}: run `capgraph db migrate`", current=current, needed=LATEST)
    if current > LATEST:
        raise SchemaOutOfDate(
            f"the database {where} has schema version {current}, newer than this capgraph "
            f"({LATEST}): upgrade capgraph", current=current, needed=LATEST)


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    """Apply the migrations the database lacks, each in its own transaction; the numbers
    applied (none when it is up to date)."""
    applied: list[int] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = schema_version(conn)
            if current >= LATEST:
                return applied
            conn.execute(MIGRATIONS[current].encode())
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (current + 1,))
        applied.append(current + 1)
        log.info("applied PostgreSQL migration %d", current + 1)
