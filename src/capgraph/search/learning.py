"""Learned ranking: outcomes reported for similar intents move capabilities up or down.

For a query q and a capability c, every counted report on c whose intent has cosine
``sim >= SIMILARITY`` with q adds ``sim`` to c's successes or failures. With those weighted
counts s and f, c's learned boost is

    boost = LEARN_WEIGHT x 2 x ((1 + s) / (2 + s + f) - 0.5)       in (-LEARN_WEIGHT, LEARN_WEIGHT)

so a capability that keeps failing for this kind of intent sinks, one that keeps working
rises, and a handful of reports moves it only a little. The reports come from the store's
feedback table, replayed per process like the vector log, so every process learns the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from capgraph.ports import FeedbackChange, IndexFeeds
from capgraph.search.replay import GrowableRows, LogFollower

__all__ = ["LEARN_WEIGHT", "SIMILARITY", "LearnedIndex"]

LEARN_WEIGHT = 0.15
SIMILARITY = 0.8


class LearnedIndex:
    def __init__(self, store: IndexFeeds, *, dim: int) -> None:
        self.store = store
        self.dim = dim
        self._vectors = GrowableRows(dim, np.float32, minimum=256)
        self._keys: list[tuple[str, str]] = []
        self._success: list[bool] = []
        self._log = LogFollower(generation=store.generation, fetch=self._fetch,
                                apply=self._apply, batch=10_000)

    def sync(self) -> None:
        """Learn from every counted report made since the last sync."""
        self._log.sync()

    def _fetch(self, since: int, limit: int) -> list[FeedbackChange]:
        return self.store.feedback_changes(since, limit=limit)

    def _apply(self, rows: Sequence[FeedbackChange]) -> None:
        for _, slug, cap_id, vec, outcome in rows:
            if vec is None:
                continue
            self._keys.append((slug, cap_id))
            self._success.append(outcome == "success")
            # Last: ``boosts`` reads without the lock and trusts the rows it sees.
            self._vectors.extend(np.frombuffer(vec, np.float16).reshape(1, self.dim))

    def boosts(self, query: np.ndarray) -> dict[tuple[str, str], float]:
        """The learned boost of every capability with reports on intents like ``query``."""
        self.sync()
        vectors = self._vectors.rows()
        if len(vectors) == 0:
            return {}
        sims = vectors @ query
        close = np.nonzero(sims >= SIMILARITY)[0]
        tallies: dict[tuple[str, str], list[float]] = {}
        for i in close.tolist():
            tally = tallies.setdefault(self._keys[i], [0.0, 0.0])
            tally[0 if self._success[i] else 1] += float(sims[i])
        return {key: LEARN_WEIGHT * 2 * ((1 + s) / (2 + s + f) - 0.5)
                for key, (s, f) in tallies.items()}
