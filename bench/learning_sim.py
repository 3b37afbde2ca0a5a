"""Does resolution learn from reported outcomes? Simulated agents resolve, use the top answer,
and report whether it worked; top-1 success and cumulative regret with learning on and off.

    .venv/bin/python bench/learning_sim.py [--rounds 30] [--intents 40] [--seed 7]
        [--png bench/learning.png] [--json bench/out/learning_sim.json]

Setup (read at run time from ../shared/eval/metatool, 199 artifacts):
- every artifact is imported into an in-memory Registry with the MiniLM embedder;
- intents: single-tool queries, screened in a seeded random order, whose labeled artifact is
  ranked 2nd to 5th by text (search with no feedback yet): in the top 5 but not the top 1.
  One intent per labeled artifact, ``--intents`` of them;
- each intent has 2 to ``--paraphrases`` phrasings: the screened query plus other queries
  labeled with the same artifact, close to it (most shared words, then cosine), that the text
  ranking also gets wrong (2nd to 5th). Each round an intent is asked in its next phrasing, so
  what is learned must carry over between phrasings (the learned index counts reports on
  intents with cosine >= 0.8);
- hidden truth: using the labeled artifact works with p = 0.85, any other artifact with
  p = 0.15;
- every round every intent is resolved (``Registry.resolve``, limit 1); the agent uses the
  top answer, draws the outcome and reports it through ``Registry.feedback`` with the
  callback token. When resolve answers "no confident match" the agent takes the search's top
  match instead and reports on its ``matchRecordId``. Each agent is its own client and the
  clock moves one day per round, so the per-client cap (3 a day per artifact) never drops a
  report;
- two arms on separate registries with the same draws (common random numbers): learning on,
  and the baseline with ``SearchEngine.learning = False`` (the reports still update passports,
  so the baseline keeps the small trust-score prior; it loses only the learned boost).

Top-1 success per round is the mean hidden p of the answers (expected, not the noisy draws);
regret per round is the sum over intents of 0.85 - p(answer).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "metatool"
sys.path.insert(0, str(ROOT / "src"))

from capgraph.bootstrap import assemble_registry  # noqa: E402
from capgraph.registry import Registry  # noqa: E402
from capgraph.search.corpus import body_from_entry  # noqa: E402
from capgraph.search.embedding import MiniLMEmbedder  # noqa: E402
from capgraph.storage.keystore import FileKeyStore  # noqa: E402
from capgraph.storage.memory import MemoryStore  # noqa: E402

P_RIGHT = 0.85
P_WRONG = 0.15
LEXICAL = 12
START = datetime(2026, 1, 1, tzinfo=UTC)


class CachedEmbedder:
    """MiniLM behind a text -> vector cache: the arms and rounds ask the same texts again.
    Caching changes no result, only the run time."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for start in range(0, len(missing), 64):
            batch = missing[start:start + 64]
            for text, row in zip(batch, self.inner.embed(batch), strict=True):
                self._cache[text] = row
        return np.stack([self._cache[t] for t in texts])


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Intent:
    relevant: str
    phrasings: list[str]
    text_rank: int  # 1-based rank of the relevant artifact for the first phrasing, by text
    gap: float  # mean over phrasings: top relevance - the relevant artifact's, by text


@dataclass
class Arm:
    name: str
    success: list[float] = field(default_factory=list)  # per round: mean hidden p of answers
    hits: list[float] = field(default_factory=list)  # per round: share answering `relevant`
    regret: list[float] = field(default_factory=list)  # per round: sum of 0.85 - p
    counted: int = 0
    fallbacks: int = 0  # resolves with no confident match (reported via search instead)
    last_hits: list[bool] = field(default_factory=list)  # per intent, in the last round


def build_registry(corpus: Sequence[dict[str, Any]], embedder: CachedEmbedder, clock: Clock,
                   keys: Path) -> Registry:
    registry = assemble_registry(store=MemoryStore(), keys=FileKeyStore(keys), registry_name="sim",
                        public_url="http://sim.invalid", clock=clock, embedder=embedder)
    for entry in corpus:
        registry.import_passport({"passport": {"unfragile": body_from_entry(
            entry, version="2026-01")}}, summary=entry.get("description") or None)
    return registry


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def text_rank(registry: Registry, query: str, relevant: str) -> tuple[int, float]:
    """1-based rank of ``relevant`` among the first five artifacts for ``query`` (0: absent),
    and how far its relevance is behind the first one's."""
    top = registry.engine.candidates(query)[:5]
    for n, cand in enumerate(top):
        if cand.card.slug == relevant:
            return n + 1, top[0].relevance - cand.relevance
    return 0, 0.0


