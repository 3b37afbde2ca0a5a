"""Sweep the fusion weight between the dense and keyword indexes on the retrieval dev set.

    .venv/bin/python bench/tune_fusion.py [--sample 2000]

Tunes on even-numbered sampled queries and reports the chosen weight on the odd-numbered ones
too, so the figure in BENCHMARKS.md is not the tuning set's own. Reads ../shared/eval at run
time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "metatool"
sys.path.insert(0, str(ROOT / "src"))

from capgraph.cli.evaluate import load_corpus  # noqa: E402
from capgraph.search.corpus import metrics_at  # noqa: E402
from capgraph.search.documents import query_terms  # noqa: E402
from capgraph.search.embedding import MiniLMEmbedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()
    corpus = [json.loads(line) for line in (EVAL / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (EVAL / "queries.jsonl").open()]
    queries = [q for q in queries if q.get("subset") == "single"]
    step = max(1, len(queries) // args.sample)
    queries = queries[::step][: args.sample]
    embedder = MiniLMEmbedder(threads=2)
    with tempfile.TemporaryDirectory() as keys:
        registry, _ = load_corpus(corpus, keys_dir=Path(keys), embedder=embedder)
        assert registry.vectors is not None
        registry.vectors.sync()
        items = list(registry.vectors.items())
        slugs = sorted({slug for slug, _, _ in items})
        index = {s: i for i, s in enumerate(slugs)}
        q_vecs = embedder.embed([q["query"] for q in queries])
        dense = np.full((len(queries), len(slugs)), -1.0)
        for slug, _, vec in items:
            col = index[slug]
            dense[:, col] = np.maximum(dense[:, col], q_vecs @ vec.astype(np.float32))
        keyword = np.zeros_like(dense)
        for i, q in enumerate(queries):
            for slug, _, score in registry.keywords.search(query_terms(q["query"]),
                                                                limit=500):
                keyword[i, index[slug]] = max(keyword[i, index[slug]], score)
        top = keyword.max(axis=1, keepdims=True)
        keyword_norm = keyword / np.where(top > 0, top, 1.0)

    def evaluate(alpha: float, rows: range) -> dict[str, float]:
        fused = alpha * dense + (1 - alpha) * keyword_norm
        sums: dict[str, float] = {}
        for i in rows:
            ranked = [slugs[j] for j in np.argsort(-fused[i])[:10]]
            for k, v in metrics_at(ranked, set(queries[i]["relevant"])).items():
                sums[k] = sums.get(k, 0.0) + v
        return {k: round(v / len(rows), 4) for k, v in sums.items()}

    tune = range(0, len(queries), 2)
    held = range(1, len(queries), 2)
    results = []
    for alpha in (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0):
        m = evaluate(alpha, tune)
        results.append((alpha, m))
        print(f"alpha {alpha:.2f} tune  {m}")
    best = max(results, key=lambda r: (r[1]["ndcg@10"], r[1]["recall@1"]))[0]
    print(f"best alpha {best}: held-out {evaluate(best, held)}")


if __name__ == "__main__":
    main()
