"""Generalisation discipline for retrieval changes: split a labelled set by tool, and put a
95% interval on every number by resampling tools, not queries.

Queries about one tool are not independent (they were written from the same description),
so an interval from resampling queries is too narrow and a split by query leaks: a change
tuned on some of a tool's queries is then "tested" on its siblings. Here a tool (an
artifact slug of the corpus) goes to the tuning or the held-out side as a whole, by a hash
of the seed and its slug (stable when the set grows), and the bootstrap draws tools with
replacement, each bringing all of its queries (a cluster bootstrap).
A comparison of two runs on the same queries is paired: each resample draws the same tools
for both, and the interval is on the difference.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Interval",
    "QueryResult",
    "bootstrap_difference",
    "bootstrap_mean",
    "side_of",
    "split_by_tool",
]

RESAMPLES = 1000


@dataclass(frozen=True)
class QueryResult:
    """One query's outcome: its id, its relevant tools, its metric values and the slug the
    resolve put first (None when it found nothing)."""

    query_id: str
    tools: tuple[str, ...]
    metrics: Mapping[str, float]
    top: str | None = None


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}]"


def side_of(tool: str, *, seed: int, holdout: float) -> str:
    """"tune" or "held-out" for ``tool``: a hash of seed and slug, so a tool keeps its side
    whatever else is in the set."""
    digest = hashlib.sha256(f"{seed}:{tool}".encode()).digest()
    return "held-out" if int.from_bytes(digest[:8], "big") / 2**64 < holdout else "tune"


def split_by_tool(results: Sequence[QueryResult], *, seed: int = 0, holdout: float = 0.3
                  ) -> dict[str, list[QueryResult]]:
    """The queries whose relevant tools are all on one side, by side; a query about tools on
    both sides is in neither (``"mixed"``)."""
    if not 0.0 < holdout < 1.0:
        raise ValueError("holdout must be between 0 and 1")
    out: dict[str, list[QueryResult]] = {"tune": [], "held-out": [], "mixed": []}
    for result in results:
        sides = {side_of(t, seed=seed, holdout=holdout) for t in result.tools}
        out[sides.pop() if len(sides) == 1 else "mixed"].append(result)
    return out


def _clusters(results: Sequence[QueryResult]) -> list[list[int]]:
    """Query positions grouped by their first relevant tool, in a stable order."""
    groups: dict[str, list[int]] = {}
    for i, result in enumerate(results):
        groups.setdefault(result.tools[0] if result.tools else result.query_id, []).append(i)
    return [groups[key] for key in sorted(groups)]


def _interval(results: Sequence[QueryResult], values: Sequence[float], *, seed: int,
              resamples: int) -> Interval:
    """The mean of ``values`` (one per result) with its 95% cluster-bootstrap interval."""
    clusters = _clusters(results)
    sums = [sum(values[i] for i in c) for c in clusters]
    sizes = [len(c) for c in clusters]
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        picks = rng.choices(range(len(clusters)), k=len(clusters))
        means.append(sum(sums[p] for p in picks) / sum(sizes[p] for p in picks))
    means.sort()
    last = len(means) - 1
    return Interval(sum(values) / len(values), means[round(0.025 * last)],
                    means[round(0.975 * last)])


def bootstrap_mean(results: Sequence[QueryResult], metric: str, *, seed: int = 0,
                   resamples: int = RESAMPLES) -> Interval:
    """The mean of ``metric`` over ``results`` with a 95% cluster-bootstrap interval."""
    if not results:
        return Interval(0.0, 0.0, 0.0)
    return _interval(results, [r.metrics[metric] for r in results], seed=seed,
                     resamples=resamples)


def bootstrap_difference(after: Sequence[QueryResult], before: Sequence[QueryResult],
                         metric: str, *, seed: int = 0, resamples: int = RESAMPLES
                         ) -> Interval:
    """after - before in the mean of ``metric`` over the queries both runs answered, with a
    paired 95% cluster-bootstrap interval (the same tools drawn for both)."""
    earlier = {r.query_id: r for r in before}
    pairs = [(r, earlier[r.query_id]) for r in after if r.query_id in earlier]
    if not pairs:
        raise ValueError("the two runs share no query")
    return _interval([a for a, _ in pairs],
                     [a.metrics[metric] - b.metrics[metric] for a, b in pairs],
                     seed=seed, resamples=resamples)
