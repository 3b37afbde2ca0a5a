"""Retrieval (search/documents.py, search/engine.py): what is indexed, keyword and dense
retrieval and their fusion, the trust prior, the declared-intent bonus, and query bounds."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.bootstrap import assemble_registry
from capgraph.core.scoring import ADOPTION_PRIOR_WEIGHT
from capgraph.errors import BadRequest
from capgraph.http.shapes import search_json
from capgraph.registry import Registry
from capgraph.search.documents import ARTIFACT_DOC, documents_for, normalize_intent, query_terms
from capgraph.search.engine import DECLARED_INTENT_BONUS, PRIOR_WEIGHT, Card, SearchEngine
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from tests.conftest import FIXED_NOW
from tests.searchkit import embedder
from tests.unit.factories import capability, long_text, manifest, to_yaml
from tests.wire import ProofEverywhere, verify_builder


def _manifest(slug: str, caps: list[dict[str, Any]], **artifact: Any) -> dict[str, Any]:
    data = manifest(capabilities=caps)
    data["artifact"].update({"slug": slug, "name": slug.replace("-", " ").title(), **artifact})
    return data


def _cap(cap_id: str, name: str, description: str, intents: list[str], **more: Any
         ) -> dict[str, Any]:
    return capability(cap_id, name=name, description=description, intents_served=intents,
                      **more)


# Field markers: made-up words that occur in exactly one field of one artifact.
FIELDS = {
    "capability name": "quorblat",
    "capability description": "vexmira",
    "intents": "plindrax",
    "best for": "snorvel",
    "input types": "glimtaff",
    "output types": "traskun",
    "artifact name": "wobbelix",
    "artifact description": "zentharo",
    "tags": "krumplet",
}

CORPUS = [
    _manifest("marker-tool", [
        _cap("marked", f"{FIELDS['capability name']} ledger reconciliation",
             long_text(f"ledger reconciliation with {FIELDS['capability description']}"),
             [f"reconcile {FIELDS['intents']} ledgers", "match bank lines to invoices"],
             conditions={"bestFor": [f"{FIELDS['best for']} accountants"],
                         "limitations": ["one currency per run"], "requires": ["a ledger"]},
             input_types=[f"{FIELDS['input types']} spreadsheet"],
             output_types=[f"{FIELDS['output types']} report"]),
        _cap("plain", "currency conversion", long_text("currency conversion at daily rates"),
             ["convert an amount between currencies", "look up an exchange rate"]),
        _cap("other", "tax form filling", long_text("tax form filling for freelancers"),
             ["fill in a tax return", "prepare tax forms"]),
    ], name=f"{FIELDS['artifact name']} Finance", description=FIELDS["artifact description"]
       + " keeps books for small firms", tags=[FIELDS["tags"], "finance"]),
    _manifest("speech-scribe", [
        _cap("transcribe", "speech transcription",
             long_text("speech transcription of recorded audio into text"),
             ["transcribe an audio recording", "turn a podcast into a transcript"]),
        _cap("diarize", "speaker diarization", long_text("speaker diarization of meetings"),
             ["tell apart who spoke when in a meeting", "label speakers in audio"]),
        _cap("subtitle", "subtitle timing", long_text("subtitle timing for videos"),
             ["create subtitles for a video", "align captions with speech"]),
    ]),
    _manifest("pixel-forge", [
        _cap("paint", "image generation from prompts",
             long_text("image generation from prompts with a diffusion model"),
             ["draw a picture from a description", "generate artwork from a prompt"]),
        _cap("upscale", "image upscaling", long_text("image upscaling of low resolution photos"),
             ["make a photo sharper", "increase image resolution"]),
        _cap("erase", "background removal", long_text("background removal from product photos"),
             ["remove the background of a photo", "cut out a product image"]),
    ]),
    _manifest("sky-cast", [
        _cap("forecast", "weather forecasting",
             long_text("weather forecasting for any city for the next ten days"),
             ["get the weather forecast for a city", "will it rain tomorrow"]),
        _cap("alerts", "storm alerts", long_text("storm alerts pushed for severe weather"),
             ["warn me about storms", "severe weather notifications"]),
        _cap("climate", "climate history", long_text("climate history of monthly averages"),
             ["average temperature in July", "historical climate data"]),
    ]),
]


def _registry(tmp: Path, *, dense: bool) -> Registry:
    registry = assemble_registry(store=MemoryStore(), keys=FileKeyStore(tmp / "keys"),
                        registry_name="capgraph-test", public_url="http://registry.test",
                        clock=lambda: FIXED_NOW, embedder=embedder() if dense else None)
    for data in CORPUS:
        registry.publish(to_yaml(data))
    return registry


@pytest.fixture(scope="module")
def keyword_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    registry = _registry(tmp_path_factory.mktemp("keyword"), dense=False)
    yield registry
    registry.store.close()


@pytest.fixture(scope="module")
def dense_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    registry = _registry(tmp_path_factory.mktemp("dense"), dense=True)
    yield registry
    registry.store.close()


def _body(registry: Registry, slug: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(registry.passport(slug).passport)["unfragile"]
    return body


def _top(registry: Registry, query: str, **kwargs: Any) -> tuple[str, str]:
    match = registry.search(query, **kwargs).matches[0]
    return match.slug, match.capabilities[0].name


# -- what is indexed -------------------------------------------------------------------------


def test_a_search_document_holds_every_field_of_its_capability_and_artifact(
        keyword_registry: Registry) -> None:
    body = _body(keyword_registry, "marker-tool")
    docs = documents_for(body, summary="zentharo keeps books for small firms")
    assert [d.cap_id for d in docs] == [c["id"] for c in body["capabilities"]] + [ARTIFACT_DOC]
    whole = docs[-1]  # the artifact as a whole: its name, description, every capability's name
    (key, text), (names_key, names) = whole.views()
    assert key == ARTIFACT_DOC and "zentharo" in text
    assert names_key == ARTIFACT_DOC + "#n" and "zentharo" not in names
    assert all(c["name"] in text and c["name"] in names for c in body["capabilities"])
    marked = next(d for d in docs if "quorblat" in d.name)
    text = " ".join([marked.name, marked.intents, marked.body, marked.artifact])
    for field, marker in FIELDS.items():
        assert marker in text, field
    assert "reconcile plindrax ledgers" in marked.declared_intents
    assert "snorvel" not in " ".join(marked.declared_intents)  # best-for is not an intent
    (purpose_key, purpose), (does_key, does) = marked.views()  # each its own unit vector
    assert (purpose_key, does_key) == (f"{marked.cap_id}#p", f"{marked.cap_id}#c")
    assert marked.summary and marked.summary in purpose
    assert marked.body in does and marked.body not in purpose


@pytest.mark.parametrize("field", list(FIELDS))
def test_every_indexed_field_is_searchable(keyword_registry: Registry, field: str) -> None:
    result = keyword_registry.search(f"{FIELDS[field]} please")
    assert [m.slug for m in result.matches] == ["marker-tool"]
    if field.startswith(("capability", "intents", "best", "input", "output")):
        assert result.matches[0].capabilities[0].name == "quorblat ledger reconciliation"


# -- keyword, dense and fusion ---------------------------------------------------------------


def test_dense_retrieval_finds_a_paraphrase_that_shares_no_word(
        keyword_registry: Registry, dense_registry: Registry) -> None:
    corpus_words = set(query_terms(json.dumps(CORPUS)))
    for query in ("write down everything said in this mp3", "dictation to typed notes"):
        assert not set(query_terms(query)) & corpus_words  # no word for BM25 to match on
        assert keyword_registry.search(query).matches == []
        assert dense_registry.search(query).matches[0].slug == "speech-scribe"


@pytest.mark.parametrize(("query", "expected"), [
    ("what will the weather be in Paris on Sunday", ("sky-cast", "weather forecasting")),
    ("erase what is behind my product in a photo", ("pixel-forge", "background removal")),
    ("who said what in our team call", ("speech-scribe", "speaker diarization")),
    ("paint me a dragon over a castle", ("pixel-forge", "image generation from prompts")),
])
def test_fused_ranking_puts_the_intended_capability_first(
        dense_registry: Registry, query: str, expected: tuple[str, str]) -> None:
    assert _top(dense_registry, query) == expected


def test_keyword_only_relevance_is_bm25_relative_to_the_best_hit(
        keyword_registry: Registry) -> None:
    candidates = keyword_registry.engine.candidates("storm alerts for severe weather")
    assert candidates[0].card.slug == "sky-cast"
    assert candidates[0].relevance == pytest.approx(1.0)
    assert all(0 < c.relevance <= 1.0 for c in candidates)
    assert candidates[0].caps[0][0] == "sky-cast__cap_1"  # storm alerts, the second listed


def test_match_scores_are_fractions_best_first(dense_registry: Registry) -> None:
    result = dense_registry.search("transcribe a podcast", limit=4)
    scores = [m.match_score for m in result.matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    for m in result.matches:
        caps = [c.match_score for c in m.capabilities]
        assert 1 <= len(caps) <= 3 and caps == sorted(caps, reverse=True)
    ids = [m.match_record_id for m in result.matches]
    assert len(set(ids)) == len(ids) and all(i.startswith("m_") for i in ids)
    assert search_json(result)["matches"][0]["artifact"]["unfragileRank"] == \
        result.matches[0].unfragile_rank


# -- the trust prior -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Two artifacts with the same capabilities but different UnfragileRank, and a famous
    artifact that does something else."""
    registry = assemble_registry(store=MemoryStore(),
                                 keys=FileKeyStore(tmp_path_factory.mktemp("k")),
                                 registry_name="capgraph-test", public_url="http://registry.test",
                                 clock=lambda: FIXED_NOW, embedder=embedder(),
                                 checker=ProofEverywhere())
    caps = CORPUS[3]["capabilities"]
    famous = _manifest("famous-pixels", CORPUS[2]["capabilities"])
    for data in (_manifest("obscure-weather", caps), famous,
                 _manifest("popular-weather", caps)):
        if data["artifact"]["slug"] != "obscure-weather":
            data["community"] = {"stars": 200_000, "weekly_downloads": 5_000_000}
        registry.publish(to_yaml(data))
        if "community" in data:  # declared adoption counts for verified builders only
            verify_builder(registry, data["artifact"]["slug"])
    yield registry
    registry.store.close()


