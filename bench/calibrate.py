"""Fit the matchConfidence model on the tuning tools of the dev set; report it on the held-out
tools (issue 16).

    capgraph eval --corpus ../shared/eval/metatool/corpus.jsonl \
        --queries ../shared/eval/metatool/queries.jsonl --split tools --outcomes 0 \
        --save bench/out/warm.jsonl
    capgraph eval ... --split tools --save bench/out/cold.jsonl      # (no --outcomes)
    .venv/bin/python bench/calibrate.py --from bench/out/warm.jsonl \
        --cold bench/out/cold.jsonl [--select] [--write]

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

The model is fit on a run with ``--outcomes``, where each confident answer's outcome was
reported as agents report them, so the ``outcomes`` and ``evidence`` features (an answer's
own counted record) have values to learn from, and, with ``--cold``, on the tuning queries of
a run without any reports as well, so that it stays calibrated before a registry has heard
back from anyone; it is reported on the held-out tools of each run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
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


def _tool(result: QueryResult) -> str:
    """The tool a query goes with in folds and resamples: its first relevant one."""
    return result.tools[0] if result.tools else result.query_id


def tool_folds(results: list[QueryResult], *, folds: int, seed: int) -> np.ndarray:
    """Each query's fold, folds made of whole tools shuffled by ``seed``."""
    tools = sorted({_tool(r) for r in results})
    random.Random(seed).shuffle(tools)
    fold_of = {tool: i % folds for i, tool in enumerate(tools)}
    return np.array([fold_of[_tool(r)] for r in results])


WEIGHTINGS = ("query", "sqrt", "tool")


def tool_weights(results: list[QueryResult], weighting: str) -> list[float]:
    """Each query's weight in the fit: 1 (``query``: a tool counts as often as it is
    asked about), 1/sqrt(n) (``sqrt``) or 1/n (``tool``: every tool counts the same), n being
    how many of ``results`` go with its tool. The dev set's tools range from a handful of
    queries to over a thousand, and the biggest are broad ones whose queries a narrower tool
    often answers; what the fit learns is meant for tools it has not seen."""
    counts = Counter(_tool(r) for r in results)
    power = {"query": 0.0, "sqrt": 0.5, "tool": 1.0}[weighting]
    return [counts[_tool(r)] ** -power for r in results]


def out_of_fold(results: list[QueryResult], names: list[str], l2: float, *,
                folds: int = 5, seed: int = 0, weighting: str = "query") -> list[float]:
    """Out-of-fold confidences, folds made of whole tools (``tool_folds``): how a fit carries
    to tools it did not see. Run on the tuning tools only, to choose features and
    regularisation without looking at the held-out ones."""
    rows, labels = _rows(results)
    keys = tool_folds(results, folds=folds, seed=seed)
    x = np.array([[row[n] for n in names] for row in rows], dtype=np.float64).reshape(
        len(rows), len(names))
    conf = np.zeros(len(results))
    for k in range(folds):
        train = np.flatnonzero(keys != k)
        part = [results[i] for i in train]
        weights, bias = fit_logistic([rows[i] for i in train], [labels[i] for i in train],
                                     names=names, l2=l2,
                                     sample_weights=tool_weights(part, weighting))
        z = x[keys == k] @ np.array([weights[n] for n in names]) + bias
        conf[keys == k] = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
    return [float(c) for c in conf]


def per_fold_ece(results: list[QueryResult], names: list[str], l2: float, *,
                 folds: int = 5, seeds: int = 10, weighting: str = "query") -> float:
    """The mean ECE of each whole-tool fold, over ``seeds`` ways of making the folds: how far
    off a fit is on a new group of ~1/``folds`` of the tools, like the held-out group (the
    pooled out-of-fold ECE hides that: the folds' errors cancel)."""
    _, labels = _rows(results)
    values = []
    for seed in range(seeds):
        keys = tool_folds(results, folds=folds, seed=seed)
        conf = out_of_fold(results, names, l2, folds=folds, seed=seed, weighting=weighting)
        for k in range(folds):
            idx = np.flatnonzero(keys == k)
            values.append(ece([conf[i] for i in idx], [labels[i] for i in idx]))
    return float(np.mean(values))


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
        groups.setdefault(_tool(r), []).append(i)
    clusters = [groups[k] for k in sorted(groups)]
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        idx = [i for c in rng.choices(clusters, k=len(clusters)) for i in c]
        values.append(ece([conf[i] for i in idx], [labels[i] for i in idx]))
    values.sort()
    return values[int(0.025 * resamples)], values[int(0.975 * resamples) - 1]


