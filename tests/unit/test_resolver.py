"""Resolve (search/resolver.py): risk postures, capability URIs and phrases, confidence, the
"no confident match" answer, and argument checks."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.errors import BadRequest
from capgraph.registry import Registry
from capgraph.search.calibration import FEATURES
from capgraph.search.engine import Card
from capgraph.search.resolver import FEATURE_PICKS, RESOLVER_VERSION, passes
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from tests.conftest import FIXED_NOW
from tests.searchkit import LUNAR_INTENT, POSTURE_ADMITS, embedder, posture_manifests
from tests.unit.factories import capability, long_text, manifest, seed_by_slug, to_yaml
from tests.wire import resolve_json

SEED = "qwen-qwen3-coder"
VOICE = "text-generation-language"
LUNAR = {f"lunar-{s}" for s in ("good", "deprecated", "risky", "archived", "low-quality")}


def _cap(cap_id: str, name: str, intents: list[str], category: str = "data-processing-analysis"
         ) -> dict[str, Any]:
    return capability(cap_id, name=name, description=long_text(name), intents_served=intents,
                      categories=[category])


def _manifest(slug: str, kind: str, caps: list[dict[str, Any]]) -> dict[str, Any]:
    data = manifest(capabilities=caps)
    data["artifact"].update({"slug": slug, "name": slug.replace("-", " ").title(), "type": kind})
    return data


CORPUS = [
    _manifest("ocr-desk", "api", [
        _cap("ocr", "optical character recognition of scanned pages",
             ["read the text of a scanned page", "ocr a photographed receipt"], "image-visual"),
        _cap("tables", "table extraction from scanned documents",
             ["extract tables from scanned invoices", "turn a table image into csv"]),
        _cap("forms", "form field extraction", ["pull fields out of a filled form"]),
    ]),
    _manifest("pdf-kit", "repo", [
        _cap("convert", "pdf to markdown conversion", ["convert a pdf to markdown"]),
        _cap("tables", "table structure recognition in pdfs",
             ["recover the table structure of a pdf"]),
        _cap("split", "pdf page splitting", ["split a pdf into single pages"]),
    ]),
    _manifest("voice-box", "model", [
        _cap("tts", "text to speech synthesis", ["read this paragraph aloud"], VOICE),
        _cap("clone", "voice cloning", ["clone my voice from a sample"], VOICE),
        _cap("stt", "speech recognition", ["transcribe a voice memo"], VOICE),
    ]),
]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = assemble_registry(store=MemoryStore(), keys=FileKeyStore(tmp_path_factory.mktemp("keys")),
                   registry_name="capgraph-test", public_url="http://registry.test",
                   clock=lambda: FIXED_NOW, embedder=embedder())
    for data in [*CORPUS, *posture_manifests().values()]:
        reg.publish(to_yaml(data))
    reg.import_passport(seed_by_slug(SEED))
    yield reg
    reg.store.close()


def _uri(registry: Registry, slug: str, name: str) -> str:
    body = json.loads(registry.passport(slug).passport)["unfragile"]
    return str(next(c["uri"] for c in body["capabilities"] if c["name"] == name))


# -- risk postures ---------------------------------------------------------------------------


def _card(**changes: Any) -> Card:
    body = copy.deepcopy(seed_by_slug(SEED)["passport"]["unfragile"])
    body["artifact"]["status"] = changes.get("status", "active")
    trust = body["trust"]
    trust["rank_breakdown"]["quality"] = changes.get("quality", 0.9)
    trust["score"] = changes.get("score", 60)
    trust["data_access_risk"] = changes.get("risk", "low")
    trust["verified"] = changes.get("verified", False)
    return Card("x", 1, body)


@pytest.mark.parametrize(("changes", "admitted_by"), [
    ({}, {"default", "production", "enterprise"}),
    ({"verified": True}, {"default", "production", "enterprise", "strict"}),
    ({"status": "deprecated", "verified": True}, {"default"}),
    ({"status": "archived", "verified": True}, set()),
    ({"quality": 0.49, "verified": True}, {"default"}),
    ({"quality": 0.55, "verified": True}, {"default", "production"}),
    ({"quality": 0.65, "verified": True}, {"default", "production", "enterprise"}),
    ({"score": 24, "verified": True}, {"default"}),
    ({"risk": "high"}, {"default", "production"}),
    ({"risk": "high", "verified": True}, {"default", "production", "enterprise"}),
    ({"risk": "moderate", "verified": True}, {"default", "production", "enterprise", "strict"}),
])
def test_each_posture_gates_status_quality_rank_and_risk(
        changes: dict[str, Any], admitted_by: set[str]) -> None:
    card = _card(**changes)
    got = {p for p in ("default", "production", "enterprise", "strict") if passes(p, card)}
    assert got == admitted_by


def test_each_posture_admits_a_subset_of_the_one_before() -> None:
    postures = ["default", "production", "enterprise", "strict"]
    for status in ("active", "deprecated", "archived"):
        for quality in (0.3, 0.55, 0.65, 0.8):
            for score in (10, 30):
                for risk in ("low", "moderate", "high"):
                    for verified in (False, True):
                        card = _card(status=status, quality=quality, score=score, risk=risk,
                                     verified=verified)
                        admitted = [passes(p, card) for p in postures]
                        assert admitted == sorted(admitted, reverse=True), (card, admitted)


@pytest.mark.parametrize("risk", list(POSTURE_ADMITS))
def test_resolve_applies_the_posture_before_ranking(registry: Registry, risk: str) -> None:
    answer = resolve_json(registry, LUNAR_INTENT, limit=10, risk=risk)
    slugs = {r["artifact"]["slug"] for r in answer["resolved"]} & LUNAR
    assert slugs == POSTURE_ADMITS[risk]
    assert answer["risk"] == risk
    if not slugs:
        assert answer["reason"] == "filtered-by-risk"  # they match: the posture removed them
        assert all(f["gates"] for f in answer["filteredByRisk"])
        assert not {a["slug"] for a in answer["alternatives"]} & {
            "lunar-deprecated", "lunar-low-quality", "lunar-risky", "lunar-archived"}


def test_an_archived_artifact_is_never_resolved(registry: Registry) -> None:
    for risk in POSTURE_ADMITS:
        answer = resolve_json(registry, LUNAR_INTENT, limit=10, risk=risk)
        everything = answer["resolved"] + answer.get("alternatives", [])
        assert "lunar-archived" not in json.dumps(everything)


# -- capability URIs and phrases -------------------------------------------------------------


def test_an_exact_uri_resolves_to_that_capability_whatever_the_intent(
        registry: Registry) -> None:
    uri = _uri(registry, "pdf-kit", "pdf page splitting")
    for intent in ("I need this", "read this paragraph aloud"):
        answer = resolve_json(registry, intent, capability=uri)
        assert answer["resolved"], answer
        assert {r["capability"]["uri"] for r in answer["resolved"]} == {uri}
        assert answer["resolved"][0]["artifact"]["slug"] == "pdf-kit"


def test_an_exact_uri_of_a_seed_capability(registry: Registry) -> None:
    body = seed_by_slug(SEED)["passport"]["unfragile"]
    for cap in body["capabilities"][:4]:
        answer = resolve_json(registry, "help me with my code", capability=cap["uri"])
        assert answer["resolved"][0]["capability"]["id"] == cap["id"]


def test_a_uri_prefix_restricts_to_that_category(registry: Registry) -> None:
    prefix = "capability://image.visual"
    assert _uri(registry, "ocr-desk", "optical character recognition of scanned pages") \
        .startswith(prefix + ".")
    intent = "extract tables from scanned invoices"
    unrestricted = resolve_json(registry, intent, limit=5)
    assert unrestricted["resolved"][0]["capability"]["name"] == \
        "table extraction from scanned documents"
    answer = resolve_json(registry, intent, limit=5, capability=prefix)
    assert answer["resolved"]
    assert all(r["capability"]["uri"].startswith(prefix + ".") for r in answer["resolved"])
    assert answer["resolved"][0]["capability"]["name"] == \
        "optical character recognition of scanned pages"


def test_a_prefix_matches_whole_segments_only(registry: Registry) -> None:
    uri = _uri(registry, "voice-box", "voice cloning")
    cut = uri[: uri.rindex(".") + 3]  # ends in the middle of the last segment
    answer = resolve_json(registry, "clone my voice from a sample", capability=cut)
    assert answer["resolved"] == []
    assert answer["alternatives"] == []
    whole = uri[: uri.rindex(".")]
    assert resolve_json(registry, "clone my voice from a sample", capability=whole)["resolved"]


def test_a_phrase_narrows_the_query(registry: Registry) -> None:
    answer = resolve_json(registry, "do it for me", capability="table structure of a pdf")
    assert answer["resolved"][0]["artifact"]["slug"] == "pdf-kit"
    assert answer["resolved"][0]["capability"]["name"] == "table structure recognition in pdfs"
    assert answer["resolved"][0]["capability"]["intent"] == "do it for me"


def test_the_type_filter_applies(registry: Registry) -> None:
    answer = resolve_json(registry, "extract tables from scanned invoices", artifact_type="repo")
    assert {r["artifact"]["type"] for r in answer["resolved"]} == {"repo"}


# -- confidence ------------------------------------------------------------------------------


def test_no_confident_match_for_an_intent_nothing_serves(registry: Registry) -> None:
    answer = resolve_json(registry, "bake a chocolate cake with sprinkles")
    assert answer["resolved"] == []
    assert answer["message"] == "no confident match"
    assert 0 <= answer["matchConfidence"] < registry.resolver.calibrator.threshold
    assert 1 <= len(answer["alternatives"]) <= 5
    for alt in answer["alternatives"]:
        assert set(alt) >= {"slug", "name", "why_alternative"}
        assert registry.passport(alt["slug"])


def test_confidence_never_rises_down_the_ranking(registry: Registry) -> None:
    for intent in ("extract tables from scanned invoices", "transcribe a voice memo",
                   LUNAR_INTENT, "read the text of a scanned page"):
        answer = resolve_json(registry, intent, limit=10)
        confidences = [r["matchConfidence"] for r in answer["resolved"]]
        assert confidences, intent
        assert confidences == sorted(confidences, reverse=True), (intent, confidences)
        assert all(0 <= c <= 1 for c in confidences)


def test_confidence_features_read_the_leading_picks_the_same_whatever_a_resolve_asks(
        registry: Registry) -> None:
    resolver = registry.resolver
    for intent in ("extract tables from scanned invoices", "transcribe a voice memo",
                   LUNAR_INTENT, "bake a chocolate cake"):
        picks = resolver.rank(intent, None, None, "default")  # every pick
        assert len(picks) > FEATURE_PICKS, intent
        seen = resolver.features(intent, picks)
        # what eval records (need=5) is what a resolve of any limit computes (need >= 5)
        for need in (5, 7, 14):
            assert resolver.features(intent, resolver.rank(intent, None, None, "default",
                                                           need=need)) == seen, (intent, need)
        top, rest = picks[0], picks[1:FEATURE_PICKS]
        assert seen["dense_first"] == float(top.cand.cosine >= max(p.cand.cosine for p in rest))
        assert seen["dense_rank"] == sum(p.cand.cosine > top.cand.cosine for p in rest) / 4
        assert seen["keyword_rank"] == sum(p.cand.raw > top.cand.raw for p in rest) / 4
        assert seen["crowd"] == sum(top.score - p.score <= 0.05 for p in rest) / 4
        assert seen["top_score"] == top.score
        assert seen["words"] == len(intent.split()) / 30
        assert set(seen) == set(FEATURES)
    # a hand-made ranking: the top answer is third on the dense side and first on keywords
    picks = resolver.rank("transcribe a voice memo", None, None, "default")[:3]
    cands = [type("C", (), {"cosine": c, "raw": r})() for c, r in ((0.5, 9.0), (0.7, 3.0),
                                                                     (0.6, 0.0))]
    made = [type("P", (), {"cand": c, "score": s, "cap": p.cap})()
            for c, s, p in zip(cands, (0.9, 0.87, 0.5), picks, strict=True)]
    seen = resolver.features("transcribe a voice memo", made)  # type: ignore[arg-type]
    assert (seen["dense_first"], seen["dense_rank"]) == (0.0, 1.0)
    assert (seen["keyword_first"], seen["keyword_rank"]) == (1.0, 0.0)
    assert seen["crowd"] == 0.5  # 0.87 is within 0.05 of 0.9, 0.5 is not
    assert seen["keyword_lead"] == pytest.approx(
        (math.log1p(9.0) - math.log1p(3.0)) / math.log1p(50.0))


def test_a_declared_intent_is_resolved_confidently(registry: Registry) -> None:
    answer = resolve_json(registry, "Turn a table image into CSV")
    top = answer["resolved"][0]
    assert (top["artifact"]["slug"], top["capability"]["name"]) == \
        ("ocr-desk", "table extraction from scanned documents")
    assert top["matchConfidence"] >= registry.resolver.calibrator.threshold


def test_limit_bounds_the_answer(registry: Registry) -> None:
    assert len(resolve_json(registry, "extract tables", limit=1)["resolved"]) == 1
    assert len(resolve_json(registry, LUNAR_INTENT, limit=2)["resolved"]) == 2


def test_the_answer_names_the_resolver_and_its_request(registry: Registry) -> None:
    a = resolve_json(registry, "convert a pdf to markdown")
    b = resolve_json(registry, "convert a pdf to markdown")
    assert a["resolverVersion"] == b["resolverVersion"] == RESOLVER_VERSION
    assert a["resolveId"] != b["resolveId"] and a["resolveId"].startswith("r_")
    assert a["resolvedAt"] == "2026-11-01T12:00:00.000Z"
    tokens = [r["callbackToken"] for r in a["resolved"]]
    assert len(set(tokens)) == len(tokens)


# -- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"intent": "x"}, "intent must be 2 to 500"),
    ({"intent": "x" * 501}, "intent must be 2 to 500"),
    ({"intent": "ocr", "limit": 0}, "limit"),
    ({"intent": "ocr", "limit": 11}, "limit"),
    ({"intent": "ocr", "risk": "reckless"}, "risk must be one of"),
    ({"intent": "ocr", "capability": "c" * 501}, "capability"),
])
def test_bad_arguments_are_refused(registry: Registry, kwargs: dict[str, Any],
                                   message: str) -> None:
    intent = kwargs.pop("intent")
    with pytest.raises(BadRequest, match=message):
        resolve_json(registry, intent, **kwargs)