def test_the_trust_prior_breaks_ties_between_equal_matches(twins: Registry) -> None:
    ranks = {s: twins.passport(s).score for s in ("obscure-weather", "popular-weather")}
    assert ranks["popular-weather"] > ranks["obscure-weather"]
    candidates = twins.engine.candidates("will it rain tomorrow in Oslo")
    assert [c.card.slug for c in candidates[:2]] == ["popular-weather", "obscure-weather"]
    a, b = candidates[0], candidates[1]
    assert a.relevance == pytest.approx(b.relevance, abs=1e-6)
    assert a.card.adoption > 0 == b.card.adoption  # a verified builder's counts are sourced
    for c in (a, b):
        assert c.rank_score - c.relevance == pytest.approx(
            PRIOR_WEIGHT * c.card.score / 100 + ADOPTION_PRIOR_WEIGHT * c.card.adoption)


def test_the_trust_prior_never_lifts_an_artifact_that_does_not_match(twins: Registry) -> None:
    assert twins.passport("famous-pixels").score > twins.passport("obscure-weather").score
    slugs = [m.slug for m in twins.search("ten day weather forecast for Oslo", limit=3).matches]
    assert slugs.index("obscure-weather") < slugs.index("famous-pixels")


# -- declared intents ------------------------------------------------------------------------


