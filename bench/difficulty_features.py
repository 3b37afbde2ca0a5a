"""Do signals of a tool's difficulty that need no outcome reports carry matchConfidence's
calibration to tools it was not fitted on? (issue 16, point 6)

    capgraph eval --corpus ../shared/eval/metatool/corpus.jsonl \
        --queries ../shared/eval/metatool/queries.jsonl --split tools --save cold.jsonl
    capgraph eval ... --split tools --outcomes 0 --save warm0.jsonl
    .venv/bin/python bench/difficulty_features.py --cold cold.jsonl [--warm warm0.jsonl]

On the dev set, tools differ a great deal in how often their queries' top answer is right,
and the held-out ECE of a split follows how much easier or harder its held-out tools are
(``bench/calibrate.py --splits``). Two kinds of signal a registry has before anyone reports an
outcome, each added to the shipped model's features as a feature of the top answer:

- **index**: the answer's neighbourhood among the indexed artifacts (each artifact's vector
  is the normalised mean of its indexed views, ``SearchDoc.views``): the cosine to its
  nearest other artifact (``nn``), the mean of its five nearest (``near5``), how many
  artifacts lie above cosine 0.5 (``crowded``) and how often it is among the five nearest of
  the others (``hub``). A tool among near twins should be harder to get right.
- **traffic**: the unlabelled resolves that put the same answer first (every other query of
  the run, labels unused): the mean of each ranking feature over them (``t_lead`` ...) and
  their number (``t_count``). A tool whose queries are usually won by a small margin should
  be harder too. (This one looks at all other queries, later ones included: an upper bound
  on what a live registry, which has only the earlier ones, could learn.)

Each set is fitted like the shipped model (tuning tools of both runs when --warm is given,
L2 0.001) on ten tool splits (seeds 0-9, 30 % of tools held out; seed 0 is the issue's) and
reported by its held-out ECE without reports (and with, given --warm).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from capgraph.cli.evaluate import load_results  # noqa: E402
from capgraph.search.calibration import Calibrator, fit_logistic  # noqa: E402
from capgraph.search.corpus import body_from_entry, ece  # noqa: E402
from capgraph.search.documents import documents_for  # noqa: E402
from capgraph.search.embedding import MiniLMEmbedder  # noqa: E402
from capgraph.search.evalsplit import QueryResult, split_by_tool  # noqa: E402

SHIPPED = ("coverage", "lead", "strength", "dense", "dense_lead", "outcomes", "evidence")
TRAFFIC = ("lead", "dense_lead", "coverage", "dense", "strength", "keyword_lead", "crowd")
Row = dict[str, float]


def index_features(corpus: Path) -> dict[str, Row]:
    """Each artifact's neighbourhood among the others, from the text the index embeds."""
    entries = [json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip()]
    slugs, texts, owner = [], [], []
    for i, entry in enumerate(entries):
        body = body_from_entry(entry, version="1.0.0")
        slugs.append(body["artifact"]["slug"])
        for doc in documents_for(body, summary=entry.get("description") or None):
            for _, text in doc.views():
                texts.append(text)
                owner.append(i)
    views = MiniLMEmbedder().embed(texts)
    views /= np.linalg.norm(views, axis=1, keepdims=True)
    vectors = np.zeros((len(slugs), views.shape[1]))
    np.add.at(vectors, np.array(owner), views)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    nearest = np.argsort(-sims, axis=1)[:, :5]
    hub = np.bincount(nearest.ravel(), minlength=len(slugs))
    return {slug: {"nn": float(sims[i].max()),
                   "near5": float(sims[i, nearest[i]].mean()),
                   "crowded": float(np.log1p((sims[i] > 0.5).sum())),
                   "hub": float(hub[i]) / 5}
            for i, slug in enumerate(slugs)}


