"""The adoption prior in ranking (core/scoring.py ``adoption_prior``, search/engine.py): only
sourced counts (an importer's, or a verified builder's) add to a rank score, never an
unverified builder's own numbers; it is bounded, so it reorders ties and never a clearly better
text match; and a corpus with no counts (the retrieval dev set) gets exactly nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capgraph.bootstrap import assemble_registry
from capgraph.core.scoring import ADOPTION_PRIOR_WEIGHT, ADOPTION_SCALES, adoption_prior
from capgraph.importers.entries import Mapped
from capgraph.registry import Registry
from capgraph.search.cards import card_facts, card_json
from capgraph.search.corpus import body_from_entry
from capgraph.search.engine import MAX_PRIOR, PRIOR_WEIGHT, Card
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from tests.conftest import FIXED_NOW
from tests.unit.factories import capability, long_text, manifest, to_yaml
from tests.wire import ProofEverywhere, verify_builder

QUERY = "forecast harbour tide heights"
TIDES = capability("tides", name="tide height forecast",
                   description=long_text("forecast of harbour tide heights for a port"),
                   intents_served=["forecast tide heights in a harbour",
                                   "when is high water at the port"])


def _twin(slug: str, **more: Any) -> dict[str, Any]:
    """A model manifest whose text is the same as every other twin's but for its slug."""
    data = manifest(capabilities=[TIDES], **more)
    data["artifact"].update({"slug": slug, "name": "Twin", "type": "model"})
    return data


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = assemble_registry(store=MemoryStore(), keys=FileKeyStore(tmp_path / "keys"),
                            registry_name="capgraph-test", public_url="http://registry.test",
                            clock=lambda: FIXED_NOW, embedder=None,
                            checker=ProofEverywhere())
    try:
        yield reg
    finally:
        reg.store.close()


def _import(registry: Registry, data: dict[str, Any], **sourced: int) -> None:
    """What an importer does with counts it read from its source (registry/importing.py)."""
    registry._importing.import_mapped(Mapped(name=data["artifact"]["slug"], manifest=data,
                                             sourced=sourced),
                                      fmt="hf-model-card", source_url="https://hub.test/m",
                                      publisher_id=None)


def _ranked(registry: Registry) -> dict[str, tuple[int, float, float]]:
    """slug -> (place, relevance, rank score) for ``QUERY``."""
    return {c.card.slug: (i, c.relevance, c.rank_score)
            for i, c in enumerate(registry.engine.ranked(QUERY))}


def test_an_unverified_builders_ten_million_stars_gain_nothing(registry: Registry) -> None:
    registry.publish(to_yaml(_twin("a-plain")))
    registry.publish(to_yaml(_twin("z-boaster", community={"stars": 10_000_000,
                                                            "model_downloads": 10_000_000})))
    ranked = _ranked(registry)
    assert ranked["a-plain"][1] == ranked["z-boaster"][1]  # a tie on text
    assert ranked["z-boaster"][2] == ranked["a-plain"][2]  # and on rank score
    assert ranked["a-plain"][0] < ranked["z-boaster"][0]  # the tie goes by slug
    assert registry.engine.card("z-boaster").adoption == 0.0  # type: ignore[union-attr]


def test_the_same_number_from_an_importer_lifts_a_tie(registry: Registry) -> None:
    registry.publish(to_yaml(_twin("a-plain")))
    _import(registry, _twin("z-sourced"), model_downloads=10_000_000)
    ranked = _ranked(registry)
    plain, sourced = registry.engine.card("a-plain"), registry.engine.card("z-sourced")
    assert plain is not None and sourced is not None
    assert ranked["a-plain"][1] == ranked["z-sourced"][1]
    assert ranked["z-sourced"][0] < ranked["a-plain"][0]
    share = sourced.adoption
    assert share == pytest.approx(
        round(_log_share(10_000_000, ADOPTION_SCALES["model"]["model_downloads"]), 4))
    # the rank score carries the adoption prior on top of the trust prior, nothing else
    lift = ranked["z-sourced"][2] - ranked["a-plain"][2]
    assert lift == pytest.approx(PRIOR_WEIGHT * (sourced.score - plain.score) / 100
                                 + ADOPTION_PRIOR_WEIGHT * share)


