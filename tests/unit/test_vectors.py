"""The dense index (search/vectors.py): float16 storage, exact and HNSW answers, snapshots whose
graph is memory-mapped at start, and vectors added or removed after the snapshot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from capgraph.search import hnsw, vectors
from capgraph.search.vectors import VectorIndex

DIM = 32


class VectorLog:
    """A store that has only a vector log, written the way the real stores write it: a reset
    marker per publish, then one float16 row per capability."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, str, str, bytes | None]] = []
        self._generation = 0

    def generation(self) -> int:
        return self._generation

    def vector_changes(self, since: int, *, limit: int
                       ) -> list[tuple[int, str, str, str, bytes | None]]:
        return self.rows[since:since + limit]

    def publish(self, slug: str, vectors: np.ndarray, *, kind: str = "api") -> None:
        self.rows.append((len(self.rows) + 1, slug, "", kind, None))
        for n, vec in enumerate(vectors):
            self.rows.append((len(self.rows) + 1, slug, f"{slug}__cap_{n}", kind,
                              vec.astype(np.float16).tobytes()))
        self._generation += 1

    def delete(self, slug: str) -> None:
        self.rows.append((len(self.rows) + 1, slug, "", "api", None))
        self._generation += 1


def unit_vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16)


def corpus(log: VectorLog, *, artifacts: int, caps: int = 4, seed: int = 0) -> dict[
        tuple[str, str], np.ndarray]:
    """Publish ``artifacts`` artifacts; return every capability's current vector."""
    current = {}
    for a in range(artifacts):
        vecs = unit_vectors(caps, seed * 100_000 + a)
        log.publish(f"art-{a}", vecs, kind="api" if a % 2 else "cli")
        current.update({(f"art-{a}", f"art-{a}__cap_{n}"): v for n, v in enumerate(vecs)})
    return current


def exact_top(current: dict[tuple[str, str], np.ndarray], query: np.ndarray, k: int
              ) -> list[tuple[str, str]]:
    scored = sorted(current, key=lambda key: (-float(current[key].astype(np.float32) @ query),
                                              key))
    return scored[:k]


def open_index(log: VectorLog, snapshot: Path | None = None, *, threshold: int = 50
               ) -> VectorIndex:
    index = VectorIndex(log, dim=DIM, snapshot=snapshot,  # type: ignore[arg-type]
                        ann_threshold=threshold)
    index.sync()
    return index


def check_answers(index: VectorIndex, current: dict[tuple[str, str], np.ndarray],
                  queries: np.ndarray, *, k: int = 10) -> None:
    """Only current capabilities come back, best first, each with its current vector's exact
    score; the exact top k when no HNSW graph answers, nearly all of it when one does (the
    graph is approximate, and built in parallel, so not the same graph every run)."""
    approximate = index._graph is not None or index._ann is not None
    for query in queries.astype(np.float32):
        found = index.query(query, k=k)
        for slug, cap_id, score in found:
            assert (slug, cap_id) in current, (slug, cap_id)
            assert score == pytest.approx(float(current[(slug, cap_id)].astype(np.float32)
                                                @ query), abs=1e-5)
        assert [r[2] for r in found] == sorted((r[2] for r in found), reverse=True)
        keys, best = [(s, c) for s, c, _ in found], exact_top(current, query, k)
        if approximate:
            assert len(keys) == k and len(set(keys) & set(best)) >= k - 2
        else:
            assert keys == best


def test_vectors_are_kept_as_float16_and_scored_in_float32() -> None:
    log = VectorLog()
    current = corpus(log, artifacts=5)
    index = open_index(log, threshold=10**6)
    assert index._matrix.rows().dtype == np.float16
    assert not any(isinstance(v, np.ndarray) and v.dtype == np.float32
                   for v in vars(index).values())
    check_answers(index, current, unit_vectors(5, seed=99))


