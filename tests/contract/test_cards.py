"""Compact cards: ``fill_missing_cards`` gives every artifact whose latest version has none a
card from its passport, a page at a time, and never overwrites one a newer version wrote."""

from __future__ import annotations

import json

import pytest

from capgraph.ports import ArtifactCard, Store, StoredVersion
from capgraph.registry import versions
from capgraph.registry.versions import fill_missing_cards
from tests.contract.conftest import append, card_of, passport, passport_body


def test_missing_cards_are_filled_from_the_latest_passport_a_page_at_a_time(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    for slug in ("ant", "bee", "cat", "dog", "eel"):
        append(store, slug, passport=passport(slug), card="")
    append(store, "fox", passport=passport("fox"), card='{"kept":true}')
    append(store, "gnu", passport=passport("old-gnu"), card='{"old":true}')
    append(store, "gnu", passport=passport("gnu"), card="")  # the latest has none
    pages: list[str] = []
    read_page = store.slugs_without_card

    def spy(*, after: str, limit: int) -> list[str]:
        assert limit == 2
        pages.append(after)
        return read_page(after=after, limit=limit)

    monkeypatch.setattr(versions, "CARD_PAGE", 2)
    monkeypatch.setattr(store, "slugs_without_card", spy)
    assert fill_missing_cards(store) == 6
    assert pages == ["", "bee", "dog", "gnu"]  # three pages, then an empty one
    cards = store.latest_cards(["ant", "bee", "cat", "dog", "eel", "fox", "gnu"])
    assert {slug: c.card for slug, c in cards.items()} == {
        "ant": card_of("ant"), "bee": card_of("bee"), "cat": card_of("cat"),
        "dog": card_of("dog"), "eel": card_of("eel"), "fox": '{"kept":true}',
        "gnu": card_of("gnu")}
    assert cards["gnu"] == ArtifactCard(2, 42, card_of("gnu"))
    assert read_page(after="", limit=100) == []
    generation = store.generation()
    assert fill_missing_cards(store) == 0  # nothing left to fill
    assert store.generation() == generation


def test_a_passport_a_card_cannot_be_made_from_keeps_no_card(store: Store) -> None:
    append(store, "ant", passport=passport("ant"))
    append(store, "bad", passport=b'{"unfragile": {}}')
    append(store, "bee", passport=b"not json")
    append(store, "cow", passport=b'{"unfragile": {"artifact": null}}')
    append(store, "dog", passport=b"[1, 2]")
    assert fill_missing_cards(store) == 1
    assert store.latest_cards(["ant"])["ant"].card == card_of("ant")
    assert store.slugs_without_card(after="", limit=10) == ["bad", "bee", "cow", "dog"]
    assert fill_missing_cards(store) == 0


def test_fill_card_gives_a_card_only_to_the_latest_version_without_one(store: Store) -> None:
    append(store, "ant", card="")
    append(store, "ant", card="")
    append(store, "bee", card='{"own":true}')
    with store.write() as tx:
        tx.fill_card("ant", 1, '{"stale":true}')  # not the latest
        tx.fill_card("bee", 1, '{"filled":true}')  # has its own
        tx.fill_card("cat", 1, '{"filled":true}')  # not stored
    assert store.latest_cards(["ant", "bee", "cat"]) == {
        "ant": ArtifactCard(2, 42, ""), "bee": ArtifactCard(1, 42, '{"own":true}')}
    with store.write() as tx:
        tx.fill_card("ant", 2, '{"filled":true}')
    assert store.latest_cards(["ant"])["ant"] == ArtifactCard(2, 42, '{"filled":true}')
    assert store.slugs_without_card(after="", limit=10) == []
    assert store.latest("cat") is None


def test_a_version_published_while_cards_are_filled_keeps_its_own_card(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    append(store, "ant", passport=passport("ant"), card="")
    append(store, "bee", passport=passport("bee"), card="")
    read_latest = store.latest

    def publish_meanwhile(slug: str) -> StoredVersion | None:
        """The passport is read, then a new version (with its own card) is published before
        the card made from that passport is written."""
        stored = read_latest(slug)
        if slug == "ant":
            append(store, "ant", passport=passport("ant"), card='{"fresh":true}')
        return stored

    monkeypatch.setattr(store, "latest", publish_meanwhile)
    fill_missing_cards(store)
    monkeypatch.undo()
    assert store.latest_cards(["ant", "bee"]) == {
        "ant": ArtifactCard(2, 42, '{"fresh":true}'), "bee": ArtifactCard(1, 42, card_of("bee"))}


def test_a_filled_card_counts_sourced_adoption_from_the_passports_provenance(
        store: Store) -> None:
    """The provenance beside the body says whether counts were sourced: a card filled from
    an old version gets the adoption prior an importer's counts earn, and none for the same
    counts an unverified builder declared."""
    def signed(slug: str, origin: str) -> bytes:
        body = passport_body(slug)
        body["trust"]["community"] = {"stars": 20_000}
        return json.dumps({"unfragile": body, "signature": "fake",
                           "provenance": {"trust.community": origin}}).encode()

    append(store, "ant", passport=signed("ant", "sourced: a catalog (x)"), card="")
    append(store, "bee", passport=signed("bee", "declared"), card="")
    assert fill_missing_cards(store) == 2
    cards = store.latest_cards(["ant", "bee"])
    assert json.loads(cards["ant"].card)["adoption"] > 0.9
    assert json.loads(cards["bee"].card)["adoption"] == 0.0
