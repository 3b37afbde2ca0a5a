"""Text the embedding model cannot read (issue 16, point 4): how well ``readable`` detects it,
and what leaving it out of the vectors does to retrieval. A constructed set, not real
translations: nothing here is reached over the network.

    .venv/bin/python bench/unreadable.py [--sample 600] [--json bench/out/unreadable.json]

The dev set's held-out tools (``--split tools``, seed 0) get their descriptions (the
artifact's and the capability's) replaced by a stand-in for a non-English text: every letter
mapped to a CJK ideograph by a fixed rule, word boundaries kept, so the texts are unreadable
to the English model the way Chinese descriptions are, while the tools' names stay English
(as in the MCP servers of issue 16). The other tools are unchanged. Detection is measured on
every description of the set (original and stand-in); retrieval on the stand-in tools'
queries, once as shipped (unreadable texts left out of the vectors, the capability embedded by
its name) and once with the test off (``READABLE_SHARE = 0``: every text embedded).
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

from capgraph.cli.evaluate import run_queries  # noqa: E402
from capgraph.search import documents  # noqa: E402
from capgraph.search.embedding import MiniLMEmbedder  # noqa: E402
from capgraph.search.evalsplit import bootstrap_difference, bootstrap_mean, side_of  # noqa: E402


def stand_in(text: str) -> str:
    """Each ASCII letter to an ideograph (by letter and position in its word)."""
    words = []
    for word in text.split():
        words.append("".join(chr(0x4E00 + (ord(c.lower()) * 37 + i * 101) % 20_000)
                             if c.isascii() and c.isalpha() else c
                             for i, c in enumerate(word)))
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=600)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    corpus = [json.loads(line) for line in (EVAL / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (EVAL / "queries.jsonl").open()]
    changed = {e["slug"] for e in corpus if side_of(e["slug"], seed=0, holdout=0.3) == "held-out"}
    originals, stand_ins = [], []
    for entry in corpus:
        texts = [entry.get("description") or "",
                 *(c.get("description") or "" for c in entry["capabilities"])]
        originals.extend(t for t in texts if t)
        if entry["slug"] in changed:
            entry["description"] = stand_in(entry.get("description") or "")
            for cap in entry["capabilities"]:
                cap["description"] = stand_in(cap.get("description") or "")
            stand_ins.extend(stand_in(t) for t in texts if t)
    flagged_real = sum(not documents.readable(t) for t in originals)
    flagged_made = sum(not documents.readable(t) for t in stand_ins)
    report: dict[str, object] = {
        "tools_changed": len(changed), "tools": len(corpus),
        "detection": {
            "original_texts": len(originals), "flagged_original": flagged_real,
            "stand_in_texts": len(stand_ins), "flagged_stand_in": flagged_made,
            "precision": round(flagged_made / max(1, flagged_made + flagged_real), 4),
            "recall": round(flagged_made / max(1, len(stand_ins)), 4)}}
    asked = [q for q in queries if q["relevant"] and set(q["relevant"]) <= changed]
    embedder = MiniLMEmbedder(threads=1)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path, queries_path = Path(tmp) / "corpus.jsonl", Path(tmp) / "queries.jsonl"
        corpus_path.write_text("".join(json.dumps(e) + "\n" for e in corpus))
        queries_path.write_text("".join(json.dumps(q) + "\n" for q in asked))
        for name, share in (("shipped", documents.READABLE_SHARE), ("test off", 0.0)):
            documents.READABLE_SHARE = share
            runs[name], _ = run_queries(corpus_path, queries_path, sample=args.sample,
                                        embedder=embedder)
    report["queries"] = len(runs["shipped"])
    for name, results in runs.items():
        report[name] = {m: str(bootstrap_mean(results, m)) for m in ("recall@1", "ndcg@10")}
    report["shipped - test off"] = {
        m: str(bootstrap_difference(runs["shipped"], runs["test off"], m))
        for m in ("recall@1", "ndcg@10")}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