def test_a_query_that_is_a_declared_intent_gets_the_bonus(dense_registry: Registry) -> None:
    assert normalize_intent("  Remove the BACKGROUND of a photo! ") == \
        "remove the background of a photo"
    exact = dense_registry.engine.candidates("Remove the background of a photo!")
    paraphrase = dense_registry.engine.candidates("remove the background from a picture")
    assert exact[0].card.slug == "pixel-forge"
    erase = "pixel-forge__cap_2"  # background removal, the third listed
    assert exact[0].caps[0][0] == erase
    best = dict(exact[0].caps)[erase]
    other = dict(paraphrase[0].caps)[erase]
    assert best >= DECLARED_INTENT_BONUS
    assert best - other > DECLARED_INTENT_BONUS / 2


def test_a_declared_intent_outranks_a_closer_name(dense_registry: Registry) -> None:
    # "label speakers in audio" is declared by diarization; transcription's text is about
    # audio too, and the bonus settles it.
    assert _top(dense_registry, "label speakers in audio") == \
        ("speech-scribe", "speaker diarization")


# -- filters and bounds ----------------------------------------------------------------------


def test_the_type_filter_keeps_only_that_type(tmp_path: Path) -> None:
    registry = assemble_registry(store=MemoryStore(), keys=FileKeyStore(tmp_path / "keys"),
                        registry_name="capgraph-test", public_url="http://registry.test",
                        clock=lambda: FIXED_NOW)
    for data, kind in ((CORPUS[3], "api"), (_manifest("sky-mcp", CORPUS[3]["capabilities"]),
                                            "mcp")):
        data = json.loads(json.dumps(data))
        data["artifact"]["type"] = kind
        registry.publish(to_yaml(data))
    assert {m.slug for m in registry.search("weather forecast").matches} == \
        {"sky-cast", "sky-mcp"}
    assert [m.slug for m in registry.search("weather forecast", artifact_type="mcp").matches] \
        == ["sky-mcp"]
    assert registry.search("weather forecast", artifact_type="model").matches == []