def traffic_features(results: Sequence[QueryResult]) -> list[Row]:
    """For each query, the mean ranking features of the run's other queries with the same top
    answer, and how many there were (log)."""
    def values(r: QueryResult) -> np.ndarray:
        return np.array([float(r.metrics.get(f"feature {n}", 0.0)) for n in TRAFFIC] + [1.0])

    sums: dict[str | None, np.ndarray] = defaultdict(lambda: np.zeros(len(TRAFFIC) + 1))
    for r in results:
        sums[r.top] += values(r)
    rows = []
    for r in results:
        own = values(r)
        rest = sums[r.top] - own
        n = rest[-1]
        row = {f"t_{name}": float(rest[i] / n) if n else float(own[i])
               for i, name in enumerate(TRAFFIC)}
        row["t_count"] = float(np.log1p(n))
        rows.append(row)
    return rows


Labelled = dict[int, tuple[Row, bool]]
"""A run's feature row and label of each query, by the query's ``id()`` (``split_by_tool``
hands back the run's own objects)."""


def rows_of(results: Sequence[QueryResult], index: dict[str, Row]) -> Labelled:
    empty = dict.fromkeys(next(iter(index.values())), 0.0)
    rows: Labelled = {}
    for r, traffic in zip(results, traffic_features(results), strict=True):
        row = {n: float(r.metrics.get(f"feature {n}", 0.0)) for n in SHIPPED}
        row.update(index.get(r.top or "", empty))
        row.update(traffic)
        rows[id(r)] = (row, r.metrics["correct"] > 0)
    return rows


def held_out_ece(runs: dict[str, list[QueryResult]], rows: dict[str, Labelled],
                 names: list[str], seed: int) -> dict[str, float]:
    """Fit on the tuning tools of every run at ``seed``; the ECE on each run's held-out tools."""
    sides = {name: split_by_tool(results, seed=seed) for name, results in runs.items()}
    tune = [rows[name][id(r)] for name, side in sides.items() for r in side["tune"]]
    weights, bias = fit_logistic([row for row, _ in tune], [label for _, label in tune],
                                 names=names, l2=1e-3)
    model = Calibrator(weights=weights, bias=bias, threshold=0.0)
    out = {}
    for name, side in sides.items():
        held = [rows[name][id(r)] for r in side["held-out"]]
        out[name] = ece([model.confidence(row) for row, _ in held], [label for _, label in held])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path,
                        default=ROOT.parent / "shared" / "eval" / "metatool" / "corpus.jsonl")
    parser.add_argument("--cold", type=Path, required=True,
                        help="a `capgraph eval --split tools --save` file without --outcomes")
    parser.add_argument("--warm", type=Path, default=None,
                        help="the same with --outcomes 0 (fit on both, as the shipped model)")
    parser.add_argument("--splits", type=int, default=10)
    args = parser.parse_args()
    runs = {"without reports": load_results(args.cold)}
    if args.warm is not None:
        runs["with reports"] = load_results(args.warm)
    if any(r.top is None and r.metrics.get("feature lead") is not None
           for r in runs["without reports"][:100]):
        sys.exit("the runs do not name their top answers: save them with this version")
    index = index_features(args.corpus)
    rows = {name: rows_of(results, index) for name, results in runs.items()}
    sets = {"shipped": [], "nn": ["nn"], "near5": ["near5"], "crowded": ["crowded"],
            "hub": ["hub"], "index, all four": ["nn", "near5", "crowded", "hub"],
            "t_lead": ["t_lead"], "t_dense_lead": ["t_dense_lead"],
            "t_keyword_lead": ["t_keyword_lead"], "t_count": ["t_count"],
            "traffic, all eight": [f"t_{n}" for n in TRAFFIC] + ["t_count"]}
    print("| features | " + " | ".join(f"{run}: seed 0 | {run}: mean of {args.splits} "
                                        f"(<= 0.05)" for run in runs) + " |")
    print("|---|" + "---|---|" * len(runs))
    for label, extra in sets.items():
        per_seed = [held_out_ece(runs, rows, [*SHIPPED, *extra], seed)
                    for seed in range(args.splits)]
        cells = []
        for run in runs:
            values = np.array([s[run] for s in per_seed])
            cells += [f"{values[0]:.4f}",
                      f"{values.mean():.4f} ({int((values <= 0.05).sum())}/{args.splits})"]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
