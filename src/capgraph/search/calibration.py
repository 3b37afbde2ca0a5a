"""matchConfidence: a calibrated probability that the top answer is right.

A logistic model over features of the ranking (how well the top capability covers the intent,
how far it leads the runner-up, how strong the raw text match is). Its coefficients are fit on
the labeled dev set by ``bench/calibrate.py`` (which also reports the calibration error on a
held-out half) and shipped in ``calibration.json`` beside this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["FEATURES", "Calibrator", "fit_logistic"]

FEATURES = ("coverage", "lead", "strength", "dense", "dense_lead")


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
                 names: Sequence[str], l2: float = 1e-3, iterations: int = 50
                 ) -> tuple[dict[str, float], float]:
    """Maximum-likelihood logistic regression by Newton's method (a small L2 keeps it stable
    when a feature separates the data). Returns (weights by feature name, bias)."""
    x = np.array([[r.get(n, 0.0) for n in names] + [1.0] for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x.T * (p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return {n: float(v) for n, v in zip(names, w[:-1], strict=True)}, float(w[-1])