def _sides(sides: dict[str, list[QueryResult]], model: Calibrator, args: argparse.Namespace
           ) -> dict[str, object]:
    """The model's calibration and "no confident match" behaviour on both sides of a run."""
    out: dict[str, object] = {}
    for name in ("tune", "held-out"):
        rows, labels = _rows(sides[name])
        conf = [model.confidence(r) for r in rows]
        said = abstention(conf, labels, model.threshold)
        if name == "held-out" and args.resamples:
            low, high = ece_interval(sides[name], conf, labels, resamples=args.resamples,
                                     seed=args.seed)
            out["held_out_ece_interval"] = [round(low, 4), round(high, 4)]
        out[name] = {"queries": len(rows), "accuracy_top1": round(sum(labels) / len(labels), 4),
                     "ece": round(ece(conf, labels), 4),
                     "no_confident_match_rate": round(said.rate, 4),
                     "no_confident_match_precision": round(said.precision, 4),
                     "answered_precision": round(said.answered_precision, 4)}
    return out


def choose_weighting(tune: list[QueryResult], names: list[str], l2: float
                     ) -> tuple[str, dict[str, float]]:
    """The weighting (``tool_weights``) whose fit is best calibrated on new groups of tools
    inside ``tune``: the lowest mean per-fold ECE (``per_fold_ece``), ties to the first;
    and each weighting's mean per-fold ECE."""
    found = {w: per_fold_ece(tune, names, l2, weighting=w) for w in WEIGHTINGS}
    for w, value in found.items():
        print(f"  weighting {w}: mean per-fold ECE inside the tuning tools {value:.4f}",
              file=sys.stderr)
    return min(WEIGHTINGS, key=lambda w: (round(found[w], 6), WEIGHTINGS.index(w))), found


def fit_model(tune: list[QueryResult], names: list[str], l2: float, *, precision: float,
              weighting: str = "query") -> Calibrator:
    """The logistic model fit on ``tune``, its threshold chosen there for ``precision``."""
    rows, labels = _rows(tune)
    weights, bias = fit_logistic(rows, labels, names=names, l2=l2,
                                 sample_weights=tool_weights(tune, weighting))
    fitted = Calibrator(weights=weights, bias=bias, threshold=0.0)
    threshold = threshold_for_precision([fitted.confidence(r) for r in rows], labels,
                                        precision=precision)
    return Calibrator(weights=weights, bias=bias, threshold=threshold)


