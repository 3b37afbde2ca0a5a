"""The dense index: capability vectors from the store, searched in process.

The store keeps an append-only *vector log* (``capability_vectors``): each publish writes a
reset marker for its artifact, then one row per capability. Every process replays the log from
the last sequence number it saw (``sync``), so any number of server processes on one database
see every publish, and a restart rebuilds the same index. Below ``ANN_THRESHOLD`` vectors the
search is exact (a matrix product); above it an HNSW graph (usearch) answers, saved to a
snapshot file so a restart only replays what came after the snapshot.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from capgraph.ports import Store

__all__ = ["ANN_THRESHOLD", "VectorIndex"]

log = logging.getLogger(__name__)
ANN_THRESHOLD = 20_000


def _dots(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's dot product with ``vector``, computed the same way wherever the row sits.
    A matrix product's blocking rounds a row's result differently by its position, so two
    identical capabilities (a mirror, a fork) would tie or not depending on where their rows
    landed: a restart or a rebuild moves rows and flipped the order of such ties."""
    out: np.ndarray = (rows * vector).sum(axis=1)
    return out


class VectorIndex:
    def __init__(self, store: Store, *, dim: int, snapshot: Path | None = None,
                 ann_threshold: int = ANN_THRESHOLD) -> None:
        self.store = store
        self.dim = dim
        self.snapshot = snapshot
        self.ann_threshold = ann_threshold
        self._lock = threading.Lock()
        self._seq = 0
        self._generation = -1
        self._keys: list[tuple[str, str, str] | None] = []  # label -> (slug, cap_id, type)
        self._by_slug: dict[str, list[int]] = {}
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)  # label -> still present
        self._live = 0
        self._count = 0
        self._ann: Any = None
        self._load_snapshot()

    # -- keeping up with the store -----------------------------------------------------------
    def sync(self) -> None:
        """Apply every vector-log row written since the last sync (cheap when nothing moved)."""
        generation = self.store.generation()
        if generation == self._generation:
            return
        with self._lock:
            while True:
                rows = self.store.vector_changes(self._seq, limit=50_000)
                if not rows:
                    break
                for seq, slug, cap_id, kind, vec in rows:
                    self._apply(slug, cap_id, kind, vec)
                    self._seq = seq
            self._generation = generation

    def _apply(self, slug: str, cap_id: str, kind: str, vec: bytes | None) -> None:
        if vec is None:  # reset marker: the artifact's earlier vectors are gone
            for label in self._by_slug.pop(slug, []):
                self._keys[label] = None
                self._alive[label] = False
                self._live -= 1
                if self._ann is not None:
                    self._ann.remove(label)
            return
        vector = np.frombuffer(vec, dtype=np.float16).astype(np.float32)
        label = len(self._keys)
        self._keys.append((slug, cap_id, kind))
        self._by_slug.setdefault(slug, []).append(label)
        if self._count == len(self._matrix):
            grown = np.zeros((max(1024, 2 * len(self._matrix)), self.dim), dtype=np.float32)
            grown[: self._count] = self._matrix[: self._count]
            self._matrix = grown
            alive = np.zeros(len(grown), dtype=bool)
            alive[: self._count] = self._alive[: self._count]
            self._alive = alive
        self._matrix[self._count] = vector
        self._alive[self._count] = True
        self._count += 1
        self._live += 1
        if self._ann is not None:
            self._ann.add(label, vector)
        elif self._count >= self.ann_threshold:
            self._build_ann()

    def _build_ann(self) -> None:
        from usearch.index import Index

        live = [i for i, k in enumerate(self._keys) if k is not None]
        index = Index(ndim=self.dim, metric="ip", dtype="f16", connectivity=16,
                      expansion_add=128, expansion_search=64)
        if live:
            index.add(np.array(live, dtype=np.uint64), self._matrix[live])
        self._ann = index
        log.info("built HNSW index over %d vectors", len(live))

    # -- snapshots ---------------------------------------------------------------------------
    def save_snapshot(self) -> None:
        """Write the index and the sequence number it reflects (``capgraph index rebuild``)."""
        if self.snapshot is None:
            return
        with self._lock:
            self.snapshot.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.snapshot.with_suffix(".tmp.npz")
            labels = [i for i, k in enumerate(self._keys) if k is not None]  # live rows only
            keys = np.array([self._keys[i] for i in labels], dtype=str).reshape(-1, 3)
            np.savez(tmp, seq=self._seq, dim=self.dim,
                     matrix=self._matrix[labels].astype(np.float16), keys=keys,
                     live=np.ones(len(labels), dtype=bool))
            tmp.replace(self.snapshot)

    def _load_snapshot(self) -> None:
        if self.snapshot is None or not self.snapshot.exists():
            return
        try:
            data = np.load(self.snapshot, allow_pickle=False)
            if int(data["dim"]) != self.dim:
                return
            matrix, keys, live = data["matrix"], data["keys"], data["live"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable vector snapshot %s: %s", self.snapshot, exc)
            return
        self._matrix = np.array(matrix, dtype=np.float32)
        self._count = len(self._matrix)
        self._keys = [tuple(k) if ok else None for k, ok in zip(keys.tolist(), live.tolist(),
                                                                 strict=True)]
        self._alive = np.array([k is not None for k in self._keys], dtype=bool)
        self._live = int(self._alive.sum())
        for label, key in enumerate(self._keys):
            if key is not None:
                self._by_slug.setdefault(key[0], []).append(label)
        self._seq = int(data["seq"])
        if self._count >= self.ann_threshold:
            self._build_ann()

    # -- queries -----------------------------------------------------------------------------
    def cosines(self, vector: np.ndarray, keys: list[tuple[str, str]]
                ) -> dict[tuple[str, str], float]:
        """Exact cosines of the query with specific capabilities (those the dense top-k
        missed but the keyword index found)."""
        labels = {}
        for slug, cap_id in keys:
            for label in self._by_slug.get(slug, []):
                key = self._keys[label]
                if key is not None and key[1] == cap_id:
                    labels[(slug, cap_id)] = label
        if not labels:
            return {}
        rows = _dots(self._matrix[list(labels.values())], vector)
        return {k: float(v) for k, v in zip(labels, rows, strict=True)}

    def __len__(self) -> int:
        return self._live

    def query(self, vector: np.ndarray, *, k: int, artifact_type: str | None = None
              ) -> list[tuple[str, str, float]]:
        """The ``k`` capabilities with the largest dot product with the query (a mean of
        cosines, see ``SearchDoc.dense_texts``): (slug, capability id, score)."""
        self.sync()
        if self._count == 0:
            return []
        want = k * 4 if artifact_type else k
        if self._ann is not None:
            found = self._ann.search(vector, min(want, len(self)))
            pairs = [(int(label), 1.0 - float(dist))
                     for label, dist in zip(found.keys, found.distances, strict=True)]
        else:
            scores = self._matrix[: self._count] @ vector
            scores = np.where(self._alive[: self._count], scores, -2.0)
            top = min(want, self._count)
            idx = np.argpartition(-scores, top - 1)[:top]
            idx = idx[scores[idx] > -2.0]
            exact = _dots(self._matrix[idx], vector)  # the selection's scores, position-free
            order = np.argsort(-exact, kind="stable")
            pairs = [(int(idx[i]), float(exact[i])) for i in order]
        out = []
        for label, cosine in pairs:
            key = self._keys[label]
            if key is None or (artifact_type is not None and key[2] != artifact_type):
                continue
            out.append((key[0], key[1], cosine))
            if len(out) == k:
                break
        return out
