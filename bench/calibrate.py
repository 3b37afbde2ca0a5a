"""Fit the matchConfidence model on the tuning tools of the dev set; report it on the held-out
tools (issue 16).

    capgraph eval --corpus ../shared/eval/metatool/corpus.jsonl \
        --queries ../shared/eval/metatool/queries.jsonl --split tools --save bench/out/run.jsonl
    .venv/bin/python bench/calibrate.py --from bench/out/run.jsonl [--select] [--write]

``capgraph eval --save`` records, for every query, the features the confidence model sees and
whether the top answer was right. The queries are split by tool exactly as ``--split tools``
splits them (seed 0, 30% of tools held out): the logistic model is fit on the tuning tools'
queries only, its threshold chosen there for a stated precision of "no confident match"
(``calibration.ABSTAIN_PRECISION``), and the calibration error, the "no confident match" rate
and its precision are reported on the held-out tools, which the fit never saw. With
--select, the features and the L2 strength are chosen by a 5-fold cross-validation inside
the tuning tools whose folds are whole tools (greedy forward selection by log loss), so the
choice never sees a held-out tool either. With --write, the coefficients go to
src/capgraph/search/calibration.json (what the resolver ships with).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from capgraph.cli.evaluate import load_results  # noqa: E402
from capgraph.search.calibration import (  # noqa: E402
    ABSTAIN_PRECISION,
    FEATURES,
    Calibrator,
    abstention,
    fit_logistic,
    threshold_for_precision,
)
from capgraph.search.corpus import ece  # noqa: E402
from capgraph.search.evalsplit import QueryResult, split_by_tool  # noqa: E402


def _rows(results: list[QueryResult]) -> tuple[list[dict[str, float]], list[bool]]:
    rows = [{name: float(r.metrics.get(f"feature {name}", 0.0)) for name in FEATURES}
            for r in results]
    return rows, [r.metrics["correct"] > 0 for r in results]


def out_of_fold(results: list[QueryResult], names: list[str], l2: float, *,
                folds: int = 5, seed: int = 0) -> list[float]:
    """Out-of-fold confidences, folds made of whole tools (a query goes with its first
    relevant tool): how a fit carries to tools it did not see. Run on the tuning tools only,
    to choose features and regularisation without looking at the held-out ones."""
    tools = sorted({r.tools[0] if r.tools else r.query_id for r in results})
    random.Random(seed).shuffle(tools)
    fold_of = {tool: i % folds for i, tool in enumerate(tools)}
    rows, labels = _rows(results)
    keys = np.array([fold_of[r.tools[0] if r.tools else r.query_id] for r in results])
    x = np.array([[row[n] for n in names] for row in rows], dtype=np.float64).reshape(
        len(rows), len(names))
    conf = np.zeros(len(results))
    for k in range(folds):
        train = np.flatnonzero(keys != k)
        weights, bias = fit_logistic([rows[i] for i in train], [labels[i] for i in train],
                                     names=names, l2=l2)
        z = x[keys == k] @ np.array([weights[n] for n in names]) + bias
        conf[keys == k] = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
    return [float(c) for c in conf]


def log_loss(conf: list[float], labels: list[bool]) -> float:
    p = np.clip(np.array(conf), 1e-9, 1 - 1e-9)
    y = np.array(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def select(results: list[QueryResult], l2s: list[float], *, seed: int
           ) -> tuple[list[str], float]:
    """Greedy forward selection of features (and the L2 strength) by the tool-clustered
    cross-validated log loss on ``results``: add the feature that lowers it most, stop when
    none does by 0.0005. Log loss, not ECE: a model that says the base rate for every query
    has a cross-validated ECE near 0 and tells nothing apart; log loss rewards both
    calibration and discrimination. Returns (features, l2)."""
    _, labels = _rows(results)
    chosen: list[str] = []
    best, best_l2 = float("inf"), l2s[0]
    while True:
        trials = []
        for name in FEATURES:
            for l2 in l2s:
                if name not in chosen:
                    conf = out_of_fold(results, [*chosen, name], l2, seed=seed)
                    trials.append((log_loss(conf, labels), ece(conf, labels), l2, name))
        if not trials or min(trials)[0] >= best - 5e-4:
            break
        loss, found, best_l2, name = min(trials)
        best = loss
        chosen.append(name)
        print(f"  + {name}: cross-validated log loss {loss:.4f}, ECE {found:.4f} "
              f"(l2 {best_l2:g})", file=sys.stderr)
    return chosen, best_l2


def ece_interval(results: list[QueryResult], conf: list[float], labels: list[bool], *,
                 resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The 95% interval of the ECE when whole tools are resampled (a query goes with its
    first relevant tool)."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        groups.setdefault(r.tools[0] if r.tools else r.query_id, []).append(i)
    clusters = [groups[k] for k in sorted(groups)]
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        idx = [i for c in rng.choices(clusters, k=len(clusters)) for i in c]
        values.append(ece([conf[i] for i in idx], [labels[i] for i in idx]))
    values.sort()
    return values[int(0.025 * resamples)], values[int(0.975 * resamples) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="source", type=Path, required=True,
                        help="a `capgraph eval --save` file of the code being calibrated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--precision", type=float, default=ABSTAIN_PRECISION)
    parser.add_argument("--features", default=",".join(Calibrator.load().weights),
                        help="comma-separated features to fit, of " + ",".join(FEATURES)
                        + " (default: the shipped model's, so --write refits what ships)")
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--select", action="store_true",
                        help="choose the features and L2 by tool-clustered 5-fold "
                             "cross-validated log loss inside the tuning tools (overrides "
                             "both)")
    parser.add_argument("--resamples", type=int, default=1000,
                        help="tool resamples for the held-out ECE interval (0: none)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    results = load_results(args.source)
    if not any("feature lead" in r.metrics for r in results):
        sys.exit(f"{args.source} has no features: save it with this version's capgraph eval")
    sides = split_by_tool(results, seed=args.seed, holdout=args.holdout)
    names = [n for n in args.features.split(",") if n]
    if unknown := set(names) - set(FEATURES):
        sys.exit(f"unknown features: {', '.join(sorted(unknown))}")
    l2 = args.l2
    if args.select:
        names, l2 = select(sides["tune"], [1e-3, 10.0], seed=args.seed)
    cv = ece(out_of_fold(sides["tune"], names, l2, seed=args.seed), _rows(sides["tune"])[1])
    tune_rows, tune_labels = _rows(sides["tune"])
    weights, bias = fit_logistic(tune_rows, tune_labels, names=names, l2=l2)
    fitted = Calibrator(weights=weights, bias=bias, threshold=0.0)
    tune_conf = [fitted.confidence(r) for r in tune_rows]
    threshold = threshold_for_precision(tune_conf, tune_labels, precision=args.precision)
    model = Calibrator(weights=weights, bias=bias, threshold=threshold)
    report: dict[str, object] = {"seed": args.seed, "holdout": args.holdout,
                                 "weights": weights, "bias": bias, "threshold": threshold,
                                 "l2": l2, "tune_cross_validated_ece": round(cv, 4),
                                 "stated_precision": args.precision}
    for name in ("tune", "held-out"):
        rows, labels = _rows(sides[name])
        conf = [model.confidence(r) for r in rows]
        said = abstention(conf, labels, threshold)
        if name == "held-out" and args.resamples:
            low, high = ece_interval(sides[name], conf, labels, resamples=args.resamples,
                                     seed=args.seed)
            report["held_out_ece_interval"] = [round(low, 4), round(high, 4)]
        report[name] = {"queries": len(rows), "accuracy_top1": round(sum(labels) / len(labels), 4),
                        "ece": round(ece(conf, labels), 4),
                        "no_confident_match_rate": round(said.rate, 4),
                        "no_confident_match_precision": round(said.precision, 4),
                        "answered_precision": round(said.answered_precision, 4)}
    print(json.dumps(report, indent=2))
    if args.write:
        out = {"weights": weights, "bias": bias, "threshold": threshold,
               "fit": {"split": f"tools, seed {args.seed}, {args.holdout:.0%} held out",
                       "l2": l2, "tune_cross_validated_ece": round(cv, 4),
                       "tune": report["tune"], "held_out": report["held-out"],
                       "stated_precision": args.precision},
               "note": "written by bench/calibrate.py from the tuning tools of "
                       "../shared/eval/metatool only; held_out is reported, never fitted"}
        path = ROOT / "src" / "capgraph" / "search" / "calibration.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
