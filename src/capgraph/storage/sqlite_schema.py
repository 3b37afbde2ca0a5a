"""The SQLite store's schema: its migrations, applied in order, and the events database."""

from __future__ import annotations

__all__ = ["EVENTS_SCHEMA", "MIGRATIONS"]

# Append only: a database records how many it has applied (PRAGMA user_version).
MIGRATIONS: list[str] = [
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
    # Cards were filled here once; the registry now fills missing ones when it opens a store
    # (``registry/versions.py``), the same for every backend.
    "SELECT 1",
    "CREATE INDEX artifacts_without_card ON artifacts(slug) WHERE card = ''",
    # Publishers and ownership: every existing key becomes its own publisher.
    """
    CREATE TABLE publishers (
        publisher_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        domain TEXT
    );
    ALTER TABLE api_keys ADD COLUMN publisher_id TEXT NOT NULL DEFAULT '';
    INSERT INTO publishers (publisher_id, name, created_at)
        SELECT 'pub_' || substr(key_id, 5), name, created_at FROM api_keys;
    UPDATE api_keys SET publisher_id = 'pub_' || substr(key_id, 5);
    CREATE TABLE ownership (
        slug TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        maintainers TEXT NOT NULL,
        verification TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX ownership_verified ON ownership(slug) WHERE verification IS NOT NULL;
    CREATE TABLE claims (
        claim_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        method TEXT NOT NULL,
        token TEXT NOT NULL,
        publisher_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        status TEXT NOT NULL
    )
    """,
    # The daily salts client addresses are hashed with moved here from the key ring's
    # files, so that hosts sharing a database share them (docs/PRIVACY.md).
    "CREATE TABLE client_salts (day TEXT PRIMARY KEY, salt BLOB NOT NULL) WITHOUT ROWID",
]


EVENTS_SCHEMA = """
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
