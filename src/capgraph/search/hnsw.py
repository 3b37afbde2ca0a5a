"""The HNSW graph (usearch): its parameters, building, saving and memory-mapping it.

The one module that imports usearch, so the import-order rule below lives in one place.
Keys are the vector index's labels. A graph opened with ``view`` is read-only and backed by
its file: adding to or removing from it is a segmentation fault, so callers only search it,
read vectors from it, or ``copy`` it into memory first.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add", "copy", "exact", "new_graph", "rename", "save", "search", "vectors", "view"]

log = logging.getLogger(__name__)

CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64
BATCH = 50_000  # vectors per usearch ``add`` call when building from a matrix
_PARKED = 1 << 62  # far above any label


def _usearch() -> Any:
    # onnxruntime before usearch, always: `import usearch.index` followed by
    # `import onnxruntime` is a segmentation fault (usearch 2.26.6 with onnxruntime 1.31.1;
    # the other order works). The embedder imports onnxruntime lazily, so without this a
    # process that built or opened a graph before embedding its first query would crash.
    # tests/unit/test_vector_snapshot.py runs that order in a fresh interpreter.
    import onnxruntime  # noqa: F401
    import usearch.index

    return usearch.index


def new_graph(dim: int) -> Any:
    """An empty in-memory graph: inner product over float16 vectors."""
    return _usearch().Index(ndim=dim, metric="ip", dtype="f16", connectivity=CONNECTIVITY,
                            expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)


def add(graph: Any, labels: np.ndarray, rows: np.ndarray) -> None:
    """Add ``rows`` (float16) under ``labels``, in batches of ``BATCH`` per usearch call."""
    for start in range(0, len(labels), BATCH):
        stop = start + BATCH
        graph.add(np.asarray(labels[start:stop], dtype=np.uint64), rows[start:stop])


def search(graph: Any, vector: np.ndarray, count: int) -> np.ndarray:
    """The labels of (about) the ``count`` nearest vectors, nearest first."""
    if count <= 0 or len(graph) == 0:
        return np.zeros(0, dtype=np.int64)
    found = graph.search(vector, count)
    return np.asarray(found.keys, dtype=np.int64)


def exact(rows: np.ndarray, vector: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` float16 ``rows`` with the largest inner product with
    ``vector``, best first: a brute-force SIMD scan, no float32 copy of the rows."""
    count = min(count, len(rows))
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    module = _usearch()
    found = module.search(rows, vector.astype(np.float16), count, module.MetricKind.IP,
                          exact=True, threads=1)
    return np.asarray(found.keys, dtype=np.int64)


def vectors(graph: Any, labels: np.ndarray) -> np.ndarray:
    """The stored float16 vectors of ``labels`` (all present in ``graph``)."""
    if len(labels) == 0:
        return np.zeros((0, graph.ndim), dtype=np.float16)
    return np.stack(graph.get(np.asarray(labels, dtype=np.uint64), dtype="f16"))


def rename(graph: Any, old: np.ndarray, new: np.ndarray) -> None:
    """Move the vectors of labels ``old`` to labels ``new`` (in a writable graph). Through
    keys no label uses, so an old and a new label that coincide never collide."""
    parked = np.arange(len(old), dtype=np.uint64) + np.uint64(_PARKED)
    graph.rename(np.asarray(old, dtype=np.uint64), parked)
    graph.rename(parked, np.asarray(new, dtype=np.uint64))


def copy(graph: Any) -> Any:
    """An in-memory, writable copy (also of a viewed graph)."""
    return graph.copy()


def save(graph: Any, path: Path) -> None:
    """Write ``graph`` to ``path`` atomically (a temporary file, then a rename)."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        graph.save(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def view(path: Path, *, dim: int, present: int) -> Any | None:
    """The graph at ``path``, memory-mapped read-only, or None unless it is an inner-product
    float16 graph of ``dim`` dimensions holding exactly ``present`` vectors."""
    index_class = _usearch().Index
    try:
        meta = index_class.metadata(str(path))
        if meta is None:
            return None
        kinds = (str(meta["kind_metric"]), str(meta["kind_scalar"]))
        if (int(meta["dimensions"]) != dim or int(meta["count_present"]) != present
                or kinds != ("MetricKind.IP", "ScalarKind.F16")):
            log.warning("ignoring vector graph %s: it is not the snapshot's (%s)", path, meta)
            return None
        graph = index_class.restore(str(path), view=True)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable vector graph %s: %s", path, exc)
        return None
    if graph is None or len(graph) != present:
        return None
    graph.expansion_search = EXPANSION_SEARCH
    return graph
