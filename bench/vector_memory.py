"""Memory and start time of the dense index (search/vectors.py) at scale.

Builds a VectorIndex over N synthetic float16 unit vectors (384-d, 10 capabilities per
artifact) replayed from a fake vector log, builds its HNSW graph, saves the snapshot, then in a
FRESH process: opens the snapshot (the graph memory-mapped), measures start time, resident and
peak memory and query latency, then replays a tail written after the snapshot (republished
artifacts: new vectors plus dead ones masked in the mapped graph) and measures again.

    .venv/bin/python bench/vector_memory.py [--n 1000000] [--republished 1000] [--data DIR]

Random vectors are the worst case for HNSW build time and make recall meaningless: only the
times and memory mean anything here. The synthetic rows are generated on demand; the time that
takes is reported apart and left out of the replay time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
CAPS = 10
BLOCK = 1000  # artifacts whose vectors one generator call makes


def rss() -> dict[str, float]:
    """Resident memory of this process now (MB): total, anonymous, file-backed (mmapped)."""
    out = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = round(int(line.split()[1]) / 1024)
    return out


def peak_mb() -> float:
    """ru_maxrss (MB). Linux carries it over fork + exec from the parent, which is why every
    phase runs in its own process started by a small parent (``main``)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class SyntheticLog:
    """A vector log as the stores write it: ``artifacts`` publishes (a reset marker, then
    CAPS float16 rows each), then ``republished`` re-publishes of existing artifacts with new
    vectors. Rows up to ``visible`` exist; rows are made on demand, never all held at once."""

    def __init__(self, artifacts: int, *, republished: int = 0) -> None:
        self.artifacts = artifacts
        self.republished = republished
        self.visible = artifacts * (CAPS + 1)
        self.seconds = 0.0  # spent making rows
        self._block = -1
        self._vectors = np.zeros((0, DIM), dtype=np.float16)

    def generation(self) -> int:
        return self.visible

    def _event_vectors(self, event: int) -> np.ndarray:
        block = event // BLOCK
        if block != self._block:
            rng = np.random.default_rng(block)
            v = rng.standard_normal((BLOCK * CAPS, DIM), dtype=np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            self._vectors, self._block = v.astype(np.float16), block
        start = (event % BLOCK) * CAPS
        return self._vectors[start:start + CAPS]

    def vector_changes(self, since: int, *, limit: int
                       ) -> list[tuple[int, str, str, str, bytes | None]]:
        t0 = time.perf_counter()
        rows: list[tuple[int, str, str, str, bytes | None]] = []
        seq = since + 1
        end = min(self.visible, since + limit)
        while seq <= end:
            event, offset = divmod(seq - 1, CAPS + 1)
            artifact = event if event < self.artifacts else (
                (event - self.artifacts) * max(1, self.artifacts // max(1, self.republished)))
            slug = f"artifact-{artifact}"
            if offset == 0:
                rows.append((seq, slug, "", "api", None))
            else:
                vec = self._event_vectors(event)[offset - 1]
                rows.append((seq, slug, f"{slug}__cap_{offset - 1}", "api", vec.tobytes()))
            seq += 1
        self.seconds += time.perf_counter() - t0
        return rows


def queries(n: int) -> np.ndarray:
    q = np.random.default_rng(10**9).standard_normal((n, DIM), dtype=np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def latency(index: Any, qs: np.ndarray, *, k: int) -> dict[str, float]:
    times = []
    for q in qs:
        t0 = time.perf_counter()
        index.query(q, k=k)
        times.append(time.perf_counter() - t0)
    cuts = statistics.quantiles(times, n=100)
    return {"p50_ms": round(1000 * statistics.median(times), 2),
            "p95_ms": round(1000 * cuts[94], 2)}


def build(args: argparse.Namespace) -> dict[str, Any]:
    from capgraph.search.vectors import ANN_THRESHOLD, VectorIndex

    data = Path(args.data)
    snapshot = data / "vectors.npz"
    log = SyntheticLog(args.n // CAPS, republished=args.republished)
    out: dict[str, Any] = {"n": args.n, "dim": DIM, "caps_per_artifact": CAPS}
    t0 = time.perf_counter()
    index = VectorIndex(log, dim=DIM, snapshot=snapshot,  # type: ignore[arg-type]
                        ann_threshold=10**12)  # replay alone first: exact, no graph yet
    index.sync()
    total = time.perf_counter() - t0
    out["replay_seconds"] = round(total - log.seconds, 1)
    out["synthetic_row_generation_seconds"] = round(log.seconds, 1)
    out["rss_after_replay_mb"] = rss()
    t0 = time.perf_counter()
    index.ann_threshold = ANN_THRESHOLD
    index._build_ann()
    out["hnsw_build_seconds"] = round(time.perf_counter() - t0, 1)
    out["rss_after_build_mb"] = rss()
    t0 = time.perf_counter()
    index.save_snapshot()
    out["save_seconds"] = round(time.perf_counter() - t0, 1)
    out["snapshot_mb"] = {p.name.split(".")[-1]: round(p.stat().st_size / 1e6)
                          for p in data.glob("vectors.*")}
    out["build_peak_rss_mb"] = peak_mb()
    return out


def serve(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in a fresh process: what a server worker pays to start and to answer."""
    t0 = time.perf_counter()
    from capgraph.search.vectors import VectorIndex

    out: dict[str, Any] = {"import_seconds": round(time.perf_counter() - t0, 2)}
    log = SyntheticLog(args.n // CAPS, republished=args.republished)
    out["rss_before_start_mb"] = rss()
    t0 = time.perf_counter()
    index = VectorIndex(log, dim=DIM, snapshot=Path(args.data) / "vectors.npz")  # type: ignore[arg-type]
    index.sync()
    out["start_seconds"] = round(time.perf_counter() - t0, 2)
    assert index._graph is not None and len(index._matrix) == 0, "graph not restored"
    out["vectors"] = len(index)
    out["rss_after_start_mb"] = rss()
    out["peak_rss_after_start_mb"] = peak_mb()
    qs = queries(args.queries)
    index.query(qs[0], k=100)
    out["query_k100"] = latency(index, qs, k=100)
    out["rss_after_queries_mb"] = rss()
    keys = [(f"artifact-{a}", f"artifact-{a}__cap_3") for a in range(0, args.n // CAPS, 997)]
    t0 = time.perf_counter()
    for q in qs[:50]:
        index.cosines(q, keys[:200])
    out["cosines_200_keys_ms"] = round(1000 * (time.perf_counter() - t0) / 50, 2)

    # A tail written after the snapshot: artifacts re-published (reset marker + new vectors).
    log.visible = (log.artifacts + args.republished) * (CAPS + 1)
    t0 = time.perf_counter()
    index.sync()
    out["tail_sync_seconds"] = round(time.perf_counter() - t0 - log.seconds, 2)
    out["tail"] = {"labels": index._count - index._base, "dead_in_graph": index._graph_dead,
                   "tail_hnsw": index._ann is not None}
    out["query_k100_with_tail"] = latency(index, qs, k=100)
    out["rss_after_tail_mb"] = rss()
    out["peak_rss_before_merge_mb"] = peak_mb()

    # What `capgraph serve` does before its workers start when the snapshot is behind: copy
    # the mapped graph into memory, drop the dead, add the tail, save (to a side directory,
    # so the snapshot above stays as built).
    merged = Path(args.data) / "merged"
    index.snapshot = merged / "vectors.npz"
    t0 = time.perf_counter()
    index.save_snapshot()
    out["save_merged_seconds"] = round(time.perf_counter() - t0, 1)
    shutil.rmtree(merged, ignore_errors=True)
    out["rss_end_mb"] = rss()
    out["peak_rss_mb"] = peak_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", nargs="?", default="all", choices=["all", "build", "serve"])
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors")
    parser.add_argument("--republished", type=int, default=1000,
                        help="artifacts re-published after the snapshot (the tail)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", default=None, help="directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.phase != "all":
        print(json.dumps((build if args.phase == "build" else serve)(args)))
        return
    data = Path(args.data or tempfile.mkdtemp(prefix="vector-memory-"))
    data.mkdir(parents=True, exist_ok=True)
    common = ["--n", str(args.n), "--republished", str(args.republished),
              "--queries", str(args.queries), "--data", str(data)]
    try:
        result: dict[str, Any] = {}
        for phase in ("build", "serve"):
            done = subprocess.run([sys.executable, __file__, phase, *common],
                                  capture_output=True, text=True, check=True)
            result["fresh_process" if phase == "serve" else phase] = json.loads(done.stdout)
            result[f"load_after_{phase}"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