@pytest.mark.parametrize("overfetch", [2000, 0])  # skip dead rows by asking more / copying
def test_exact_answers_follow_removals_and_artifact_types(
        overfetch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "OVERFETCH", overfetch)
    log = VectorLog()
    current = corpus(log, artifacts=8)
    index = open_index(log, threshold=10**6)
    log.delete("art-3")
    replaced = unit_vectors(4, seed=1_000_007)
    log.publish("art-4", replaced, kind="cli")
    current = {k: v for k, v in current.items() if k[0] not in ("art-3", "art-4")}
    current.update({("art-4", f"art-4__cap_{n}"): v for n, v in enumerate(replaced)})
    check_answers(index, current, unit_vectors(5, seed=98))
    assert len(index) == len(current)
    query = unit_vectors(1, seed=5)[0].astype(np.float32)
    clis = index.query(query, k=5, artifact_type="cli")
    cli_current = {key: v for key, v in current.items() if key[0] in
                   ("art-0", "art-2", "art-4", "art-6")}
    assert [(s, c) for s, c, _ in clis] == exact_top(cli_current, query, 5)
    assert index.query(query, k=5, artifact_type="no-such-type") == []
    assert index.cosines(query, [("art-3", "art-3__cap_0")]) == {}
    assert index.cosines(query, [("art-4", "art-4__cap_1")])[("art-4", "art-4__cap_1")] == \
        pytest.approx(float(replaced[1].astype(np.float32) @ query), abs=1e-5)


def test_identical_capabilities_tie_whatever_their_position() -> None:
    log = VectorLog()
    twin = unit_vectors(1, seed=1_000_003)
    log.publish("zeta", twin)
    corpus(log, artifacts=30)
    log.publish("alpha", twin)
    for threshold in (10**6, 50):  # exact, then HNSW
        found = open_index(log, threshold=threshold).query(twin[0].astype(np.float32), k=2)
        assert [s for s, _, _ in found] == ["alpha", "zeta"]
        assert found[0][2] == found[1][2]


def test_replay_adds_vectors_to_the_graph_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_add = hnsw.add

    def counting(graph: object, labels: np.ndarray, rows: np.ndarray) -> None:
        calls.append(len(labels))
        real_add(graph, labels, rows)

    monkeypatch.setattr(hnsw, "add", counting)
    log = VectorLog()
    current = corpus(log, artifacts=250)  # 1,000 vectors, 1,250 log rows
    index = VectorIndex(log, dim=DIM, ann_threshold=50)  # type: ignore[arg-type]
    index._log._batch = 200
    index.sync()
    assert index._ann is not None and sum(calls) == 1000
    assert len(calls) <= len(log.rows) // 200 + 1  # one add per batch of rows, not per row
    check_answers(index, current, unit_vectors(5, seed=97))


def test_a_snapshot_restores_its_graph_memory_mapped(tmp_path: Path) -> None:
    log = VectorLog()
    current = corpus(log, artifacts=60)
    snapshot = tmp_path / "vectors.npz"
    built = open_index(log, snapshot)
    built.save_snapshot()
    graphs = list(tmp_path.glob("vectors.*.usearch"))
    assert len(graphs) == 1

    restored = open_index(log, snapshot)
    assert restored._graph is not None and restored._ann is None
    assert restored._base == len(current) and len(restored._matrix) == 0  # no rebuild, no rows
    maps = Path("/proc/self/maps").read_text()
    assert str(graphs[0]) in maps  # memory-mapped, not read into memory
    queries = unit_vectors(8, seed=96)
    check_answers(restored, current, queries)
    for query in queries.astype(np.float32):
        assert restored.query(query, k=10) == built.query(query, k=10)
        assert restored.query(query, k=5, artifact_type="api") == \
            built.query(query, k=5, artifact_type="api")
    items = {(slug, cap_id): vec for slug, cap_id, vec in restored.items()}
    assert items.keys() == current.keys()
    assert all(np.array_equal(items[key], current[key]) for key in current)  # bit for bit
    key = ("art-7", "art-7__cap_2")
    assert restored.cosines(queries[0].astype(np.float32), [key]) == \
        built.cosines(queries[0].astype(np.float32), [key])