def pick_intents(registry: Registry, embedder: CachedEmbedder, queries: list[dict[str, Any]],
                 *, count: int, paraphrases: int, rng: random.Random) -> list[Intent]:
    """Intents the text ranking gets wrong: every phrasing has its labeled artifact in the top
    5 but not first. Phrasings come from the queries labeled with the same artifact: the
    ``LEXICAL`` sharing most words with the first one, then the closest of those by cosine."""
    by_artifact: dict[str, list[str]] = {}
    for q in queries:
        by_artifact.setdefault(q["relevant"][0], []).append(q["query"])
    order = list(queries)
    rng.shuffle(order)
    intents: list[Intent] = []
    taken: set[str] = set()
    for start in range(0, len(order), 64):
        batch = [q for q in order[start:start + 64] if q["relevant"][0] not in taken]
        embedder.embed([q["query"] for q in batch])
        for q in batch:
            relevant = q["relevant"][0]
            if relevant in taken:
                continue
            rank, gap = text_rank(registry, q["query"], relevant)
            if rank < 2:
                continue
            others = [t for t in by_artifact[relevant] if t != q["query"]]
            words = _words(q["query"])
            others.sort(key=lambda t: (-len(words & _words(t)) / len(words | _words(t)), t))
            others = others[:LEXICAL]
            if not others:
                continue
            sims = embedder.embed(others) @ embedder.embed([q["query"]])[0]
            others = [others[i] for i in np.argsort(-sims, kind="stable")]
            hard = [(t, r[1]) for t in others
                    if (r := text_rank(registry, t, relevant))[0] >= 2][:paraphrases - 1]
            if not hard:
                continue
            gaps = [gap, *(g for _, g in hard)]
            intents.append(Intent(relevant, [q["query"], *(t for t, _ in hard)], rank,
                                  sum(gaps) / len(gaps)))
            taken.add(relevant)
            if len(intents) == count:
                return intents
    return intents


def run_arm(arm: Arm, registry: Registry, clock: Clock, intents: Sequence[Intent],
            draws: np.ndarray) -> None:
    for rnd in range(draws.shape[0]):
        clock.now = START + timedelta(days=rnd)
        ps: list[float] = []
        hits = 0
        for i, intent in enumerate(intents):
            text = intent.phrasings[(rnd + i) % len(intent.phrasings)]
            answer = registry.resolve(text, limit=1)
            if answer.resolved:
                entry = answer.resolved[0]
                slug = entry.artifact.slug
                report: dict[str, Any] = {"resolveId": answer.resolve_id, "slug": slug,
                                          "callbackToken": entry.callback_token}
            else:
                arm.fallbacks += 1
                match = registry.search(text, limit=1).matches[0]
                slug = match.slug
                report = {"matchRecordId": match.match_record_id}
            p = P_RIGHT if slug == intent.relevant else P_WRONG
            ps.append(p)
            hits += slug == intent.relevant
            outcome = "success" if draws[rnd, i] < p else "failure"
            result = registry.feedback({**report, "outcome": outcome, "source": "simulation"},
                                       client=f"agent-{i:02d}")
            arm.counted += bool(result.counted)
        arm.last_hits = [p == P_RIGHT for p in ps]
        arm.success.append(float(np.mean(ps)))
        arm.hits.append(hits / len(intents))
        arm.regret.append(float(sum(P_RIGHT - p for p in ps)))