def test_a_verified_builders_declared_count_lifts_a_tie(registry: Registry) -> None:
    registry.publish(to_yaml(_twin("a-plain")))
    registry.publish(to_yaml(_twin("z-verified", community={"stars": 10_000_000})))
    assert registry.engine.card("z-verified").adoption == 0.0  # type: ignore[union-attr]
    verify_builder(registry, "z-verified")
    card = registry.engine.card("z-verified")
    assert card is not None and card.verified and card.adoption == 1.0  # capped at the scale
    ranked = _ranked(registry)
    assert ranked["z-verified"][0] < ranked["a-plain"][0]


def test_the_prior_never_overturns_a_clearly_better_text_match(registry: Registry) -> None:
    weak = capability("weak", name="harbour webcam stream",
                      description=long_text("live video of a harbour quay"),
                      intents_served=["watch a live harbour camera"])
    data = manifest(capabilities=[weak])
    data["artifact"].update({"slug": "a-popular", "name": "Popular", "type": "model"})
    _import(registry, data, model_downloads=10**12, model_likes=10**9)  # past every scale
    registry.publish(to_yaml(_twin("z-unknown")))
    popular = registry.engine.card("a-popular")
    assert popular is not None and popular.adoption == 1.0
    ranked = _ranked(registry)
    assert ranked["z-unknown"][1] - ranked["a-popular"][1] > MAX_PRIOR  # clearly better
    assert ranked["z-unknown"][0] < ranked["a-popular"][0]


def test_counts_from_elsewhere_or_without_provenance_are_not_sourced() -> None:
    body = {"artifact": {"type": "model"},
            "trust": {"verified": True, "community": {"model_downloads": 5_000_000}}}
    assert adoption_prior(body, None) == 0.0  # no provenance: nothing says who counted
    assert adoption_prior(body, {"source": "imported: signed by elsewhere"}) == 0.0
    assert adoption_prior({**body, "trust": {**body["trust"], "verified": False}},
                          {"trust.community": "declared"}) == 0.0
    assert adoption_prior(body, {"trust.community": "declared"}) > 0.0  # verified builder
    assert adoption_prior({**body, "trust": {"verified": False, "community": {
        "model_downloads": True, "stars": -4, "model_likes": None}}},
        {"trust.community": "sourced: x"}) == 0.0  # no count a log can read


def test_the_eval_corpus_gets_exactly_no_adoption_prior() -> None:
    """The dev set's lines carry no counts: every card's prior is what it was without the
    adoption prior (the trust prior alone), so ``capgraph eval`` cannot move."""
    body = body_from_entry({"slug": "weather", "name": "Weather", "capabilities": [
        {"name": "forecast", "description": "weather forecast", "intents": ["rain?"]}]},
        version="2026-12")
    for provenance in (None, {"trust.community": "sourced: a catalog"}):
        facts = json.loads(card_json(body, provenance))
        assert facts["adoption"] == 0.0
        card = Card("weather", 1, body, card=json.dumps(facts))
        assert card.prior == PRIOR_WEIGHT * body["trust"]["score"] / 100


@given(st.integers(min_value=-10, max_value=10**15), st.sampled_from(list(ADOPTION_SCALES)),
       st.integers(min_value=0, max_value=1_000))
def test_the_prior_is_bounded(count: int, kind: str, score: int) -> None:
    body = {"artifact": {"type": kind, "name": "x", "url": "", "status": "active"},
            "capabilities": [],
            "trust": {"verified": False, "data_access_risk": "low", "score": score,
                      "rank_breakdown": {"quality": 0.5},
                      "community": {"stars": count, "model_downloads": count}}}
    share = card_facts(body, {"trust.community": "sourced: x"})["adoption"]
    assert 0.0 <= share <= 1.0
    assert (share > 0) == (count > 0)
    card = Card("x", 1, body, score=score, card=json.dumps({"adoption": share * 7}))
    assert 0.0 <= card.prior <= MAX_PRIOR == PRIOR_WEIGHT + ADOPTION_PRIOR_WEIGHT


def _log_share(count: int, scale: int) -> float:
    import math
    return min(1.0, math.log1p(count) / math.log1p(scale))