def other_splits(runs: dict[str, list[QueryResult]], names: list[str], l2: float, *,
                 splits: int, holdout: float, precision: float, weighting: str
                 ) -> dict[str, object]:
    """The same fit on ``splits`` tool splits (seeds 0..splits-1; seed 0 is the shipped one),
    each reported on its own held-out tools: how much of a held-out number is the method and
    how much the draw of tools. One split's held-out group is ~60 tools, and how many of
    its queries are hard for every method (the labels of a broad tool whose queries a narrow
    one answers) moves with the draw."""
    per_seed = []
    for seed in range(splits):
        sides = {name: split_by_tool(results, seed=seed, holdout=holdout)
                 for name, results in runs.items()}
        tune = [r for s in sides.values() for r in s["tune"]]
        chosen = choose_weighting(tune, names, l2)[0] if weighting == "auto" else weighting
        model = fit_model(tune, names, l2, precision=precision, weighting=chosen)
        entry: dict[str, object] = {"seed": seed, "weighting": chosen}
        for name, side in sides.items():
            tune_labels = [r.metrics["correct"] > 0 for r in side["tune"]]
            held_rows, held_labels = _rows(side["held-out"])
            conf = [model.confidence(r) for r in held_rows]
            entry[name] = {"held_out_ece": round(ece(conf, held_labels), 4),
                           "accuracy_gap": round(sum(held_labels) / len(held_labels)
                                                 - sum(tune_labels) / len(tune_labels), 4)}
        per_seed.append(entry)
    summary: dict[str, object] = {"splits": per_seed}
    for name in runs:
        values = [float(e[name]["held_out_ece"]) for e in per_seed]  # type: ignore[index]
        summary[name] = {"mean": round(float(np.mean(values)), 4),
                         "median": round(float(np.median(values)), 4),
                         "max": round(max(values), 4),
                         "at_most_0.05": sum(v <= 0.05 for v in values)}
    return summary


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
    parser.add_argument("--cold", type=Path, default=None,
                        help="a `capgraph eval --save` file made without --outcomes: fit on "
                             "the tuning tools of both runs, report on each")
    parser.add_argument("--splits", type=int, default=0,
                        help="also fit the same way on this many tool splits (seeds 0..N-1) "
                             "and report each one's held-out ECE (a robustness check: the "
                             "shipped model is the seed's)")
    parser.add_argument("--weighting", choices=[*WEIGHTINGS, "auto"], default="auto",
                        help="how much each tuning query weighs in the fit (tool_weights); "
                             "auto: the one best calibrated on new groups of tuning tools "
                             "(choose_weighting), chosen on each split's own tuning tools")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    results = load_results(args.source)
    if not any("feature lead" in r.metrics for r in results):
        sys.exit(f"{args.source} has no features: save it with this version's capgraph eval")
    sides = split_by_tool(results, seed=args.seed, holdout=args.holdout)
    cold_results = load_results(args.cold) if args.cold is not None else None
    cold = (split_by_tool(cold_results, seed=args.seed, holdout=args.holdout)
            if cold_results is not None else None)
    # Both runs' tuning queries: the model must be calibrated for an answer with no record
    # yet (every answer of a new registry) as well as for one with a record.
    tune = sides["tune"] + (cold["tune"] if cold is not None else [])
    names = [n for n in args.features.split(",") if n]
    if unknown := set(names) - set(FEATURES):
        sys.exit(f"unknown features: {', '.join(sorted(unknown))}")
    l2 = args.l2
    if args.select:
        names, l2 = select(tune, [1e-3, 10.0], seed=args.seed)
    if args.weighting == "auto":
        weighting, fold_eces = choose_weighting(tune, names, l2)
        fold_ece = fold_eces[weighting]
    else:
        weighting = args.weighting
        fold_ece = per_fold_ece(tune, names, l2, weighting=weighting)
    cv = ece(out_of_fold(tune, names, l2, seed=args.seed, weighting=weighting),
             _rows(tune)[1])
    model = fit_model(tune, names, l2, precision=args.precision, weighting=weighting)
    weights, bias, threshold = model.weights, model.bias, model.threshold
    report: dict[str, object] = {"seed": args.seed, "holdout": args.holdout,
                                 "weights": weights, "bias": bias, "threshold": threshold,
                                 "l2": l2, "weighting": weighting,
                                 "tune_cross_validated_ece": round(cv, 4),
                                 "tune_per_fold_ece": round(fold_ece, 4),
                                 "stated_precision": args.precision}
    report.update(_sides(sides, model, args))
    if cold is not None:
        report["without_outcome_reports"] = _sides(cold, model, args)
    if args.splits:
        runs = {"with_reports" if cold_results is not None else "run": results}
        if cold_results is not None:
            runs["without_outcome_reports"] = cold_results
        report["other_splits"] = other_splits(runs, names, l2, splits=args.splits,
                                              holdout=args.holdout, precision=args.precision,
                                              weighting=args.weighting)
    print(json.dumps(report, indent=2))
    if args.write:
        out = {"weights": weights, "bias": bias, "threshold": threshold,
               "fit": {"split": f"tools, seed {args.seed}, {args.holdout:.0%} held out",
                       "l2": l2, "weighting": weighting,
                       "tune_cross_validated_ece": round(cv, 4),
                       "tune_per_fold_ece": round(fold_ece, 4),
                       "tune": report["tune"], "held_out": report["held-out"],
                       "held_out_ece_interval": report.get("held_out_ece_interval"),
                       "without_outcome_reports": report.get("without_outcome_reports"),
                       "stated_precision": args.precision},
               "note": "written by bench/calibrate.py from the tuning tools of "
                       "../shared/eval/metatool only; held_out is reported, never fitted"}
        path = ROOT / "src" / "capgraph" / "search" / "calibration.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
