"""Compact cards (search/cards.py): written with every version, equal to what the passport
says, filled in for databases from before them, and enough for ranking without a passport."""

from __future__ import annotations

import json
from pathlib import Path

from capgraph.bootstrap import assemble_registry
from capgraph.registry import Registry
from capgraph.search.cards import card_facts, card_json
from capgraph.search.engine import Card
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from capgraph.storage.sqlite import SQLiteStore
from tests.conftest import FIXED_NOW
from tests.unit.factories import capability, long_text, manifest, to_yaml


def _registry(store: MemoryStore | SQLiteStore, tmp_path: Path) -> Registry:
    return assemble_registry(store=store, keys=FileKeyStore(tmp_path / "keys"),
                    registry_name="capgraph-test", public_url="http://registry.test",
                    clock=lambda: FIXED_NOW)


def _publish(registry: Registry, slug: str) -> dict:
    data = manifest(capabilities=[
        capability("ocr", name="Scan to text", description=long_text("reads scanned pages")),
        capability("tables", name="Table finder", description=long_text("finds tables")),
    ])
    data["artifact"].update({"slug": slug, "name": slug.title()})
    stored = registry.publish(to_yaml(data)).stored
    body: dict = json.loads(stored.passport)["unfragile"]
    return body


def test_each_version_stores_the_card_of_its_passport(tmp_path: Path) -> None:
    for store in (MemoryStore(), SQLiteStore(tmp_path / "cg.db")):
        registry = _registry(store, tmp_path)
        body = _publish(registry, "scanlab")
        version, score, card = store.latest_cards(["scanlab"])["scanlab"]
        assert json.loads(card) == card_facts(body) == json.loads(card_json(body))
        assert (version, score) == (1, body["trust"]["score"])
        facts = json.loads(card)
        assert facts["caps"] == [[c["id"], c["uri"], c["name"]] for c in body["capabilities"]]
        assert facts["status"] == body["artifact"]["status"]


def test_a_card_answers_like_its_passport_without_reading_it(tmp_path: Path) -> None:
    body = _publish(_registry(MemoryStore(), tmp_path), "scanlab")
    reads: list[str] = []

    def load(slug: str, version: int) -> dict:
        reads.append(slug)
        return body

    from_card = Card("scanlab", 1, score=40, card=card_json(body), load=load)
    from_body = Card("scanlab", 1, body)  # no card: everything from the passport
    for card in (from_card, from_body):
        cap_id = body["capabilities"][1]["id"]
        assert card.brief(cap_id) == (body["capabilities"][1]["uri"], "Table finder")
        assert card.brief("nope") is None
        assert (card.name, card.type, card.url, card.status) == (
            body["artifact"]["name"], body["artifact"]["type"], body["artifact"]["url"],
            body["artifact"]["status"])
        assert (card.quality, card.risk, card.verified) == (
            body["trust"]["rank_breakdown"]["quality"], body["trust"]["data_access_risk"],
            body["trust"]["verified"])
        assert card.description == body["capabilities"][0]["description"]
    assert reads == []  # the card was enough
    assert from_card.capability(body["capabilities"][0]["id"]) == body["capabilities"][0]
    assert reads == ["scanlab"]  # a whole capability comes from the passport

