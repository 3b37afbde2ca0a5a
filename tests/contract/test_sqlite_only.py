"""Behaviour only the SQLite store has: its files (WAL, the events database beside the main
one), its schema migrations, and a database an older capgraph left behind."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from capgraph.ports import (
    ApiKeyRecord,
    ArtifactCard,
    MatchRecord,
    PublisherRecord,
    ResolveRecord,
)
from capgraph.registry import versions
from capgraph.registry.versions import fill_missing_cards
from capgraph.storage import sqlite_schema
from capgraph.storage.sqlite import SQLiteStore
from tests.contract.conftest import T0, T1, append, card_of, passport


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cg.db"


@pytest.fixture
def sqlite_store(path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(path)
    yield store
    store.close()


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def tables(path: Path) -> set[str]:
    conn = read_only(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def test_sqlite_a_new_database_is_migrated_to_the_latest_schema_once(path: Path) -> None:
    store = SQLiteStore(path)
    conn = store._conn()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS)
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(artifacts)")}
    assert "artifacts_without_card" in indexes
    stored = append(store, "demo")
    store.close()
    again = SQLiteStore(path)  # applies nothing: the data is untouched
    assert again._conn().execute("PRAGMA user_version").fetchone()[0] == len(
        sqlite_schema.MIGRATIONS)
    assert again.versions("demo") == [stored]
    again.close()


def test_sqlite_both_databases_are_in_wal_mode_with_their_own_durability(
        sqlite_store: SQLiteStore, path: Path) -> None:
    conn = sqlite_store._conn()
    assert conn.execute("PRAGMA main.journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA events.journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA main.synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA events.synchronous").fetchone()[0] == 1  # NORMAL
    append(sqlite_store, "demo")
    assert path.with_name("cg.db-wal").exists()  # the commit went to the write-ahead log
    reader = read_only(path)  # a reader in another connection sees the committed version
    try:
        assert reader.execute("SELECT slug, version FROM versions").fetchall() == [("demo", 1)]
    finally:
        reader.close()


def test_sqlite_events_live_in_their_own_database_beside_the_main_one(
        sqlite_store: SQLiteStore, path: Path) -> None:
    assert sqlite_store.events_path == path.with_name("cg-events.db")
    sqlite_store.record_resolves([ResolveRecord("r1", "demo", "c1", "ocr", 0.5, T0)])
    sqlite_store.record_matches([MatchRecord("m1", "demo", "c1", "scan", 0.25, T0)])
    assert {"resolves", "matches"} <= tables(sqlite_store.events_path)
    assert not {"resolves", "matches"} & tables(path)
    events = read_only(sqlite_store.events_path)
    try:
        assert events.execute("SELECT resolve_id, slug FROM resolves").fetchall() == [
            ("r1", "demo")]
        assert events.execute("SELECT match_id FROM matches").fetchall() == [("m1",)]
    finally:
        events.close()


OWNERSHIP_MIGRATION = next(i for i, m in enumerate(sqlite_schema.MIGRATIONS)
                          if "CREATE TABLE publishers" in m)
SALTS_MIGRATION = next(i for i, m in enumerate(sqlite_schema.MIGRATIONS)
                       if "CREATE TABLE client_salts" in m)


def undo_salts(conn: sqlite3.Connection) -> None:
    """Back to the schema before the daily client salts moved into the database."""
    conn.execute("DROP TABLE client_salts")
    conn.execute(f"PRAGMA user_version = {SALTS_MIGRATION}")


def undo_ownership(conn: sqlite3.Connection) -> None:
    """Back to the schema before publishers, ownership and claims."""
    undo_salts(conn)
    for table in ("claims", "ownership", "publishers"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("ALTER TABLE api_keys DROP COLUMN publisher_id")
    conn.execute(f"PRAGMA user_version = {OWNERSHIP_MIGRATION}")


def test_sqlite_a_database_from_before_client_salts_gets_their_table(path: Path) -> None:
    store = SQLiteStore(path)
    append(store, "ant")
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    undo_salts(conn)
    conn.close()
    assert "client_salts" not in tables(path)

    reopened = SQLiteStore(path)
    try:
        assert reopened._conn().execute("PRAGMA user_version").fetchone()[0] == len(
            sqlite_schema.MIGRATIONS)
        assert "client_salts" in tables(path)
        assert reopened.existing_salt("20261101") is None
        salt = reopened.daily_salt("20261101")
        assert len(salt) == 32 and reopened.existing_salt("20261101") == salt
        assert [v.version for v in reopened.versions("ant")] == [1]
    finally:
        reopened.close()


def test_sqlite_a_database_from_before_publishers_makes_each_key_its_own_publisher(
        path: Path) -> None:
    store = SQLiteStore(path)
    append(store, "ant")
    with store.write() as tx:
        tx.add_api_key(ApiKeyRecord("key_0123456789ab", "ci", T0, revoked=False), "hash-1")
        tx.add_api_key(ApiKeyRecord("key_ba9876543210", "laptop", T1, revoked=True), "hash-2")
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    undo_ownership(conn)
    conn.close()

    reopened = SQLiteStore(path)
    try:
        assert reopened._conn().execute("PRAGMA user_version").fetchone()[0] == len(
            sqlite_schema.MIGRATIONS)
        assert reopened.publishers() == [PublisherRecord("pub_0123456789ab", "ci", T0),
                                         PublisherRecord("pub_ba9876543210", "laptop", T1)]
        assert reopened.api_key_by_hash("hash-1") == ApiKeyRecord(
            "key_0123456789ab", "ci", T0, revoked=False, publisher_id="pub_0123456789ab")
        assert reopened.api_key_by_hash("hash-2") == ApiKeyRecord(
            "key_ba9876543210", "laptop", T1, revoked=True, publisher_id="pub_ba9876543210")
        # what was published before has no owner: it can be claimed
        assert reopened.ownership("ant") is None and [v.version for v in
                                                      reopened.versions("ant")] == [1]
    finally:
        reopened.close()


def test_sqlite_a_database_from_before_cards_opens_and_gets_its_cards_filled(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(path)
    for slug in ("ant", "bee", "cat", "dog", "eel"):
        append(store, slug, passport=passport(slug), card='{"written":"now"}')
    append(store, "bad", passport=b'{"unfragile": {}}')
    store.close()
    # Back to the schema before the card column, as an older capgraph left it.
    added = sqlite_schema.MIGRATIONS.index(
        "ALTER TABLE artifacts ADD COLUMN card TEXT NOT NULL DEFAULT ''")
    conn = sqlite3.connect(path, isolation_level=None)
    undo_ownership(conn)
    conn.execute("DROP INDEX artifacts_without_card")
    conn.execute("ALTER TABLE artifacts DROP COLUMN card")
    conn.execute(f"PRAGMA user_version = {added}")
    conn.close()

    reopened = SQLiteStore(path)
    try:
        conn = reopened._conn()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(
            sqlite_schema.MIGRATIONS)
        assert "artifacts_without_card" in {r[1] for r in conn.execute(
            "PRAGMA index_list(artifacts)")}
        slugs = ["ant", "bad", "bee", "cat", "dog", "eel"]
        assert reopened.slugs_without_card(after="", limit=100) == slugs
        assert [v.version for s in slugs for v in reopened.versions(s)] == [1] * 6
        monkeypatch.setattr(versions, "CARD_PAGE", 2)  # three pages
        assert fill_missing_cards(reopened) == 5
        cards = reopened.latest_cards(slugs)
        assert cards["bad"] == ArtifactCard(1, 42, "")  # its passport makes no card
        for slug in ("ant", "bee", "cat", "dog", "eel"):
            assert cards[slug] == ArtifactCard(1, 42, card_of(slug))
            assert json.loads(cards[slug].card)["name"] == slug.title()
        assert reopened.slugs_without_card(after="", limit=100) == ["bad"]
    finally:
        reopened.close()