def plot(arms: Sequence[Arm], path: Path, *, intents: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    styles = {"learning": ("tab:blue", "-"), "baseline (no learning)": ("tab:gray", "--")}
    for arm in arms:
        color, line = styles[arm.name]
        rounds = np.arange(1, len(arm.success) + 1)
        left.plot(rounds, arm.success, color=color, linestyle=line, label=arm.name)
        right.plot(rounds, np.cumsum(arm.regret), color=color, linestyle=line, label=arm.name)
    left.axhline(P_RIGHT, color="tab:green", linewidth=0.8, linestyle=":",
                 label=f"best possible ({P_RIGHT})")
    left.set(xlabel="round", ylabel="top-1 success (expected)", ylim=(0, 1),
             title=f"Top-1 success, {intents} intents")
    right.set(xlabel="round", ylabel="cumulative regret (uses)",
              title="Cumulative regret vs always using the right artifact")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--intents", type=int, default=40)
    parser.add_argument("--paraphrases", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--png", type=Path, default=ROOT / "bench" / "learning.png")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.monotonic()
    corpus = [json.loads(line) for line in (EVAL / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (EVAL / "queries.jsonl").open()]
    queries = [q for q in queries if q.get("subset") == "single"
               and 2 <= len(q["query"].strip()) <= 500]  # what resolve accepts
    embedder = CachedEmbedder(MiniLMEmbedder(threads=2))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        learning = build_registry(corpus, embedder, clock, Path(tmp) / "keys-a")
        print(f"imported {len(corpus)} artifacts in {time.monotonic() - started:.0f} s",
              flush=True)
        intents = pick_intents(learning, embedder, queries, count=args.intents,
                               paraphrases=args.paraphrases, rng=rng)
        print(f"picked {len(intents)} intents ({time.monotonic() - started:.0f} s)", flush=True)
        draws = np.random.default_rng(args.seed).random((args.rounds, len(intents)))
        baseline_clock = Clock()
        baseline = build_registry(corpus, embedder, baseline_clock, Path(tmp) / "keys-b")
        baseline.engine.learning = False
        arms = [Arm("learning"), Arm("baseline (no learning)")]
        run_arm(arms[0], learning, clock, intents, draws)
        run_arm(arms[1], baseline, baseline_clock, intents, draws)
    plot(arms, args.png, intents=len(intents))
    tail = max(1, args.rounds // 6)
    summary = {
        "rounds": args.rounds, "intents": len(intents), "seed": args.seed,
        "paraphrases": args.paraphrases,
        "text_rank_of_relevant": {str(r): sum(i.text_rank == r for i in intents)
                                  for r in range(2, 6)},
        "text_gap_over_0.1": sum(i.gap > 0.1 for i in intents),
        "arms": {
            arm.name: {
                "round1_success": round(arm.success[0], 3),
                f"last{tail}_success": round(float(np.mean(arm.success[-tail:])), 3),
                f"last{tail}_hit_rate": round(float(np.mean(arm.hits[-tail:])), 3),
                "cumulative_regret": round(float(np.sum(arm.regret)), 1),
                "counted_reports": arm.counted, "search_fallbacks": arm.fallbacks,
                "last_round_right": {
                    "text_gap_le_0.1": sum(h for h, i in zip(arm.last_hits, intents, strict=True)
                                           if i.gap <= 0.1),
                    "text_gap_gt_0.1": sum(h for h, i in zip(arm.last_hits, intents, strict=True)
                                           if i.gap > 0.1)},
                "success_per_round": [round(s, 3) for s in arm.success],
            } for arm in arms
        },
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    for arm in arms:
        s = summary["arms"][arm.name]  # type: ignore[index]
        print(f"{arm.name:24s} round 1 {s['round1_success']:.3f}  last {tail} rounds "
              f"{s[f'last{tail}_success']:.3f} (hit rate {s[f'last{tail}_hit_rate']:.3f})  "
              f"cumulative regret {s['cumulative_regret']:.1f}  counted {s['counted_reports']}"
              f"  search fallbacks {s['search_fallbacks']}")
    print(f"text rank of the relevant artifact: {summary['text_rank_of_relevant']}; "
          f"intents whose text relevance gap is over 0.1: {summary['text_gap_over_0.1']}")
    for arm in arms:
        print(f"{arm.name}: right in the last round, by text gap: "
              f"{summary['arms'][arm.name]['last_round_right']}")  # type: ignore[index]
    print(f"wrote {args.png} in {summary['seconds']} s")


if __name__ == "__main__":
    main()
