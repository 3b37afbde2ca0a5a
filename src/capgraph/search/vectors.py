"""The dense index: capability vectors from the store, searched in process.

The store keeps an append-only *vector log* (``capability_vectors``): each publish writes a
reset marker for its artifact, then one row per capability. Every process replays the log from
the last sequence number it saw (``sync``), so any number of server processes on one database
see every publish, and a restart rebuilds the same index.

Each vector gets the next *label* (0, 1, 2, ...); a reset marker only clears its artifact's
labels in the ``alive`` mask. Vectors stay float16, as the log stores them. The labels are in
two parts:

- the *base*, labels below ``_base``: the snapshot's HNSW graph, memory-mapped read-only
  (``hnsw.view``), so a start costs no rebuild and every worker shares the pages. It cannot
  change, so labels removed since the snapshot are masked out of its answers (it is asked
  for more than needed when some are dead).
- the *tail*, labels from ``_base`` on: a float16 matrix in memory, searched exactly in
  chunks, or, once it holds ``ann_threshold`` vectors, by an in-memory HNSW graph (``_ann``)
  to which each batch of log rows is added in one call and from which dead labels are removed.

A query merges both parts' candidates and scores them all again exactly (``_dots``), so a
score never depends on which part, graph or row answered. Without a snapshot the base is
empty and the tail is the whole index, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from capgraph.ports import IndexFeeds, VectorChange
from capgraph.search import hnsw
from capgraph.search.documents import VIEW_MARK
from capgraph.search.labels import LabelTable
from capgraph.search.replay import GrowableRows, LogFollower
from capgraph.search.vector_snapshot import read_snapshot, write_snapshot

__all__ = ["ANN_THRESHOLD", "VectorIndex"]

log = logging.getLogger(__name__)
ANN_THRESHOLD = 20_000
SLACK = 8  # exact-path candidates beyond k, so ties at the cut are all rescored
OVERFETCH = 2_000  # dead or other-type tail rows skipped by over-fetching, not copying
CHUNK = 65_536  # vectors read at a time by items()

VectorRow = VectorChange


def _dots(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's dot product with ``vector`` in float32, computed the same way wherever the
    row sits. A matrix product's blocking rounds a row's result differently by its position,
    so two identical capabilities (a mirror, a fork) would tie or not depending on where their
    rows landed: a restart or a rebuild moves rows and flipped the order of such ties."""
    out: np.ndarray = (rows.astype(np.float32) * vector).sum(axis=1)
    return out


