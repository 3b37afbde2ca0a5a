"""matchConfidence: a calibrated probability that the top answer is right.

A logistic model over features of the ranking (how well the top capability covers the intent,
how far it leads the runner-up, how strong the raw text match is) and of the top answer's own
reported outcome record. Its coefficients are fit by ``bench/calibrate.py --from WARM --cold
COLD`` on the *tuning tools* of the labelled dev set only (the split of
``evalsplit.split_by_tool``, seed 0, 30% of tools held out), in a run with outcome reports and
one without, and its calibration error is reported on the held-out tools, which it never saw;
shipped in ``calibration.json``.

The threshold below which a resolve answers "no confident match" is chosen on the tuning tools
for a stated precision of that verdict (``threshold_for_precision``): the highest threshold at
which at least ``ABSTAIN_PRECISION`` of the withheld top answers were wrong. Withholding an
answer that was right costs the caller a good answer; the verdict is worth giving only while it
is mostly right.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["ABSTAIN_PRECISION", "FEATURES", "Abstention", "Calibrator", "abstention",
           "fit_logistic", "threshold_for_precision"]

FEATURES = ("coverage", "lead", "strength", "dense", "dense_lead", "dense_first", "keyword_first",
            "dense_rank", "keyword_rank", "keyword_lead", "crowd", "top_score", "words", "outcomes",
            "evidence")
ABSTAIN_PRECISION = 0.75


@dataclass(frozen=True)
class Calibrator:
    weights: dict[str, float]
    bias: float
    threshold: float  # below it, "no confident match"

    @classmethod
    def load(cls) -> Calibrator:
        """The shipped coefficients."""
        data = json.loads(
            resources.files("capgraph.search").joinpath("calibration.json").read_text()
        )
        return cls(weights=dict(data["weights"]), bias=float(data["bias"]),
                   threshold=float(data["threshold"]))

    def confidence(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * features.get(name, 0.0) for name, w in self.weights.items())
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def fit_logistic(rows: Sequence[Mapping[str, float]], labels: Sequence[bool], *,
                 names: Sequence[str], l2: float = 1e-3, iterations: int = 50,
                 sample_weights: Sequence[float] | None = None
                 ) -> tuple[dict[str, float], float]:
    """Maximum-likelihood logistic regression by Newton's method (a small L2 keeps it stable
    when a feature separates the data). ``sample_weights``, when given, weigh each row's
    likelihood (scaled to a mean of 1, so ``l2`` means the same with or without them).
    Returns (weights by feature name, bias)."""
    x = np.array([[r.get(n, 0.0) for n in names] + [1.0] for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)
    s = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, np.float64)
    if s.shape != y.shape or not np.all(s >= 0) or not s.sum() > 0:
        raise ValueError("sample_weights must be one non-negative weight per row, not all 0")
    s = s * len(s) / s.sum()
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (s * (p - y)) + penalty @ w
        hessian = (x.T * (s * p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return {n: float(v) for n, v in zip(names, w[:-1], strict=True)}, float(w[-1])


@dataclass(frozen=True)
class Abstention:
    """How "no confident match" behaves at a threshold on a labelled set: how often it is
    said (``rate``), and how often it is right to say it (``precision``: the withheld top
    answer was wrong); ``answered_precision``: how often a given top answer is right."""

    threshold: float
    rate: float
    precision: float
    answered_precision: float


def abstention(confidences: Sequence[float], correct: Sequence[bool], threshold: float
               ) -> Abstention:
    withheld = [ok for c, ok in zip(confidences, correct, strict=True) if c < threshold]
    given = [ok for c, ok in zip(confidences, correct, strict=True) if c >= threshold]
    n = max(1, len(confidences))
    return Abstention(
        threshold=threshold, rate=len(withheld) / n,
        precision=(sum(not ok for ok in withheld) / len(withheld)) if withheld else 1.0,
        answered_precision=(sum(given) / len(given)) if given else 0.0)


def threshold_for_precision(confidences: Sequence[float], correct: Sequence[bool], *,
                            precision: float = ABSTAIN_PRECISION, step: float = 0.01
                            ) -> float:
    """The highest threshold (a multiple of ``step``) at which "no confident match" is
    right at least ``precision`` of the time on this set; 0 when none is. (Meaningful when
    ``precision`` is above the set's share of wrong top answers; otherwise withholding
    everything would qualify.)"""
    best = 0.0
    for i in range(1, round(1 / step)):
        t = round(i * step, 6)
        found = abstention(confidences, correct, t)
        if found.rate > 0 and found.precision >= precision:
            best = t
    return best
