"""matchConfidence (search/calibration.py): the logistic fit recovers known coefficients, and
the shipped model is a probability that moves the right way with each feature."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from capgraph.search.calibration import (
    FEATURES,
    Calibrator,
    abstention,
    fit_logistic,
    threshold_for_precision,
)


def _synthetic(n: int, weights: dict[str, float], bias: float, seed: int = 7
               ) -> tuple[list[dict[str, float]], list[bool]]:
    rng = np.random.default_rng(seed)
    rows = [{"lead": float(rng.normal()), "coverage": float(rng.uniform()),
             "dense": float(rng.normal(0.5, 0.2))} for _ in range(n)]
    labels = []
    for row in rows:
        z = bias + sum(w * row[k] for k, w in weights.items())
        labels.append(bool(rng.uniform() < 1 / (1 + math.exp(-z))))
    return rows, labels


def test_fit_logistic_recovers_known_coefficients() -> None:
    truth = {"lead": 2.0, "coverage": -1.5, "dense": 3.0}
    rows, labels = _synthetic(20_000, truth, bias=-1.0)
    weights, bias = fit_logistic(rows, labels, names=list(truth))
    assert set(weights) == set(truth)
    for name, value in truth.items():
        assert weights[name] == pytest.approx(value, abs=0.15), (name, weights)
    assert bias == pytest.approx(-1.0, abs=0.15)


def test_fit_logistic_stays_finite_when_a_feature_separates_the_labels() -> None:
    rows = [{"lead": x} for x in (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)]
    weights, bias = fit_logistic(rows, [False, False, False, True, True, True], names=["lead"])
    assert math.isfinite(weights["lead"]) and weights["lead"] > 1
    assert math.isfinite(bias)


def test_a_sample_weight_counts_a_row_that_many_times() -> None:
    """Weight 2 on a row fits as that row twice; equal weights change nothing; weights that
    cannot weigh anything are refused."""
    rows, labels = _synthetic(600, {"lead": 1.0, "coverage": -0.5, "dense": 0.0}, bias=0.2)
    names = ["lead", "coverage"]
    twice = [i for i in range(len(rows)) if i % 3 == 0]
    copied = fit_logistic(rows + [rows[i] for i in twice], labels + [labels[i] for i in twice],
                          names=names, l2=0.0)
    weighted = fit_logistic(rows, labels, names=names, l2=0.0,
                            sample_weights=[2.0 if i % 3 == 0 else 1.0 for i in range(600)])
    plain = fit_logistic(rows, labels, names=names, l2=0.0)
    for name in names:
        assert weighted[0][name] == pytest.approx(copied[0][name], abs=1e-6)
        assert weighted[0][name] != pytest.approx(plain[0][name], abs=1e-3)
    assert weighted[1] == pytest.approx(copied[1], abs=1e-6)
    same = fit_logistic(rows, labels, names=names, l2=0.0, sample_weights=[5.0] * 600)
    assert same[0] == pytest.approx(plain[0], abs=1e-9) and same[1] == pytest.approx(plain[1])
    for bad in ([1.0] * 599, [0.0] * 600, [-1.0] + [1.0] * 599):
        with pytest.raises(ValueError):
            fit_logistic(rows, labels, names=names, sample_weights=bad)


def test_a_fitted_model_predicts_its_own_training_rate() -> None:
    rows, labels = _synthetic(5_000, {"lead": 1.0, "coverage": 0.0, "dense": 0.0}, bias=0.3)
    weights, bias = fit_logistic(rows, labels, names=["lead"])
    model = Calibrator(weights=weights, bias=bias, threshold=0.5)
    mean = sum(model.confidence(r) for r in rows) / len(rows)
    assert mean == pytest.approx(sum(labels) / len(labels), abs=0.01)  # MLE matches the mean


def test_the_shipped_model_loads_with_recorded_features_only() -> None:
    model = Calibrator.load()
    assert model.weights and set(model.weights) <= set(FEATURES)
    assert 0 < model.threshold < 1
    assert all(math.isfinite(w) for w in model.weights.values()) and math.isfinite(model.bias)


@pytest.mark.parametrize("name", FEATURES)
def test_confidence_moves_with_each_feature_by_the_sign_of_its_weight(name: str) -> None:
    model = Calibrator.load()
    if name not in model.weights:
        assert model.confidence({name: 1.0}) == model.confidence({})  # not read at all
        return
    base = {"coverage": 0.5, "lead": 0.05, "strength": 0.4, "dense": 0.5, "dense_lead": 0.05,
            "dense_first": 1.0, "keyword_first": 1.0, "dense_rank": 0.0, "keyword_rank": 0.0,
            "keyword_lead": 0.1, "crowd": 0.25, "top_score": 0.6, "words": 0.3}
    values = [model.confidence({**base, name: x}) for x in np.linspace(-0.5, 1.5, 21)]
    assert all(0 < v < 1 for v in values)
    weight = model.weights[name]
    pairs = list(itertools.pairwise(values))
    if weight > 0:
        assert all(b > a for a, b in pairs)
    elif weight < 0:
        assert all(b < a for a, b in pairs)


def test_confidence_is_monotone_in_every_positive_feature_of_a_made_up_model() -> None:
    model = Calibrator(weights={"lead": 4.0, "coverage": 1.0, "dense": -2.0}, bias=-1.0,
                       threshold=0.3)
    assert model.confidence({}) == pytest.approx(1 / (1 + math.exp(1.0)))
    grid = np.linspace(0, 1, 11)
    for name in ("lead", "coverage"):
        values = [model.confidence({"lead": 0.2, "coverage": 0.2, "dense": 0.2, name: x})
                  for x in grid]
        assert values == sorted(values) and len(set(values)) == len(values)
    assert model.confidence({"lead": 1e6}) == pytest.approx(1.0, abs=1e-12)
    assert 0 < model.confidence({"lead": -1e6}) < 1e-12  # clamped, never an overflow
    assert model.confidence({"unknown": 99.0}) == model.confidence({})


# -- the "no confident match" threshold ------------------------------------------------------


def test_abstention_counts_the_withheld_and_how_often_withholding_was_right() -> None:
    conf = [0.1, 0.2, 0.3, 0.6, 0.8, 0.9]
    correct = [False, True, False, True, True, False]
    said = abstention(conf, correct, 0.5)
    assert said.rate == pytest.approx(3 / 6)
    assert said.precision == pytest.approx(2 / 3)  # two of the three withheld were wrong
    assert said.answered_precision == pytest.approx(2 / 3)


def test_the_threshold_is_the_highest_that_keeps_the_stated_precision() -> None:
    # below 0.4 every top answer is wrong; from 0.4 on, most are right
    conf = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65]
    correct = [False] * 7 + [True, True, False, True, True, True]
    t = threshold_for_precision(conf, correct, precision=0.75)
    assert t == pytest.approx(0.55)  # withholds up to 0.5: 8 of 10 withheld were wrong
    assert abstention(conf, correct, t).precision == pytest.approx(0.8)
    assert all(abstention(conf, correct, higher).precision < 0.75
               for higher in (0.6, 0.65, 0.7))
    assert threshold_for_precision(conf, [True] * len(conf), precision=0.75) == 0.0