class VectorIndex:
    def __init__(self, store: IndexFeeds, *, dim: int, snapshot: Path | None = None,
                 ann_threshold: int = ANN_THRESHOLD) -> None:
        self.store = store
        self.dim = dim
        self.snapshot = snapshot
        self.ann_threshold = ann_threshold
        self._labels = LabelTable()
        self._alive = GrowableRows(None, np.bool_)  # label -> still present
        self._matrix = GrowableRows(dim, np.float16)  # the tail's rows, label - _base
        self._count = 0  # labels readers may use: every column is written up to here
        self._live = 0
        self._base = 0
        self._graph: Any = None  # viewed snapshot graph over labels < _base
        self._graph_dead = 0  # its labels dead since the snapshot
        self._ann: Any = None  # in-memory graph over the tail
        self._saved_seq = -1
        self._log = LogFollower[VectorRow](generation=store.generation, fetch=self._fetch,
                                           apply=self._apply, batch=50_000)
        self._load_snapshot()

    # -- keeping up with the store -----------------------------------------------------------
    def sync(self) -> None:
        """Apply every vector-log row written since the last sync (cheap when nothing moved)."""
        self._log.sync()

    def _fetch(self, since: int, limit: int) -> list[VectorRow]:
        return self.store.vector_changes(since, limit=limit)

    def _apply(self, rows: Sequence[VectorRow]) -> None:
        """One batch of log rows: new labels, rows and keys appended in one go each."""
        start = self._count
        vecs: list[bytes] = []
        slugs: list[str] = []
        cap_ids: list[str] = []
        kinds: list[str] = []
        pending: dict[str, list[int]] = {}  # slug -> labels given in this batch
        dead: list[np.ndarray] = []
        for _, slug, cap_id, kind, vec in rows:
            if vec is None:  # reset marker: the artifact's earlier vectors are gone
                dead.append(self._labels.labels_of(slug))
                dead.append(np.array(pending.pop(slug, []), dtype=np.int64))
                continue
            pending.setdefault(slug, []).append(start + len(vecs))
            vecs.append(vec)
            slugs.append(slug)
            cap_ids.append(cap_id)
            kinds.append(kind)
        block = np.frombuffer(b"".join(vecs), dtype=np.float16).reshape(len(vecs), self.dim)
        self._labels.append(slugs, cap_ids, kinds)
        self._matrix.extend(block)
        self._alive.extend(np.ones(len(vecs), dtype=bool))
        alive = self._alive.rows()
        killed = np.unique(np.concatenate(dead)) if dead else np.zeros(0, dtype=np.int64)
        killed = killed[alive[killed]]
        alive[killed] = False
        self._live += len(vecs) - len(killed)
        self._graph_dead += int((killed < self._base).sum())
        self._count = start + len(vecs)  # last: readers trust labels below it
        if self._ann is not None:
            gone = killed[killed >= self._base]
            if len(gone):
                self._ann.remove(gone.astype(np.uint64))
            new = np.arange(start, self._count)[alive[start:self._count]]
            hnsw.add(self._ann, new, block[new - start])
        elif self._count - self._base >= self.ann_threshold:
            self._build_ann()

    def _build_ann(self) -> None:
        labels = self._base + np.flatnonzero(self._alive.rows()[self._base:self._count])
        graph = hnsw.new_graph(self.dim)
        self._add_tail(graph, labels)
        self._ann = graph
        log.info("built HNSW index over %d vectors", len(labels))

    # -- snapshots ---------------------------------------------------------------------------
    def _load_snapshot(self) -> None:
        if self.snapshot is None:
            return
        snap = read_snapshot(self.snapshot, dim=self.dim)
        if snap is None:
            return
        self._labels = snap.labels
        self._alive = GrowableRows(None, np.bool_, initial=snap.alive)
        self._live = int(snap.alive.sum())
        if snap.graph is not None:
            self._graph, self._base = snap.graph, len(snap.alive)
        else:
            assert snap.matrix is not None
            self._matrix = GrowableRows(self.dim, np.float16, initial=snap.matrix)
        self._count = len(snap.alive)
        self._log.seq = self._saved_seq = snap.seq
        if self._graph is None and self._count >= self.ann_threshold:
            self._build_ann()

    def save_snapshot(self) -> None:
        """Write the index and the sequence number it reflects (``capgraph index rebuild``,
        ``capgraph serve`` before its workers start). Nothing to do if nothing changed."""
        if self.snapshot is None:
            return
        with self._log.lock:
            if self._saved_seq == self._log.seq and self.snapshot.exists():
                return
            count = self._count
            alive = self._alive.rows()[:count].copy()
            live = np.flatnonzero(alive)
            table = None
            matrix = graph = None
            if len(live) < self.ann_threshold:  # small: compact, vectors in the .npz
                matrix = self._rows(live)
                alive = np.ones(len(live), dtype=bool)
                table = self._labels.to_arrays(live)
            elif count - len(live) >= len(live):  # mostly dead: compact the labels
                graph = self._compacted_graph(live)
                alive = np.ones(len(live), dtype=bool)
                table = self._labels.to_arrays(live)
            else:
                graph = self._graph_of_every_label(alive)
            write_snapshot(self.snapshot, seq=self._log.seq, dim=self.dim,
                           table=table if table is not None else self._labels.to_arrays(),
                           alive=alive, matrix=matrix, graph=graph)
            self._saved_seq = self._log.seq

    def _compacted_graph(self, live: np.ndarray) -> Any:
        """A graph of the ``live`` labels renumbered 0..len(live)-1. When they are all in the
        tail's graph (every artifact re-published since the snapshot, as ``capgraph index
        rebuild`` does) that graph is copied and its keys renamed: no rebuild."""
        if self._ann is not None and len(live) > 0 and live[0] >= self._base:
            graph = hnsw.copy(self._ann)
            hnsw.rename(graph, live, np.arange(len(live)))
            return graph
        graph = hnsw.new_graph(self.dim)
        for start in range(0, len(live), hnsw.BATCH):
            chunk = live[start:start + hnsw.BATCH]
            hnsw.add(graph, np.arange(start, start + len(chunk)), self._rows(chunk))
        return graph

    def _graph_of_every_label(self, alive: np.ndarray) -> Any:
        """A graph holding exactly the alive labels below ``len(alive)``, under their own
        labels: the viewed base copied, its dead removed and the tail added; or the tail's
        graph as it is, when there is no base."""
        base = self._base
        if self._graph is None and self._ann is not None:
            return self._ann  # the whole index, dead labels already removed
        graph = hnsw.copy(self._graph) if self._graph is not None else hnsw.new_graph(self.dim)
        dead = np.flatnonzero(~alive[:base])
        if len(dead):
            graph.remove(dead.astype(np.uint64))
        self._add_tail(graph, base + np.flatnonzero(alive[base:]))
        return graph

    def _add_tail(self, graph: Any, labels: np.ndarray) -> None:
        """Add tail ``labels`` to ``graph`` a batch at a time (no copy of all their rows)."""
        rows = self._matrix.rows()
        for start in range(0, len(labels), hnsw.BATCH):
            chunk = labels[start:start + hnsw.BATCH]
            hnsw.add(graph, chunk, rows[chunk - self._base])

    # -- queries -----------------------------------------------------------------------------
    def _rows(self, labels: np.ndarray) -> np.ndarray:
        """The float16 vectors of alive ``labels``, from the viewed graph or the tail."""
        labels = np.asarray(labels, dtype=np.int64)
        base = labels < self._base
        if not base.any():
            tail: np.ndarray = self._matrix.rows()[labels - self._base]
            return tail
        out = np.empty((len(labels), self.dim), dtype=np.float16)
        out[base] = hnsw.vectors(self._graph, labels[base])
        out[~base] = self._matrix.rows()[labels[~base] - self._base]
        return out

    def _alive_labels_of(self, slugs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The alive labels of ``slugs`` (each artifact's looked up once) and, for each, the
        position of its slug in ``slugs``."""
        count = self._count
        alive = self._alive.rows()
        labels, owner = self._labels.labels_of_many(slugs)
        keep = labels < count
        keep[keep] = alive[labels[keep]]
        return labels[keep], owner[keep]

    def cosines(self, vector: np.ndarray, keys: list[tuple[str, str]]
                ) -> dict[tuple[str, str], float]:
        """Exact cosines of the query with specific vectors (those the dense top-k missed
        but the keyword index found)."""
        wanted: dict[str, set[str]] = {}
        for slug, cap_id in keys:
            wanted.setdefault(slug, set()).add(cap_id)
        # Each artifact's labels looked up once, and all their keys decoded in one pass (a
        # resolve at 1M capabilities asks for ~200 keyword-only finds).
        slugs = list(wanted)
        if not slugs:
            return {}
        labels, owner = self._alive_labels_of(slugs)
        found: dict[tuple[str, str], int] = {}
        for label, i, cap_id in zip(labels.tolist(), owner.tolist(),
                                    self._labels.cap_ids(labels), strict=True):
            if cap_id in wanted[slugs[i]]:
                found[(slugs[i], cap_id)] = label
        if not found:
            return {}
        scores = _dots(self._rows(np.array(list(found.values()))), vector)
        return {k: float(v) for k, v in zip(found, scores, strict=True)}

    def artifact_cosines(self, vector: np.ndarray, slugs: list[str]
                         ) -> dict[tuple[str, str], float]:
        """Exact cosines of the query with every vector of these artifacts, by (slug, key)."""
        if not slugs:
            return {}
        labels, owner = self._alive_labels_of(slugs)
        if len(labels) == 0:
            return {}
        scores = _dots(self._rows(labels), vector)
        return {(slugs[i], key): float(v) for i, key, v in zip(
            owner.tolist(), self._labels.cap_ids(labels), scores.tolist(), strict=True)}

    def legacy_count(self) -> int:
        """Live vectors written before capabilities had a vector per view (a key without
        ``VIEW_MARK``): the mean of two views, not a unit vector. ``Discovery.prepare``
        rebuilds the index from the stored versions when there are any."""
        self.sync()
        live = np.flatnonzero(self._alive.rows()[: self._count])
        legacy = 0
        for start in range(0, len(live), CHUNK):
            legacy += sum(1 for key in self._labels.cap_ids(live[start:start + CHUNK])
                          if VIEW_MARK not in key)
        return legacy

    def __len__(self) -> int:
        return self._live

    def items(self) -> Iterator[tuple[str, str, np.ndarray]]:
        """Every live capability as (slug, capability id, float16 vector), in label order."""
        live = np.flatnonzero(self._alive.rows()[: self._count])
        for start in range(0, len(live), CHUNK):
            chunk = live[start:start + CHUNK]
            for label, row in zip(chunk.tolist(), self._rows(chunk), strict=True):
                yield self._labels.slug(label), self._labels.cap_id(label), row

    def query(self, vector: np.ndarray, *, k: int, artifact_type: str | None = None
              ) -> list[tuple[str, str, float]]:
        """The ``k`` vectors with the largest cosine with the query (one per view of a
        capability, or an artifact's own, see ``SearchDoc.views``): (slug, key, score)."""
        self.sync()
        if k <= 0:
            return []
        count = self._count  # before the arrays: they cover at least this many labels
        alive = self._alive.rows()
        kind = None
        if artifact_type is not None:
            kind = self._labels.type_id(artifact_type)
            if kind is None:
                return []
        want = k * 4 if artifact_type else k
        vector = np.asarray(vector, dtype=np.float32)
        found = [self._search_base(vector, want, alive)]
        ann = self._ann
        if ann is not None:
            found.append(hnsw.search(ann, vector, min(want, len(ann))))
        else:
            found.append(self._search_tail(vector, want, count, alive, kind))
        labels = np.unique(np.concatenate(found))
        labels = labels[labels < count]
        labels = labels[alive[labels]]
        if kind is not None:
            labels = labels[self._labels.type_codes()[labels] == kind]
        if len(labels) == 0:
            return []
        scores = _dots(self._rows(labels), vector)
        if len(scores) > k:  # the k best, and every one tied with the k-th
            keep = scores >= np.partition(scores, len(scores) - k)[len(scores) - k]
            labels, scores = labels[keep], scores[keep]
        ranked = sorted(((float(s), self._labels.slug(label), self._labels.cap_id(label))
                         for s, label in zip(scores.tolist(), labels.tolist(), strict=True)),
                        key=lambda r: (-r[0], r[1], r[2]))
        return [(slug, cap_id, score) for score, slug, cap_id in ranked[:k]]

    def _search_base(self, vector: np.ndarray, want: int, alive: np.ndarray) -> np.ndarray:
        """Up to ``want`` alive labels near ``vector`` from the viewed graph, which still holds
        labels removed since the snapshot: ask for enough more to make up for them."""
        graph = self._graph
        if graph is None:
            return np.zeros(0, dtype=np.int64)
        size = len(graph)
        present = size - self._graph_dead
        if present <= 0:
            return np.zeros(0, dtype=np.int64)
        fetch = min(size, -(-want * size // present) + (8 if self._graph_dead else 0))
        while True:
            found = hnsw.search(graph, vector, fetch)
            labels: np.ndarray = found[alive[found]]
            if len(labels) >= want or fetch >= size:
                return labels
            fetch = min(size, 2 * fetch)

    def _search_tail(self, vector: np.ndarray, want: int, count: int, alive: np.ndarray,
                     kind: int | None) -> np.ndarray:
        """The ``want`` best alive tail labels (of type ``kind``), by a brute-force scan of the
        float16 rows (``hnsw.exact``: no float32 copy), plus ``SLACK`` more so that which of
        two tied rows is kept never depends on their positions (the caller rescores)."""
        base = self._base
        rows = self._matrix.rows()[: count - base]
        keep = alive[base:count]
        if kind is not None:
            keep = keep & (self._labels.type_codes()[base:count] == kind)
        skipped = len(rows) - int(np.count_nonzero(keep))
        if skipped <= OVERFETCH:  # ask for the skipped ones on top, then drop them
            found = hnsw.exact(rows, vector, want + SLACK + skipped)
            found = found[keep[found]]
        else:  # scan only the rows that count
            where = np.flatnonzero(keep)
            found = where[hnsw.exact(rows[where], vector, want + SLACK)]
        out: np.ndarray = base + found
        return out
