"""Fit the matchConfidence model on half of the labeled dev set; report ECE on the other half.

    .venv/bin/python bench/calibrate.py [--write]

Reads ../shared/eval/metatool at run time. With --write, stores the coefficients in
src/capgraph/search/calibration.json (the file the resolver ships with).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "metatool"
sys.path.insert(0, str(ROOT / "src"))

from capgraph.cli.evaluate import load_corpus  # noqa: E402
from capgraph.search.calibration import FEATURES, Calibrator, fit_logistic  # noqa: E402
from capgraph.search.corpus import ece  # noqa: E402
from capgraph.search.embedding import MiniLMEmbedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--sample", type=int, default=6000)
    args = parser.parse_args()
    corpus = [json.loads(line) for line in (EVAL / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (EVAL / "queries.jsonl").open()]
    queries = [q for q in queries if q.get("subset") == "single"]
    step = max(1, len(queries) // args.sample)
    queries = queries[::step][: args.sample]
    with tempfile.TemporaryDirectory() as keys:
        registry, _ = load_corpus(corpus, keys_dir=Path(keys), embedder=MiniLMEmbedder(threads=2))
        resolver = registry.resolver
        rows, labels = [], []
        for q in queries:
            text = q["query"][:500].ljust(2)
            picks = resolver.rank(text, None, None, "default")
            rows.append(resolver.features(text, picks))
            labels.append(bool(picks) and picks[0].cand.card.slug in q["relevant"])
    names = [n for n in FEATURES if any(n in r for r in rows)]
    fit_rows, fit_labels = rows[0::2], labels[0::2]
    test_rows, test_labels = rows[1::2], labels[1::2]
    weights, bias = fit_logistic(fit_rows, fit_labels, names=names)
    model = Calibrator(weights=weights, bias=bias, threshold=0.3)
    test_conf = [model.confidence(r) for r in test_rows]
    fit_conf = [model.confidence(r) for r in fit_rows]
    report = {
        "queries": len(rows), "features": names, "weights": weights, "bias": bias,
        "accuracy_top1": sum(labels) / len(labels),
        "ece_fit_half": round(ece(fit_conf, fit_labels), 4),
        "ece_held_out_half": round(ece(test_conf, test_labels), 4),
    }
    print(json.dumps(report, indent=2))
    if args.write:
        out = {"weights": weights, "bias": bias, "threshold": 0.3,
               "fit": {k: report[k] for k in ("queries", "ece_held_out_half", "accuracy_top1")},
               "note": "written by bench/calibrate.py on ../shared/eval/metatool (single)"}
        path = ROOT / "src" / "capgraph" / "search" / "calibration.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