def test_vectors_added_and_removed_after_the_snapshot(tmp_path: Path) -> None:
    log = VectorLog()
    current = corpus(log, artifacts=60)
    snapshot = tmp_path / "vectors.npz"
    open_index(log, snapshot).save_snapshot()
    index = open_index(log, snapshot)

    removed = {k: v for k, v in current.items() if k[0] in ("art-1", "art-2")}
    log.delete("art-1")
    new = unit_vectors(4, seed=1_001_234)
    log.publish("art-2", new)  # republished: its old vectors are gone
    log.publish("fresh", unit_vectors(3, seed=1_004_321))
    current = {k: v for k, v in current.items() if k not in removed}
    current.update({("art-2", f"art-2__cap_{n}"): v for n, v in enumerate(new)})
    current.update({("fresh", f"fresh__cap_{n}"): v
                    for n, v in enumerate(unit_vectors(3, seed=1_004_321))})
    index.sync()
    assert index._graph_dead == 8 and len(index) == len(current)
    check_answers(index, current, unit_vectors(8, seed=95))
    # removed vectors asking for themselves: never found (art-2's ids score their new vectors)
    check_answers(index, current, np.array(list(removed.values())))
    for (slug, cap_id), vec in removed.items():
        cosines = index.cosines(vec.astype(np.float32), [(slug, cap_id)])
        assert cosines == ({} if slug == "art-1" else {(slug, cap_id): pytest.approx(
            float(current[(slug, cap_id)].astype(np.float32) @ vec.astype(np.float32)),
            abs=1e-5)})
    fresh = index.query(unit_vectors(3, seed=1_004_321)[1].astype(np.float32), k=1)
    assert fresh[0][:2] == ("fresh", "fresh__cap_1")

    # a tail past the threshold gets its own graph; the answers stay exact-equal
    grown = corpus(log, artifacts=20, seed=5)
    grown = {(f"{s}", c): v for (s, c), v in grown.items()}
    current.update(grown)
    index.sync()
    assert index._ann is not None
    check_answers(index, current, unit_vectors(8, seed=94))


def test_saving_again_merges_the_tail_into_a_new_graph(tmp_path: Path) -> None:
    log = VectorLog()
    current = corpus(log, artifacts=60)
    snapshot = tmp_path / "vectors.npz"
    open_index(log, snapshot).save_snapshot()
    first = next(tmp_path.glob("vectors.*.usearch"))
    index = open_index(log, snapshot)
    index.save_snapshot()  # nothing moved: nothing written
    assert list(tmp_path.glob("vectors.*.usearch")) == [first]

    log.delete("art-0")
    log.publish("fresh", unit_vectors(5, seed=1_000_011))
    current = {k: v for k, v in current.items() if k[0] != "art-0"}
    current.update({("fresh", f"fresh__cap_{n}"): v
                    for n, v in enumerate(unit_vectors(5, seed=1_000_011))})
    index.sync()
    index.save_snapshot()
    left = sorted(p.name for p in tmp_path.iterdir())  # old graph and temporaries gone
    assert len(left) == 2 and left[1] == "vectors.npz" and left[0] != first.name

    again = open_index(log, snapshot)
    assert again._graph is not None and len(again._matrix) == 0
    check_answers(again, current, unit_vectors(8, seed=93))


def test_a_graph_that_is_not_the_snapshots_is_ignored(tmp_path: Path) -> None:
    log = VectorLog()
    corpus(log, artifacts=60)
    snapshot = tmp_path / "vectors.npz"
    open_index(log, snapshot).save_snapshot()
    stale = next(tmp_path.glob("vectors.*.usearch")).read_bytes()
    log.publish("fresh", unit_vectors(5, seed=1_000_012))
    current = corpus(log, artifacts=60)  # everything republished: a different matrix
    current.update({("fresh", f"fresh__cap_{n}"): v
                    for n, v in enumerate(unit_vectors(5, seed=1_000_012))})
    open_index(log, snapshot).save_snapshot()
    graph = next(tmp_path.glob("vectors.*.usearch"))
    graph.write_bytes(stale)  # the older snapshot's graph under the new name

    index = open_index(log, snapshot)
    assert index._graph is None  # not used: the whole log was replayed instead
    check_answers(index, current, unit_vectors(8, seed=92))
    graph.unlink()
    check_answers(open_index(log, snapshot), current, unit_vectors(8, seed=92))


