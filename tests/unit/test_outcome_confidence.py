"""The confidence model's ``outcomes`` feature (issue 16): an answer's own counted outcome
record, as its passport states it, moves the calibrated confidence of later resolves; with no
reports it is exactly 0, so a new registry is scored as before."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from capgraph.registry import Registry
from capgraph.search.calibration import Calibrator
from capgraph.search.resolver import OUTCOMES_FULL, outcome_evidence
from tests.unit.feedback_kit import (
    Clock,
    WordEmbedder,
    body,
    make_registry,
    make_store,
    resolve_entry,
    tool_manifest,
)
from tests.wire import report_json

INTENT = "do alpha for me"


def test_no_reports_is_neutral_and_evidence_grows_to_its_full_weight() -> None:
    assert outcome_evidence({}) == 0.0
    assert outcome_evidence({"confidence": 0.5, "matches": 0}) == 0.0
    # a passport states the Beta(1, 1) posterior mean: s successes of n -> (1 + s) / (2 + n)
    one_failure = outcome_evidence({"confidence": 1 / 3, "matches": 1})
    assert one_failure == pytest.approx((1 / 3 - 0.5) / OUTCOMES_FULL)
    full = outcome_evidence({"confidence": 21 / 22, "matches": OUTCOMES_FULL})
    assert full == pytest.approx(21 / 22 - 0.5)
    # beyond OUTCOMES_FULL more reports move the posterior only
    assert outcome_evidence({"confidence": 21 / 22, "matches": 500}) == full
    assert -0.5 < one_failure < 0 < full < 0.5


@pytest.mark.parametrize("cap", [{"confidence": "high", "matches": 3},
                                 {"confidence": 0.9, "matches": None},
                                 {"confidence": 0.9, "matches": "many"}])
def test_a_malformed_record_counts_as_no_evidence(cap: dict[str, object]) -> None:
    assert outcome_evidence(cap) == 0.0


def test_the_shipped_model_trusts_a_good_record_and_doubts_a_bad_one() -> None:
    model = Calibrator.load()
    assert model.weights.get("outcomes", 0.0) > 0
    plain = {name: 0.0 for name in model.weights} | {"evidence": 1.0}
    assert (model.confidence({**plain, "outcomes": -0.4}) < model.confidence(plain)
            < model.confidence({**plain, "outcomes": 0.4}))


@pytest.fixture(params=["memory", "sqlite"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    store = make_store(request.param, tmp_path)
    reg = make_registry(store, tmp_path, clock=Clock(), embedder=WordEmbedder())
    reg.publish(tool_manifest("alpha-tool", topic="alpha"))
    reg.publish(tool_manifest("beta-tool", topic="beta"))
    # Only the passport's record is under test here: the learned ranking (which the same
    # reports move) is off, so every other feature stays as it was.
    reg.engine.learning = False
    yield reg
    store.close()


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_reported_outcomes_move_the_next_confidence_by_the_record(registry: Registry,
                                                                  outcome: str) -> None:
    before = registry.resolve(INTENT, limit=1)
    assert before.features["outcomes"] == 0.0
    for n in range(6):  # distinct clients: each report is counted
        report_json(registry, {**resolve_entry(registry, INTENT), "outcome": outcome},
                    client=f"key:{n}")
    after = registry.resolve(INTENT, limit=1)
    cap = next(c for c in body(registry, "alpha-tool")["capabilities"] if c["matches"])
    assert cap["matches"] == 6
    assert after.features["outcomes"] == pytest.approx(outcome_evidence(cap))
    assert before.features["evidence"] == 0.0
    assert after.features["evidence"] == pytest.approx(6 / OUTCOMES_FULL)
    # The rest of what the model sees moves only through the trust prior (the reports
    # changed the score's match_graph component, PRIOR_WEIGHT x at most a few points).
    record = {"outcomes", "evidence"}
    assert {k: v for k, v in after.features.items() if k not in record} == pytest.approx(
        {k: v for k, v in before.features.items() if k not in record}, abs=0.01)
    model = registry.resolver.calibrator
    assert after.match_confidence == pytest.approx(model.confidence(after.features), abs=1e-4)
    # The same amount of record leaning neither way says less (more): compared in log-odds,
    # since an intent this plain is answered with a confidence close to 1.
    moved = _logit(model.confidence(after.features)) - _logit(model.confidence(
        {**after.features, "outcomes": 0.0}))
    if outcome == "success":
        assert after.features["outcomes"] > 0
        assert moved > 0.01
    else:
        assert after.features["outcomes"] < 0
        assert moved < -0.01


def _feeds(registry: Registry) -> tuple[int, int, list[str]]:
    store = registry.store
    return (len(store.keyword_changes(0, limit=10_000)), len(store.vector_changes(0, limit=10_000)),
            [m.slug for m in store.intent_matches(INTENT)])


def test_a_counted_report_reissues_the_passport_but_not_the_index(registry: Registry) -> None:
    """A report changes the record, not the indexed text: the re-issued version leaves the
    keyword and vector feeds and the declared intents as they were (no index rewrite per
    report), and the next resolve still reads the new record from the new passport."""
    before = _feeds(registry)
    version = registry.store.latest("alpha-tool").version  # type: ignore[union-attr]
    report_json(registry, {**resolve_entry(registry, INTENT), "outcome": "success"},
                client="key:0")
    assert registry.store.latest("alpha-tool").version == version + 1  # type: ignore[union-attr]
    assert _feeds(registry) == before
    assert registry.resolve(INTENT, limit=1).features["evidence"] == pytest.approx(
        1 / OUTCOMES_FULL)
    # A publish with new text still replaces the artifact's entries in both feeds.
    registry.publish(tool_manifest("alpha-tool", topic="gamma"))
    keywords, vectors, _ = _feeds(registry)
    assert keywords > before[0] and vectors > before[1]
