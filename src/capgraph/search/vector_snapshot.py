"""The vector index on disk: an .npz of labels (and, below the HNSW threshold, vectors) plus,
above it, the HNSW graph in its own file, which every process memory-maps at start.

``vectors.npz`` holds the log sequence number it reflects, the label table, the alive mask,
and either the float16 matrix (no graph) or the name of its graph file. A graph file is
named ``vectors.<seq>.<random>.usearch`` and never rewritten, and the .npz is renamed into
place only after its graph is complete, so an .npz can only ever name the graph written with
it; the graph's header (dimensions, metric, vector count) is checked again on load. Stale
graphs are deleted after each save.
"""

from __future__ import annotations

import logging
import secrets
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from capgraph.search import hnsw
from capgraph.search.labels import LabelTable

__all__ = ["Snapshot", "read_snapshot", "write_snapshot"]

log = logging.getLogger(__name__)

# 3: a vector per view of each capability plus one per artifact (``SearchDoc.views``). A
# snapshot of another format is ignored and the log replayed; a log written before views is
# rebuilt from the stored versions (``VectorIndex.legacy_count``, ``Discovery.prepare``).
FORMAT = 3
_TABLE = ("slug_of", "type_of", "cap_bytes", "cap_end", "slug_bytes", "slug_end",
          "type_bytes", "type_end")
_ABANDONED_TMP = 3600  # seconds: a temporary file that old was left by a crash


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: labels 0..len(labels)-1, in ``graph`` (viewed) or ``matrix``."""

    seq: int
    labels: LabelTable
    alive: np.ndarray
    matrix: np.ndarray | None
    graph: Any | None


def write_snapshot(path: Path, *, seq: int, dim: int, table: dict[str, np.ndarray],
                   alive: np.ndarray, matrix: np.ndarray | None, graph: Any | None) -> None:
    """Write the snapshot for log position ``seq``: ``graph`` holds every alive label when
    given, else ``matrix`` holds every label's vector."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    graph_name = ""
    if graph is not None:
        graph_name = f"{path.stem}.{seq}.{token}.usearch"
        hnsw.save(graph, path.parent / graph_name)
    tmp = path.with_name(f"{path.stem}.{token}.tmp.npz")
    try:
        members: dict[str, Any] = {
            "format": FORMAT, "seq": seq, "dim": dim, "count": len(alive), "alive": alive,
            "graph": np.array(graph_name), "graph_present": len(graph) if graph else 0,
            "matrix": matrix if matrix is not None else np.zeros((0, dim), np.float16),
            **table}
        np.savez(tmp, **members)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    _remove_stale(path, keep=graph_name)


def _remove_stale(path: Path, *, keep: str) -> None:
    """Delete graph files no snapshot names. A process that has one open keeps its mapping
    (POSIX), so running servers are unaffected. The graph the .npz on disk names now is kept
    too, in case another process saved between our rename and this cleanup."""
    current = _graph_name(path)
    now = time.time()
    for candidate in path.parent.glob(f"{path.stem}.*"):
        name = candidate.name
        try:
            stale = name.endswith(".usearch") and name not in (keep, current)
            abandoned = ".tmp" in name and now - candidate.stat().st_mtime > _ABANDONED_TMP
            if stale or abandoned:
                candidate.unlink()
        except OSError:  # another process removed it first
            continue


def _graph_name(path: Path) -> str:
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["graph"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return ""


def read_snapshot(path: Path, *, dim: int) -> Snapshot | None:
    """The snapshot at ``path``, or None when it is missing, unreadable, of another format or
    dimension, or names a graph that is missing or not its own (the caller then replays the
    whole log)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data.files or int(data["format"]) != FORMAT or \
                    int(data["dim"]) != dim:
                log.info("ignoring vector snapshot %s of another format or model", path)
                return None
            seq, count = int(data["seq"]), int(data["count"])
            labels = LabelTable.from_arrays({k: data[k] for k in _TABLE})
            alive = np.array(data["alive"], dtype=bool)
            graph_name, present = str(data["graph"]), int(data["graph_present"])
            matrix = None if graph_name else np.array(data["matrix"], dtype=np.float16)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable vector snapshot %s: %s", path, exc)
        return None
    if not len(labels) == len(alive) == count or (
            matrix is not None and matrix.shape != (count, dim)):
        log.warning("ignoring inconsistent vector snapshot %s", path)
        return None
    graph = None
    if graph_name:
        if present != int(alive.sum()) or "/" in graph_name:
            log.warning("ignoring inconsistent vector snapshot %s", path)
            return None
        graph = hnsw.view(path.parent / graph_name, dim=dim, present=present)
        if graph is None:
            log.warning("vector snapshot %s: graph %s missing or not its own; replaying the "
                        "log instead", path, graph_name)
            return None
    return Snapshot(seq=seq, labels=labels, alive=alive, matrix=matrix, graph=graph)
