"""Following an append-only store log, and the growable row matrix the followers fill.

The vector index and the learned ranking each keep an in-process copy of a store log (the
vector log, the counted feedback). ``LogFollower`` fetches only the rows written since the
last one it saw, and only when the store's generation moved; ``GrowableRows`` holds their
vectors with amortised growth, so a replay of a million rows copies each row O(1) times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

__all__ = ["GrowableRows", "LogFollower"]

Row = TypeVar("Row", bound=Sequence[Any])


class GrowableRows:
    """Rows of ``dim`` values (scalars when ``dim`` is None) appended in blocks. Readers may
    read without a lock: ``rows()`` reads the count before the buffer, and ``extend`` fills
    the buffer before it moves the count."""

    def __init__(self, dim: int | None, dtype: type[np.generic], *, minimum: int = 1024,
                 initial: np.ndarray | None = None) -> None:
        self.dim = dim
        self.dtype = np.dtype(dtype)
        self._minimum = minimum
        self._buffer = np.zeros(self._shape(0), dtype=self.dtype)
        self._count = 0
        if initial is not None:
            self._buffer = np.ascontiguousarray(initial, dtype=self.dtype)
            self._count = len(initial)

    def _shape(self, rows: int) -> tuple[int, ...]:
        return (rows,) if self.dim is None else (rows, self.dim)

    def __len__(self) -> int:
        return self._count

    def extend(self, block: np.ndarray) -> None:
        """Append ``block`` (n rows, cast to this matrix's dtype)."""
        n = len(block)
        if n == 0:
            return
        buffer = self._buffer
        if self._count + n > len(buffer):
            # x1.25, not x2: a million-row float16 matrix is 768 MB, and doubling it would
            # leave up to half of the new buffer unused; copies per row stay O(1).
            size = max(self._count + n, len(buffer) + max(self._minimum, len(buffer) // 4))
            grown = np.empty(self._shape(size), dtype=self.dtype)
            grown[: self._count] = buffer[: self._count]
            buffer = grown
        buffer[self._count : self._count + n] = block
        self._buffer = buffer
        self._count += n

    def rows(self) -> np.ndarray:
        """The rows appended so far (a view, not a copy)."""
        count = self._count
        return self._buffer[:count]


class LogFollower(Generic[Row]):
    """Replays a store log in batches: ``fetch(since, limit)`` returns rows whose first field
    is the sequence number, and ``apply`` takes each batch in order. ``sync`` is a no-op while
    ``generation()`` (bumped by every store write) has not moved."""

    def __init__(self, *, generation: Callable[[], int],
                 fetch: Callable[[int, int], Sequence[Row]],
                 apply: Callable[[Sequence[Row]], None], batch: int) -> None:
        self.lock = threading.Lock()  # also held by owners while they read a whole state
        self.seq = 0
        self._generation_of = generation
        self._fetch = fetch
        self._apply = apply
        self._batch = batch
        self._generation = -1

    def sync(self) -> None:
        """Apply every row written since the last sync (cheap when nothing moved)."""
        generation = self._generation_of()
        if generation == self._generation:
            return
        with self.lock:
            while True:
                rows = self._fetch(self.seq, self._batch)
                if not rows:
                    break
                self._apply(rows)
                self.seq = int(rows[-1][0])
            self._generation = generation