def test_a_mostly_dead_snapshot_is_compacted(tmp_path: Path) -> None:
    log = VectorLog()
    corpus(log, artifacts=60)
    current = corpus(log, artifacts=60, seed=1)  # every artifact republished
    snapshot = tmp_path / "vectors.npz"
    open_index(log, snapshot).save_snapshot()  # all live labels in one graph: renamed
    with np.load(snapshot) as data:
        assert int(data["count"]) == len(current) and data["alive"].all()
    check_answers(open_index(log, snapshot), current, unit_vectors(8, seed=91))

    index = open_index(log, snapshot)  # live labels in the mapped graph and the tail: rebuilt
    for a in range(45):
        log.delete(f"art-{a}")
    current = {k: v for k, v in current.items() if int(k[0].split("-")[1]) >= 45}
    new = unit_vectors(40, seed=1_000_040)
    for a in range(10):
        log.publish(f"new-{a}", new[4 * a:4 * a + 4])
        current.update({(f"new-{a}", f"new-{a}__cap_{n}"): new[4 * a + n] for n in range(4)})
    index.sync()
    assert index._ann is None and index._graph is not None
    check_answers(index, current, unit_vectors(8, seed=91))
    index.save_snapshot()
    with np.load(snapshot) as data:
        assert int(data["count"]) == len(current) == 100 and data["alive"].all()
    again = open_index(log, snapshot)
    assert again._graph is not None
    check_answers(again, current, unit_vectors(8, seed=91))


def test_a_small_snapshot_keeps_its_vectors_in_the_npz(tmp_path: Path) -> None:
    log = VectorLog()
    current = corpus(log, artifacts=5)
    log.delete("art-0")
    current = {k: v for k, v in current.items() if k[0] != "art-0"}
    snapshot = tmp_path / "vectors.npz"
    open_index(log, snapshot).save_snapshot()
    assert not list(tmp_path.glob("*.usearch"))
    with np.load(snapshot) as data:
        assert data["matrix"].dtype == np.float16 and len(data["matrix"]) == len(current)
    restored = open_index(log, snapshot)
    assert restored._log.seq == len(log.rows)
    check_answers(restored, current, unit_vectors(5, seed=90))


def test_an_old_or_broken_snapshot_means_a_full_replay(tmp_path: Path) -> None:
    log = VectorLog()
    current = corpus(log, artifacts=5)
    snapshot = tmp_path / "vectors.npz"
    np.savez(snapshot, seq=3, dim=DIM, matrix=np.zeros((1, DIM), np.float16),
             keys=np.array([["a", "b", "c"]]), live=np.ones(1, bool))  # the old format
    check_answers(open_index(log, snapshot), current, unit_vectors(3, seed=89))
    snapshot.write_bytes(b"not a zip file")
    check_answers(open_index(log, snapshot), current, unit_vectors(3, seed=89))


_IMPORT_ORDER = """
import numpy as np
import capgraph.search.vectors as vectors
import capgraph.search.embedding as embedding

class Log:
    rows = [(1, "a", "", "api", None)] + [
        (i + 2, "a", f"a__cap_{i}", "api",
         (np.random.default_rng(i).standard_normal(384) / 20).astype(np.float16).tobytes())
        for i in range(100)]
    def generation(self): return 1
    def vector_changes(self, since, *, limit): return self.rows[since:since + limit]

index = vectors.VectorIndex(Log(), dim=384, ann_threshold=50)
index.sync()
assert index._ann is not None  # usearch is loaded now
query = embedding.MiniLMEmbedder(threads=1).embed(["tag the ears of an okapi"])[0]
assert len(index.query(query, k=3)) == 3
print("ok")
"""


def test_usearch_first_then_the_embedder_does_not_crash() -> None:
    # `import usearch.index` before onnxruntime is a segmentation fault; hnsw.py imports
    # onnxruntime first. A fresh interpreter, so nothing imported by other tests helps.
    done = subprocess.run([sys.executable, "-c", _IMPORT_ORDER], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "ok"
