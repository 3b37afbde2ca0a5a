"""Versions: numbering, reading back, listing, references and cards' bookkeeping, and what a
builder that declines or fails leaves behind."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from capgraph.errors import StorageError
from capgraph.ports import (
    ArtifactCard,
    ArtifactSummary,
    Store,
    StoredVersion,
    WriteTransaction,
)
from capgraph.registry.versions import NewVersion, append_version
from tests.contract.conftest import (
    CREATED_AT,
    WAIT,
    always,
    append,
    doc,
    in_transaction,
    new_version,
)


def everything(store: Store, slug: str) -> tuple[object, ...]:
    """What a version write can change, as one comparable value."""
    return (store.versions(slug), store.artifacts(), store.count(), store.log_size(),
            store.log_entries(0, store.log_size()), store.keyword_changes(0, limit=1000),
            store.vector_changes(0, limit=1000), store.intent_matches("read pages"),
            store.latest_cards([slug]), store.references_to("target"), store.generation())


def test_appends_number_versions_from_one(store: Store) -> None:
    appended = [append(store, "demo") for _ in range(3)]
    assert [v.version for v in appended] == [1, 2, 3]
    assert store.versions("demo") == appended
    assert [store.version("demo", n) for n in (1, 2, 3)] == appended
    assert store.latest("demo") == appended[-1]


def test_a_stored_version_keeps_every_field_byte_for_byte(store: Store) -> None:
    new = new_version("x", artifact_type="model", score=77, passport=b'{"b": 1, "a": [2]}\n')
    stored, created = append_version(store, "demo", always(new))
    assert created
    assert stored == StoredVersion(
        slug="demo", version=1, name=new.name, artifact_type="model", score=77,
        content_hash=new.content_hash, source_kind="manifest", source=new.source,
        passport=b'{"b": 1, "a": [2]}\n', key_id="kid-1", created_at=CREATED_AT,
        capability_numbers={"alpha": 0, "x": 1}, log_index=0,
    )
    assert store.latest("demo") == stored
    assert store.version("demo", 1) == stored
    assert store.versions("demo") == [stored]


def test_missing_things_are_none_or_empty(store: Store) -> None:
    assert store.latest("nope") is None
    assert store.version("nope", 1) is None
    assert store.versions("nope") == []
    assert store.artifacts() == []
    assert store.count() == 0
    assert store.references_to("nope") == 0
    assert store.existing(["nope"]) == []
    assert store.latest_cards(["nope"]) == {}
    assert store.slugs_without_card(after="", limit=10) == []
    append(store, "demo")
    assert store.version("demo", 2) is None
    assert store.version("demo", 0) is None
    assert store.version("demo", -1) is None


def test_artifacts_list_latest_versions_sorted_by_slug_filtered_and_paged(store: Store) -> None:
    append(store, "c", artifact_type="api", score=3)
    append(store, "a", artifact_type="api", score=1)
    append(store, "b", artifact_type="model", score=2)
    append(store, "a", "a-2", artifact_type="model", score=10, created_at="2026-11-02T00:00Z")
    assert store.artifacts() == [
        ArtifactSummary("a", "Artifact a-2", "model", 10, 2, "2026-11-02T00:00Z"),
        ArtifactSummary("b", "Artifact b-1", "model", 2, 1, CREATED_AT),
        ArtifactSummary("c", "Artifact c-1", "api", 3, 1, CREATED_AT),
    ]
    assert [r.slug for r in store.artifacts(limit=1, offset=1)] == ["b"]
    assert [r.slug for r in store.artifacts(limit=2)] == ["a", "b"]
    assert [r.slug for r in store.artifacts(offset=2)] == ["c"]
    assert store.artifacts(offset=3) == []
    # The type is the latest version's: "a" left "api" with its second version.
    assert [r.slug for r in store.artifacts(artifact_type="model")] == ["a", "b"]
    assert [r.slug for r in store.artifacts(artifact_type="model", offset=1)] == ["b"]
    assert [r.slug for r in store.artifacts(artifact_type="api")] == ["c"]
    assert store.artifacts(artifact_type="dataset") == []
    assert store.count() == 3
    assert store.count(artifact_type="model") == 2
    assert store.count(artifact_type="api") == 1
    assert store.count(artifact_type="dataset") == 0


def test_existing_keeps_the_given_order(store: Store) -> None:
    for slug in ("a", "b", "c"):
        append(store, slug)
    assert store.existing(["c", "zzz", "a"]) == ["c", "a"]
    assert store.existing(["b"]) == ["b"]
    assert store.existing([]) == []
    # More names than one query may take at once (SQLite reads them in chunks).
    many = [f"missing-{i:04d}" for i in range(1200)]
    many[1100], many[3], many[600] = "b", "c", "a"
    assert store.existing(many) == ["c", "a", "b"]
    assert set(store.latest_cards(many)) == {"a", "b", "c"}


def test_references_count_other_artifacts_latest_integrations(store: Store) -> None:
    append(store, "target", integrations=["target"])  # a self-reference is not counted
    assert store.references_to("target") == 0
    append(store, "a", integrations=["target", "target"])
    append(store, "b", integrations=["target", "a"])
    assert store.references_to("target") == 2
    assert store.referrers("target") == ["a", "b"]
    assert store.references_to("a") == 1
    assert store.references_to("b") == 0
    append(store, "b", integrations=[])  # a new version replaces the integrations
    assert store.references_to("target") == 1
    assert store.referrers("target") == ["a"]
    assert store.references_to("a") == 0
    append(store, "a", integrations=["b"])
    assert store.references_to("target") == 0
    assert store.referrers("target") == []
    assert store.references_to("b") == 1
    assert store.referrers("b") == ["a"]
    assert store.references_to("never-stored") == 0
    assert store.referrers("never-stored") == []


def test_latest_cards_are_the_latest_versions_cards_as_named_records(store: Store) -> None:
    append(store, "a", score=5, card='{"v":1}')
    append(store, "b", score=6)
    cards = store.latest_cards(["a", "b", "zzz"])
    assert cards == {"a": ArtifactCard(1, 5, '{"v":1}'), "b": ArtifactCard(1, 6, "")}
    assert all(isinstance(c, ArtifactCard) for c in cards.values())
    assert (cards["a"].version, cards["a"].score, cards["a"].card) == (1, 5, '{"v":1}')
    append(store, "a", score=7, card="")  # a version without a card has none
    append(store, "b", score=8, card='{"v":2}')
    assert store.latest_cards(["b", "a"]) == {"a": ArtifactCard(2, 7, ""),
                                              "b": ArtifactCard(2, 8, '{"v":2}')}
    assert store.latest_cards([]) == {}


def test_slugs_without_card_page_by_slug(store: Store) -> None:
    for slug in ("e", "a", "d", "b", "c"):
        append(store, slug, card='{"c":1}' if slug in ("b", "e") else "")
    assert store.slugs_without_card(after="", limit=10) == ["a", "c", "d"]
    assert store.slugs_without_card(after="", limit=2) == ["a", "c"]
    assert store.slugs_without_card(after="c", limit=2) == ["d"]
    assert store.slugs_without_card(after="d", limit=2) == []
    append(store, "b", card="")  # only the latest version counts
    append(store, "a", card='{"c":2}')
    assert store.slugs_without_card(after="", limit=10) == ["b", "c", "d"]


def test_the_builder_gets_the_open_transaction_the_latest_and_the_next_number(
        store: Store) -> None:
    seen: list[tuple[StoredVersion | None, StoredVersion | None, int]] = []

    def build(tx: WriteTransaction, latest: StoredVersion | None, number: int) -> NewVersion:
        seen.append((latest, tx.latest("demo"), number))
        return new_version(f"t{number}")

    first, _ = append_version(store, "demo", build)
    second, _ = append_version(store, "demo", build)
    assert seen == [(None, None, 1), (first, first, 2)]
    assert second.version == 2


def test_a_builder_that_declines_stores_nothing_and_returns_the_latest(store: Store) -> None:
    latest = append(store, "demo", docs=[doc("c1", "read pages")], vectors=[("c1", b"\x01")])
    before = everything(store, "demo")
    stored, created = append_version(store, "demo", lambda tx, latest, number: None)
    assert (stored, created) == (latest, False)
    assert everything(store, "demo") == before


def test_a_builder_may_not_decline_the_first_version(store: Store) -> None:
    before = everything(store, "demo")
    with pytest.raises(ValueError, match="decline"):
        append_version(store, "demo", lambda tx, latest, number: None)
    assert everything(store, "demo") == before


def test_a_builder_that_raises_stores_nothing(store: Store) -> None:
    append(store, "demo", docs=[doc("c1", "read pages")], vectors=[("c1", b"\x01")])
    before = everything(store, "demo")

    def broken(tx: WriteTransaction, latest: StoredVersion | None, number: int) -> NewVersion:
        raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError, match="signing failed"):
        append_version(store, "demo", broken)
    assert everything(store, "demo") == before
    stored = append(store, "demo")
    assert (stored.version, stored.log_index) == (2, 1)


def test_a_write_that_raises_after_writing_leaves_nothing_behind(store: Store) -> None:
    """The transaction, not only the builder: everything of the version (its log leaf, the
    version, its index rows) is written, then the block raises."""
    append(store, "demo", docs=[doc("c1", "read pages")], vectors=[("c1", b"\x01")])
    before = everything(store, "demo")

    def build(tx: WriteTransaction, latest: StoredVersion | None, number: int) -> NewVersion:
        return new_version("late", integrations=["target"],
                           docs=[doc("c2", "read pages")], vectors=[("c2", b"\x02")])

    with pytest.raises(RuntimeError, match="after the writes"), store.write() as tx:
        stored, created = append_version(in_transaction(tx), "demo", build)
        assert created and tx.latest("demo") == stored  # the transaction sees its writes
        raise RuntimeError("after the writes")
    assert everything(store, "demo") == before


def test_put_version_with_a_wrong_number_raises_storage_error(store: Store) -> None:
    first = append(store, "demo")
    before = everything(store, "demo")
    for wrong in (first, replace(first, version=3), replace(first, slug="new", version=2),
                  replace(first, slug="new", version=0)):
        with pytest.raises(StorageError), store.write() as tx:
            tx.put_version(replace(wrong, log_index=99), card="", integrations=[])
    assert everything(store, "demo") == before
    assert store.versions("new") == []


def test_other_threads_see_a_version_only_once_its_transaction_commits(store: Store) -> None:
    seen: dict[str, object] = {}

    def read() -> None:
        seen["inside"] = (store.latest("demo"), store.log_size(), store.count())

    with store.write() as tx:
        stored, _ = append_version(in_transaction(tx), "demo", always(new_version("x")))
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=WAIT)
        assert not reader.is_alive()
    assert seen["inside"] == (None, 0, 0)
    assert (store.latest("demo"), store.log_size(), store.count()) == (stored, 1, 1)
