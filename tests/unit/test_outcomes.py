"""Observed outcomes in the passport (core/outcomes.py and the Registry's re-issue): the Beta
formulas, the registry note, and the re-issued passport being signed, logged and verifiable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capgraph.core import scoring
from capgraph.core.compose import NOTE_NO_OUTCOMES, iso_ms
from capgraph.core.offline import verify_envelope
from capgraph.core.outcomes import CapabilityOutcomes, Outcomes, apply_outcomes
from capgraph.registry import Registry
from tests.unit.factories import load_seed, seed_files
from tests.unit.feedback_kit import (
    Clock,
    body,
    make_registry,
    make_store,
    resolve_entry,
    tool_manifest,
)
from tests.wire import report_json, resolve_json

BASE = "https://registry.example"


@pytest.fixture(params=["memory", "sqlite"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Registry, Clock]]:
    clock = Clock()
    store = make_store(request.param, tmp_path)
    registry = make_registry(store, tmp_path, clock=clock)
    registry.publish(tool_manifest("tool-a"))
    yield registry, clock
    store.close()


def seed_bodies() -> list[dict[str, Any]]:
    return [load_seed(p)["passport"]["unfragile"] for p in seed_files()]


# -- the formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", seed_bodies(), ids=lambda b: b["artifact"]["slug"])
def test_no_outcomes_give_the_seed_values(seed: dict[str, Any]) -> None:
    # The seeds have no observed outcomes: applying none reproduces them exactly.
    assert apply_outcomes(seed, Outcomes()) == seed
    for cap in seed["capabilities"]:
        assert (cap["confidence"], cap["matches"], cap["success_rate"]) == (0.5, 0, 0)
    assert seed["trust"]["rank_breakdown"]["match_graph"] == 0.25
    assert seed["trust"]["failure_modes"].count(NOTE_NO_OUTCOMES) == 1


def test_outcomes_follow_the_beta_formulas() -> None:
    seed = seed_bodies()[0]
    ids = [c["id"] for c in seed["capabilities"]]
    outcomes = Outcomes(
        capabilities={ids[0]: CapabilityOutcomes(successes=3, reports=4),
                      ids[1]: CapabilityOutcomes(successes=0, reports=2)},
        avg_confidence=0.8125, top_intents=["write code", "fix a bug"],
        last_matched_at="2026-11-01T12:00:00.000Z",
    )
    out = apply_outcomes(seed, outcomes)
    caps = {c["id"]: c for c in out["capabilities"]}
    # Capability: Beta(1, 1) posterior mean for confidence; raw rate beside the sample size.
    assert (caps[ids[0]]["confidence"], caps[ids[0]]["matches"],
            caps[ids[0]]["success_rate"]) == (0.67, 4, 0.75)  # (1 + 3) / (2 + 4)
    assert (caps[ids[1]]["confidence"], caps[ids[1]]["matches"],
            caps[ids[1]]["success_rate"]) == (0.25, 2, 0)  # (1 + 0) / (2 + 2)
    for other in ids[2:]:
        assert (caps[other]["confidence"], caps[other]["matches"]) == (0.5, 0)
    trust = out["trust"]
    # Artifact: Beta(1, 3) posterior mean over all its capabilities: (1 + 3) / (4 + 6).
    assert trust["rank_breakdown"]["match_graph"] == 0.4
    assert trust["score"] == scoring.score(trust["rank_breakdown"],
                                           trust["rank_breakdown"]["weights"])
    assert trust["score"] > seed["trust"]["score"]  # 0.25 -> 0.4 with weight 0.30
    assert trust["observed_outcomes"] == {
        "matches": 6, "success_rate": 0.5, "avg_confidence": 0.81,
        "top_intents": ["write code", "fix a bug"],
        "last_matched_at": "2026-11-01T12:00:00.000Z",
    }
    assert NOTE_NO_OUTCOMES not in trust["failure_modes"]
    # Everything else is untouched, and applying is idempotent.
    assert {k: v for k, v in trust.items() if k not in (
        "rank_breakdown", "score", "observed_outcomes", "failure_modes")} == \
        {k: v for k, v in seed["trust"].items() if k not in (
            "rank_breakdown", "score", "observed_outcomes", "failure_modes")}
    assert apply_outcomes(out, outcomes) == out
    # Back to no evidence: the note returns, once.
    assert apply_outcomes(out, Outcomes()) == seed


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=5))
def test_outcome_values_stay_in_range_and_match_the_posterior_means(
        tallies: list[tuple[int, int]]) -> None:
    seed = seed_bodies()[0]
    ids = [c["id"] for c in seed["capabilities"]]
    caps = {ids[i]: CapabilityOutcomes(successes=min(s, n), reports=n)
            for i, (s, n) in enumerate(tallies)}
    out = apply_outcomes(seed, Outcomes(capabilities=caps))
    for cap in out["capabilities"]:
        seen = caps.get(cap["id"], CapabilityOutcomes())
        assert 0 <= cap["success_rate"] <= 1 and 0 < cap["confidence"] < 1
        assert cap["confidence"] == scoring.round_half_up(
            (1 + seen.successes) / (2 + seen.reports))
        assert cap["matches"] == seen.reports
    s = sum(c.successes for c in caps.values())
    n = sum(c.reports for c in caps.values())
    assert out["trust"]["rank_breakdown"]["match_graph"] == scoring.round_half_up(
        (1 + s) / (4 + n))
    assert out["trust"]["observed_outcomes"]["matches"] == n
    assert (NOTE_NO_OUTCOMES in out["trust"]["failure_modes"]) == (n == 0)
    assert 0 <= out["trust"]["score"] <= 100


# -- the re-issued passport ----------------------------------------------------------------------


def _served(registry: Registry, slug: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(registry.envelope_bytes(slug, BASE))
    return document


def test_reports_reissue_a_signed_logged_passport_with_the_evidence(
        setup: tuple[Registry, Clock]) -> None:
    registry, clock = setup
    before = body(registry, "tool-a")
    assert NOTE_NO_OUTCOMES in before["trust"]["failure_modes"]
    log_size = registry.store.log_size()
    confidences = []
    for n, outcome in enumerate(["success", "success", "failure"]):
        clock.advance(minutes=1)
        answer = resolve_json(registry, "do alpha for me", limit=1)
        confidences.append(answer["resolved"][0]["matchConfidence"])
        ref = {"resolveId": answer["resolveId"], "slug": "tool-a",
               "callbackToken": answer["resolved"][0]["callbackToken"]}
        result = report_json(registry, {**ref, "outcome": outcome}, client=f"key:{n}")
        assert result == {"accepted": True, "counted": True, "slug": "tool-a",
                          "capability": "tool-a__cap_0", "outcome": outcome,
                          "passportVersion": 2 + n}
    clock.advance(minutes=1)
    match = registry.search("run alpha-more on my data").matches[0]
    assert match.slug == "tool-a" and match.capabilities[0].id == "tool-a__cap_2"
    report_json(registry, {"matchRecordId": match.match_record_id, "outcome": "success",
                       "clickedThrough": True, "source": "web"}, client="key:web")
    confidences.append(match.match_score)

    served = _served(registry, "tool-a")
    after = served["passport"]["unfragile"]
    assert served["passport"]["version"] == 5
    caps = {c["id"]: c for c in after["capabilities"]}
    assert (caps["tool-a__cap_0"]["matches"], caps["tool-a__cap_0"]["success_rate"],
            caps["tool-a__cap_0"]["confidence"]) == (3, 0.67, 0.6)  # (1 + 2) / (2 + 3)
    assert (caps["tool-a__cap_2"]["matches"], caps["tool-a__cap_2"]["success_rate"],
            caps["tool-a__cap_2"]["confidence"]) == (1, 1.0, 0.67)
    assert (caps["tool-a__cap_1"]["matches"], caps["tool-a__cap_1"]["confidence"]) == (0, 0.5)
    trust = after["trust"]
    assert trust["observed_outcomes"] == {
        "matches": 4, "success_rate": 0.75,
        "avg_confidence": scoring.round_half_up(sum(confidences) / 4),
        "top_intents": [],  # no intent has MIN_INTENT_REPORTS reports yet (privacy)
        "last_matched_at": iso_ms(clock.now),
    }
    assert NOTE_NO_OUTCOMES not in trust["failure_modes"]
    assert trust["rank_breakdown"]["match_graph"] == 0.5  # (1 + 3) / (4 + 4)
    assert trust["score"] == scoring.score(trust["rank_breakdown"],
                                           trust["rank_breakdown"]["weights"])
    assert trust["score"] > before["trust"]["score"]
    # Signed by the registry's key, and in the transparency log (one entry per re-issue).
    assert registry.verify_slug("tool-a").valid
    verify_envelope(served, registry.jwks(), require_log=True)
    assert registry.store.log_size() == log_size + 4
    assert served["_log"]["index"] == registry.store.log_size() - 1
    # History is kept: version 1 still says there were no outcomes.
    first = json.loads(registry.passport("tool-a", version=1).passport)["unfragile"]
    assert first == before
    provenance = json.loads(registry.passport("tool-a").passport)["provenance"]
    assert provenance["trust.observed_outcomes"] == "observed"


def test_a_failure_lowers_match_graph_below_the_prior(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    before = body(registry, "tool-a")
    report_json(registry, {**resolve_entry(registry), "outcome": "failure"}, client="key:x")
    after = body(registry, "tool-a")
    assert after["trust"]["rank_breakdown"]["match_graph"] == 0.2  # 1 / 5
    assert after["trust"]["score"] < before["trust"]["score"]
    assert after["trust"]["observed_outcomes"]["success_rate"] == 0
    assert after["trust"]["observed_outcomes"]["matches"] == 1


def test_a_new_manifest_version_keeps_the_counted_evidence(setup: tuple[Registry, Clock]
                                                           ) -> None:
    registry, _ = setup
    report_json(registry, {**resolve_entry(registry), "outcome": "success"}, client="key:x")
    text = tool_manifest("tool-a")
    assert "name: Tool tool-a\n" in text
    result = registry.publish(text.replace("name: Tool tool-a\n", "name: Tool A, renamed\n"))
    assert result.created
    after = body(registry, "tool-a")
    assert after["trust"]["observed_outcomes"]["matches"] == 1
    assert after["trust"]["rank_breakdown"]["match_graph"] == 0.4  # (1 + 1) / (4 + 1)
    assert registry.verify_slug("tool-a").valid


def test_uncounted_and_refused_reports_do_not_reissue(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    for _ in range(4):
        report_json(registry, {**resolve_entry(registry), "outcome": "success"}, client="key:x")
    result = report_json(registry, {**resolve_entry(registry), "outcome": "success"},
                               client="key:x")
    assert result["counted"] is False and result["passportVersion"] == 4
    assert registry.passport("tool-a").version == 4
