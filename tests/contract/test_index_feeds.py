"""Index feeds: the keyword and vector logs every process replays (a reset marker, then the
artifact's entries), and the declared intents looked up exactly."""

from __future__ import annotations

from capgraph.ports import IntentMatch, KeywordChange, Store, VectorChange
from capgraph.registry.indexing import write_index
from tests.contract.conftest import append, doc


def test_a_version_writes_a_keyword_reset_marker_then_its_documents(store: Store) -> None:
    append(store, "scan", artifact_type="model",
           docs=[doc("c1", "read pages", name="Reader"), doc("c2")])
    changes = store.keyword_changes(0, limit=100)
    assert changes == [
        KeywordChange(1, "scan", "", "model", "", "", "", ""),
        KeywordChange(2, "scan", "c1", "model", "Reader", "read pages", "body of c1",
                      "artifact of c1"),
        KeywordChange(3, "scan", "c2", "model", "cap c2", "", "body of c2", "artifact of c2"),
    ]
    assert all(isinstance(c, KeywordChange) for c in changes)
    assert [(c.seq, c.slug, c.cap_id) for c in changes] == [
        (1, "scan", ""), (2, "scan", "c1"), (3, "scan", "c2")]
    assert store.vector_changes(0, limit=100) == []  # no vectors given: none written


def test_a_version_with_vectors_writes_a_vector_reset_marker_then_them(store: Store) -> None:
    append(store, "scan", docs=[doc("c1"), doc("c2")],
           vectors=[("c1", b"\x00\x3c"), ("c2", b"\x00\xbc")])
    changes = store.vector_changes(0, limit=100)
    assert changes == [
        VectorChange(1, "scan", "", "api", None),
        VectorChange(2, "scan", "c1", "api", b"\x00\x3c"),
        VectorChange(3, "scan", "c2", "api", b"\x00\xbc"),
    ]
    assert all(isinstance(c, VectorChange) for c in changes)
    assert changes[1].vec == b"\x00\x3c" and changes[0].vec is None


def test_vectors_none_leaves_the_vector_log_alone(store: Store) -> None:
    append(store, "scan", docs=[doc("c1")], vectors=[("c1", b"\x01\x02")])
    before = store.vector_changes(0, limit=100)
    keywords = len(store.keyword_changes(0, limit=100))
    append(store, "scan", docs=[doc("c1"), doc("c2")], vectors=None)
    assert store.vector_changes(0, limit=100) == before
    assert len(store.keyword_changes(0, limit=100)) == keywords + 3
    append(store, "scan", docs=[doc("c1")], vectors=[])  # no vectors: only the reset marker
    assert store.vector_changes(0, limit=100)[len(before):] == [
        VectorChange(len(before) + 1, "scan", "", "api", None)]


def test_the_feeds_page_by_sequence_number(store: Store) -> None:
    for slug in ("a", "b", "c", "d"):
        append(store, slug, docs=[doc(f"{slug}1"), doc(f"{slug}2")],
               vectors=[(f"{slug}1", b"\x01"), (f"{slug}2", b"\x02")])
    for read in (store.keyword_changes, store.vector_changes):
        full = read(0, limit=1000)
        assert len(full) == 12
        assert [c.seq for c in full] == sorted({c.seq for c in full})  # increasing, distinct
        assert [(c.slug, c.cap_id) for c in full[:3]] == [("a", ""), ("a", "a1"), ("a", "a2")]
        pages: list[object] = []
        since = 0
        while page := read(since, limit=5):
            assert len(page) <= 5
            pages.extend(page)
            since = page[-1].seq
        assert pages == full
        assert read(full[1].seq, limit=2) == full[2:4]
        assert read(full[-1].seq, limit=10) == []
        assert read(0, limit=0) == []


def test_reindexing_appends_to_the_feeds_after_what_is_there(store: Store) -> None:
    append(store, "a", docs=[doc("a1")], vectors=[("a1", b"\x01")])
    seen = store.keyword_changes(0, limit=100)[-1].seq
    seen_vectors = store.vector_changes(0, limit=100)[-1].seq
    with store.write() as tx:
        write_index(tx, "a", "api", [doc("a9")], [("a9", b"\x09")])
    assert store.keyword_changes(seen, limit=100) == [
        KeywordChange(seen + 1, "a", "", "api", "", "", "", ""),
        KeywordChange(seen + 2, "a", "a9", "api", "cap a9", "", "body of a9", "artifact of a9"),
    ]
    assert store.vector_changes(seen_vectors, limit=100) == [
        VectorChange(seen_vectors + 1, "a", "", "api", None),
        VectorChange(seen_vectors + 2, "a", "a9", "api", b"\x09"),
    ]


def test_intent_matches_are_exact_sorted_and_filtered_by_type(store: Store) -> None:
    append(store, "zeta", artifact_type="api", docs=[doc("z1", "read pages", "ocr")])
    append(store, "alpha", artifact_type="model",
           docs=[doc("a2", "read pages"), doc("a1", "read pages", "read pages")])
    append(store, "mid", artifact_type="api", docs=[doc("m1", "translate")])
    matches = store.intent_matches("read pages")
    assert matches == [IntentMatch("alpha", "a1"), IntentMatch("alpha", "a2"),
                       IntentMatch("zeta", "z1")]
    assert all(isinstance(m, IntentMatch) for m in matches)
    assert (matches[0].slug, matches[0].cap_id) == ("alpha", "a1")
    assert store.intent_matches("read pages", artifact_type="api") == [
        IntentMatch("zeta", "z1")]
    assert store.intent_matches("read pages", artifact_type="model") == [
        IntentMatch("alpha", "a1"), IntentMatch("alpha", "a2")]
    assert store.intent_matches("read pages", artifact_type="dataset") == []
    assert store.intent_matches("ocr") == [IntentMatch("zeta", "z1")]
    assert store.intent_matches("read") == []  # exact, not a prefix or a word
    assert store.intent_matches("nothing") == []


def test_a_new_version_replaces_its_artifacts_intents(store: Store) -> None:
    append(store, "scan", docs=[doc("c1", "read pages"), doc("c2", "ocr")])
    append(store, "other", docs=[doc("o1", "read pages")])
    append(store, "scan", artifact_type="model", docs=[doc("c3", "ocr")])
    assert store.intent_matches("read pages") == [IntentMatch("other", "o1")]
    assert store.intent_matches("ocr") == [IntentMatch("scan", "c3")]
    assert store.intent_matches("ocr", artifact_type="api") == []
    with store.write() as tx:  # a reindex replaces them the same way
        write_index(tx, "scan", "model", [doc("c4", "translate")], None)
    assert store.intent_matches("ocr") == []
    assert store.intent_matches("translate") == [IntentMatch("scan", "c4")]
    assert store.intent_matches("read pages") == [IntentMatch("other", "o1")]