@pytest.mark.parametrize("query", ["", "x", "  x  ", "y" * 501])
def test_a_query_outside_2_to_500_characters_is_refused(
        keyword_registry: Registry, query: str) -> None:
    with pytest.raises(BadRequest, match="2 to 500"):
        keyword_registry.search(query)


@pytest.mark.parametrize("limit", [0, -1, 21])
def test_a_limit_outside_1_to_20_is_refused(keyword_registry: Registry, limit: int) -> None:
    with pytest.raises(BadRequest, match="limit"):
        keyword_registry.search("weather", limit=limit)


def test_limits_at_the_bounds_are_accepted(keyword_registry: Registry) -> None:
    assert len(keyword_registry.search("ab" + "c" * 498, limit=1).matches) <= 1
    assert len(keyword_registry.search("photo weather audio", limit=20).matches) == 3


def test_query_terms_drop_stopwords_and_repeats() -> None:
    assert query_terms("How do I find THE weather, the weather for Oslo?") == \
        ["weather", "oslo"]
    assert query_terms("the a of") == []


# -- lazy ranking ---------------------------------------------------------------------------
class _FakeEngine(SearchEngine):
    """``ranked`` over given relevances and scores, counting the cards it reads."""

    def __init__(self, relevance: dict[str, float], scores: dict[str, int]) -> None:
        self._relevance = relevance
        self._scores = scores
        self.read: list[str] = []

    def _scored(self, text: str, artifact_type: str | None
                ) -> dict[str, list[tuple[float, str, float, float]]]:
        return {slug: [(-rel, f"{slug}__cap_0", 0.0, rel)] for slug, rel in
                self._relevance.items()}

    def cards(self, slugs: list[str]) -> dict[str, Card]:
        self.read.extend(slugs)
        return {s: Card(s, 1, score=self._scores[s], load=lambda *_: {}) for s in slugs
                if s in self._scores}


def _reference(relevance: dict[str, float], scores: dict[str, int]) -> list[str]:
    keyed = [(-(PRIOR_WEIGHT * min(scores[s], 100) / 100 + r), s) for s, r in relevance.items()
             if s in scores]
    return [s for _, s in sorted(keyed)]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4),
                       st.tuples(st.sampled_from([0.0, 0.1, 0.5, 0.52, 0.55, 0.9, 1.0, 1.5]) |
                                 st.floats(0, 1.6),
                                 st.sampled_from([0, 50, 100]) | st.integers(0, 100),
                                 st.booleans()),
                       max_size=80))
def test_lazy_ranking_is_the_full_sort(data: dict[str, tuple[float, int, bool]]) -> None:
    """Same order as scoring everything (ties included), and unknown artifacts left out."""
    relevance = {s: r for s, (r, _, _) in data.items()}
    scores = {s: score for s, (_, score, known) in data.items() if known}
    engine = _FakeEngine(relevance, scores)
    assert [c.card.slug for c in engine.ranked("q")] == _reference(relevance, scores)


def test_lazy_ranking_reads_few_cards_for_the_first_answers() -> None:
    relevance = {f"a{i:03d}": 1.0 - i / 300 for i in range(300)}  # spread like real queries
    engine = _FakeEngine(relevance, dict.fromkeys(relevance, 50))
    first = list(itertools.islice(engine.ranked("q"), 7))
    assert [c.card.slug for c in first] == _reference(relevance, engine._scores)[:7]
    assert len(engine.read) <= 48  # two small batches, not 300 cards


def test_remembered_cards_are_bounded_and_stay_right(
        keyword_registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    import capgraph.search.engine as engine_module

    monkeypatch.setattr(engine_module, "LATEST_REMEMBERED", 1)
    engine = keyword_registry.engine
    slugs = [row.slug for row in keyword_registry.store.artifacts()]
    assert len(slugs) >= 3
    for slug in slugs:
        card = engine.card(slug)
        assert card is not None and card.version == keyword_registry.store.latest(slug).version
        assert len(engine._latest) <= 2  # the bound, plus the one just read
