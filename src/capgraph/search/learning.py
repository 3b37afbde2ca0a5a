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

import threading

import numpy as np

from capgraph.ports import Store

__all__ = ["LEARN_WEIGHT", "SIMILARITY", "LearnedIndex"]

LEARN_WEIGHT = 0.15
SIMILARITY = 0.8


class LearnedIndex:
    def __init__(self, store: Store, *, dim: int) -> None:
        self.store = store
        self.dim = dim
        self._lock = threading.Lock()
        self._seq = 0
        self._generation = -1
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._count = 0
        self._keys: list[tuple[str, str]] = []
        self._success: list[bool] = []

    def sync(self) -> None:
        generation = self.store.generation()
        if generation == self._generation:
            return
        with self._lock:
            while True:
                rows = self.store.feedback_changes(self._seq, limit=10_000)
                if not rows:
                    break
                for seq, slug, cap_id, vec, outcome in rows:
                    self._seq = seq
                    if vec is None:
                        continue
                    if self._count == len(self._vectors):
                        grown = np.zeros((max(256, 2 * self._count), self.dim), np.float32)
                        grown[: self._count] = self._vectors[: self._count]
                        self._vectors = grown
                    self._vectors[self._count] = np.frombuffer(vec, np.float16)
                    self._keys.append((slug, cap_id))
                    self._success.append(outcome == "success")
                    # Last: ``boosts`` reads without the lock and trusts _count entries.
                    self._count += 1
            self._generation = generation

    def boosts(self, query: np.ndarray) -> dict[tuple[str, str], float]:
        """The learned boost of every capability with reports on intents like ``query``."""
        self.sync()
        if self._count == 0:
            return {}
        sims = self._vectors[: self._count] @ query
        close = np.nonzero(sims >= SIMILARITY)[0]
        tallies: dict[tuple[str, str], list[float]] = {}
        for i in close.tolist():
            tally = tallies.setdefault(self._keys[i], [0.0, 0.0])
            tally[0 if self._success[i] else 1] += float(sims[i])
        return {key: LEARN_WEIGHT * 2 * ((1 + s) / (2 + s + f) - 0.5)
                for key, (s, f) in tallies.items()}
