"""The tantivy keyword index follows the store's keyword log: in memory and on disk, shared by
several readers, after a crash between its commit and its recorded position, from an
unreadable directory, and through a rebuild."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from capgraph.search.documents import SearchDoc
from capgraph.search.keyword import FIELD_WEIGHTS, KeywordIndex, weighted_text
from capgraph.storage.memory import MemoryStore
from capgraph.storage.sqlite import SQLiteStore
from tests.wire import reindex


def doc(cap_id: str, name: str, body: str = "", intents: str = "") -> SearchDoc:
    return SearchDoc(cap_id=cap_id, name=name, intents=intents, body=body, artifact="")


def fill(store: SQLiteStore | MemoryStore) -> None:
    reindex(store, "zebra-kit", "api", [
        doc("zebra-kit__cap_0", "zebra stripe counting", "counts stripes in safari photos"),
        doc("zebra-kit__cap_1", "giraffe neck measuring", "measures necks from drones"),
    ], None)
    reindex(store, "okapi-cli", "cli", [
        doc("okapi-cli__cap_0", "okapi ear tagging", "tags ears of okapis in camera traps"),
    ], None)
    reindex(store, "moon-api", "api", [
        doc("moon-api__cap_0", "lunar sample catalogue", "catalogues regolith samples",
            intents="catalogue lunar regolith samples"),
    ], None)


@pytest.fixture(params=["memory", "disk"])
def setup(request: pytest.FixtureRequest, tmp_path: Path
          ) -> tuple[SQLiteStore | MemoryStore, KeywordIndex]:
    if request.param == "memory":
        store: SQLiteStore | MemoryStore = MemoryStore()
        index = KeywordIndex(store)
    else:
        store = SQLiteStore(tmp_path / "db.sqlite")
        index = KeywordIndex(store, path=tmp_path / "index" / "keyword")
    fill(store)
    return store, index


def keys(hits: list[tuple[str, str, float]]) -> list[tuple[str, str]]:
    return [(slug, cap) for slug, cap, _ in hits]


def test_any_word_bm25_with_stemming_and_field_weights(
        setup: tuple[SQLiteStore | MemoryStore, KeywordIndex]) -> None:
    _, index = setup
    hits = index.search(["stripes", "necks"], limit=10)
    assert set(keys(hits)) == {("zebra-kit", "zebra-kit__cap_0"), ("zebra-kit", "zebra-kit__cap_1")}
    assert all(score > 0 for *_, score in hits)
    # "stripe" in the name (weight 3) and "stripes" in the body: stemming matches both
    assert keys(index.search(["stripe"], limit=1)) == [("zebra-kit", "zebra-kit__cap_0")]
    # a name match outranks a body-only match of the same word
    assert keys(index.search(["okapi", "regolith"], limit=2))[0] == ("okapi-cli",
                                                                     "okapi-cli__cap_0")
    assert index.search(["unicorn"], limit=5) == []
    assert index.search([], limit=5) == []


def test_a_word_repeated_across_fields_is_saturated_once_bm25f() -> None:
    """BM25F: a word in the name *and* the artifact text counts as a higher frequency in one
    saturating score, not as two full field scores added up (which would double it)."""
    store = MemoryStore()
    reindex(store, "both", "api", [SearchDoc(
        cap_id="both__cap_0", name="acme", intents="", body="general helper",
        artifact="acme")], None)
    reindex(store, "name-only", "api", [SearchDoc(
        cap_id="name-only__cap_0", name="acme", intents="", body="general helper",
        artifact="zzz")], None)
    for i in range(8):  # background documents
        reindex(store, f"other-{i}", "api", [SearchDoc(
            cap_id=f"other-{i}__cap_0", name=f"thing {i}", intents="", body="general helper",
            artifact=f"other {i}")], None)
    index = KeywordIndex(store)
    scores = {slug: score for slug, _, score in index.search(["acme"], limit=10)}
    assert scores["both"] > scores["name-only"]  # more of the word still counts...
    assert scores["both"] < 1.3 * scores["name-only"]  # ...but saturates, not doubles


def test_weighted_text_repeats_each_field_by_its_weight() -> None:
    text = weighted_text("Name", "an intent", "the body", "")
    assert text.split("\n") == ["Name"] * FIELD_WEIGHTS["name"] + \
        ["an intent"] * FIELD_WEIGHTS["intents"] + ["the body"] * FIELD_WEIGHTS["body"]


def test_the_type_filter_keeps_scores_and_drops_other_types(
        setup: tuple[SQLiteStore | MemoryStore, KeywordIndex]) -> None:
    _, index = setup
    unfiltered = {k[:2]: k[2] for k in index.search(["okapi", "lunar"], limit=10)}
    filtered = index.search(["okapi", "lunar"], limit=10, artifact_type="api")
    assert keys(filtered) == [("moon-api", "moon-api__cap_0")]
    assert filtered[0][2] == pytest.approx(unfiltered[("moon-api", "moon-api__cap_0")])


def test_a_republish_replaces_the_artifacts_documents(
        setup: tuple[SQLiteStore | MemoryStore, KeywordIndex]) -> None:
    store, index = setup
    assert index.search(["giraffe"], limit=5)
    reindex(store, "zebra-kit", "api", [doc("zebra-kit__cap_0", "zebra stripe counting")], None)
    assert index.search(["giraffe"], limit=5) == []
    assert keys(index.search(["zebra"], limit=5)) == [("zebra-kit", "zebra-kit__cap_0")]


def test_two_readers_on_one_directory_see_every_write(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    other_store = SQLiteStore(tmp_path / "db.sqlite")  # as another process would open it
    path = tmp_path / "index" / "keyword"
    one, two = KeywordIndex(store, path=path), KeywordIndex(other_store, path=path)
    fill(store)
    one.sync()  # the writer's process brings the shared index up to date
    assert keys(two.search(["okapi"], limit=5)) == [("okapi-cli", "okapi-cli__cap_0")]
    reindex(store, "okapi-cli", "cli", [doc("okapi-cli__cap_0", "tapir snout booping")], None)
    assert keys(two.search(["tapir"], limit=5)) == [("okapi-cli", "okapi-cli__cap_0")]
    assert one.search(["okapi"], limit=5) == []  # ``two`` applied it; ``one`` reloads
    assert len(list(path.parent.glob("keyword-v*.seq"))) == 1


def test_concurrent_syncs_apply_each_row_once(tmp_path: Path) -> None:
    path = tmp_path / "index" / "keyword"
    stores = [SQLiteStore(tmp_path / "db.sqlite") for _ in range(4)]
    indexes = [KeywordIndex(s, path=path) for s in stores]
    fill(stores[0])
    threads = [threading.Thread(target=i.sync) for i in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for index in indexes:
        assert len(index.search(["okapi", "zebra", "giraffe", "lunar"], limit=10)) == 4


def test_a_crash_between_commit_and_position_replays_without_duplicates(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    path = tmp_path / "index" / "keyword"
    fill(store)
    index = KeywordIndex(store, path=path)
    index.sync()
    seq_file = next(path.parent.glob("keyword-v*.seq"))
    position = int(seq_file.read_text())
    reindex(store, "okapi-cli", "cli", [doc("okapi-cli__cap_0", "okapi ear tagging")], None)
    index.sync()
    seq_file.write_text(str(position))  # the commit landed, its position did not
    restarted = KeywordIndex(SQLiteStore(tmp_path / "db.sqlite"), path=path)
    assert keys(restarted.search(["okapi"], limit=10)) == [("okapi-cli", "okapi-cli__cap_0")]
    assert int(seq_file.read_text()) > position


def test_an_unreadable_directory_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    fill(store)
    path = tmp_path / "index" / "keyword"
    KeywordIndex(store, path=path).sync()
    directory = next(p for p in path.parent.iterdir() if p.is_dir())
    (directory / "meta.json").write_text("{not json")
    index = KeywordIndex(store, path=path)
    assert keys(index.search(["okapi"], limit=5)) == [("okapi-cli", "okapi-cli__cap_0")]


def test_rebuild_holds_only_current_documents(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    fill(store)
    path = tmp_path / "index" / "keyword"
    index = KeywordIndex(store, path=path)
    for word in ("tapir", "okapi", "tapir"):  # history: replaced documents
        reindex(store, "okapi-cli", "cli", [doc("okapi-cli__cap_0", f"{word} ear tagging")],
                      None)
        index.sync()
    index.rebuild()
    fresh_store = SQLiteStore(tmp_path / "fresh.sqlite")
    fill(fresh_store)
    reindex(fresh_store, "okapi-cli", "cli", [doc("okapi-cli__cap_0", "tapir ear tagging")], None)
    fresh = KeywordIndex(fresh_store)
    query = ["tapir", "ear", "zebra"]
    assert index.search(query, limit=10) == fresh.search(query, limit=10)
    assert len(index) == 4


def test_a_database_from_before_the_keyword_log_keeps_its_documents(tmp_path: Path) -> None:
    """A database whose keyword documents were in the FTS5 table (schema before the keyword
    log) is migrated: the rows move to the log, the FTS tables go, and search finds them."""
    import sqlite3

    from capgraph.storage.sqlite_schema import MIGRATIONS

    path = tmp_path / "old.sqlite"
    before = MIGRATIONS.index(next(m for m in MIGRATIONS if "CREATE TABLE keyword_log" in m))
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:before]:
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {before}")
    conn.executemany(
        "INSERT INTO capability_fts (slug, cap_id, type, name, intents, body, artifact) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [("okapi-cli", "okapi-cli__cap_0", "cli", "okapi ear tagging", "", "", ""),
         ("moon-api", "moon-api__cap_0", "api", "lunar sample catalogue", "", "", "")])
    conn.close()

    store = SQLiteStore(path)
    tables = {r[0] for r in store._conn().execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "keyword_log" in tables and "capability_fts" not in tables
    index = KeywordIndex(store, path=tmp_path / "index" / "keyword")
    assert keys(index.search(["okapi"], limit=5)) == [("okapi-cli", "okapi-cli__cap_0")]
    assert keys(index.search(["lunar"], limit=5, artifact_type="api")) == [
        ("moon-api", "moon-api__cap_0")]
