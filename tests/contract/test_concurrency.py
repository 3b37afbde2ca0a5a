"""Concurrent appends: every write transaction is serialised, across threads and processes, so
version numbers have no gaps or repeats and the (global) log indexes never collide."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from capgraph.core import translog
from capgraph.ports import Store, StoredVersion, WriteTransaction
from capgraph.registry.versions import NewVersion, append_version
from tests.contract.conftest import (
    BACKENDS,
    WAIT,
    Backend,
    always,
    new_version,
    reference_root,
    run_threads,
)

THREADS, ROUNDS = 8, 10


def check_the_log(store: Store, versions: list[StoredVersion]) -> None:
    """Log indexes 0..N-1, each holding its version's leaf, and the tree head from the stored
    nodes equal to the root of the leaves."""
    size = store.log_size()
    assert sorted(v.log_index for v in versions) == list(range(size))
    leaves = store.log_entries(0, size)
    assert len(leaves) == size
    for v in versions:
        assert leaves[v.log_index] == f"leaf:{v.name.removeprefix('Artifact ')}".encode()
    assert translog.tree_hash(store.log_node, size) == reference_root(leaves)


def append_rounds(stores: list[Store], thread: int, seen: list[int | None],
                  lock: threading.Lock) -> list[tuple[str, int]]:
    """Each round: one version of the slug every thread shares, one of this thread's own."""
    appended = []
    for r in range(ROUNDS):
        for slug in ("shared", f"own-{thread}"):
            def build(tx: WriteTransaction, latest: StoredVersion | None, number: int,
                      slug: str = slug, r: int = r) -> NewVersion:
                assert number == (latest.version + 1 if latest else 1)
                if slug == "shared":
                    with lock:
                        seen.append(latest.version if latest else None)
                return new_version(f"{slug}-t{thread}-r{r}")
            stored, created = append_version(stores[(thread + r) % len(stores)], slug, build)
            assert created
            appended.append((slug, stored.version))
    return appended


def check_appends(store: Store, results: list[list[tuple[str, int]]],
                  seen: list[int | None]) -> None:
    total = THREADS * ROUNDS
    shared = store.versions("shared")
    assert [v.version for v in shared] == list(range(1, total + 1))
    assert len({v.name for v in shared}) == total  # every thread's appends, none lost
    assert sorted(n for result in results for slug, n in result
                  if slug == "shared") == list(range(1, total + 1))
    # Each builder saw the version the one before it had stored.
    assert sorted(seen, key=lambda v: v or 0) == [None, *range(1, total)]
    own = [store.versions(f"own-{t}") for t in range(THREADS)]
    for t, history in enumerate(own):
        assert [v.version for v in history] == list(range(1, ROUNDS + 1))
        assert [v.name for v in history] == [f"Artifact own-{t}-t{t}-r{r}" for r in range(ROUNDS)]
    assert store.latest("shared") == shared[-1]
    assert store.count() == THREADS + 1
    assert [(a.slug, a.latest_version) for a in store.artifacts()] == [
        *((f"own-{t}", ROUNDS) for t in range(THREADS)), ("shared", total)]
    everything = shared + [v for history in own for v in history]
    assert store.log_size() == 2 * total
    check_the_log(store, everything)


def test_threads_appending_to_one_slug_and_to_their_own_get_every_number_once(
        store: Store) -> None:
    seen: list[int | None] = []
    lock = threading.Lock()
    results = run_threads(lambda t: append_rounds([store], t, seen, lock), THREADS)
    check_appends(store, results, seen)


@pytest.mark.shared_data
def test_threads_on_two_stores_of_the_same_data_get_every_number_once(
        store: Store, open_again: Callable[[], Store]) -> None:
    stores = [store, open_again()]
    seen: list[int | None] = []
    lock = threading.Lock()
    results = run_threads(lambda t: append_rounds(stores, t, seen, lock), THREADS)
    check_appends(store, results, seen)
    check_appends(stores[1], results, seen)


# -- processes -----------------------------------------------------------------------------


PER_PROCESS, NEW_OPENS = 12, 20


def append_in_a_process(backend: str, where: str, name: str, start: Barrier) -> None:
    """A child process. With the other child, at the same moment: open a store on new data,
    ``NEW_OPENS`` times (the first opening of a SQLite file switches it to WAL, a race of its
    own); then open its own store on the shared data and, each round, append to the shared
    slug, then to its own."""
    try:
        for k in range(NEW_OPENS):
            start.wait(timeout=WAIT)
            BACKENDS[backend].open(Path(where) / f"new-{k}").close()
        start.wait(timeout=WAIT)
        store = BACKENDS[backend].open(Path(where))
    except BaseException:
        start.abort()  # the other child stops waiting for this one
        raise
    try:
        for i in range(PER_PROCESS):
            start.wait(timeout=WAIT)
            for slug in ("shared", name):
                _, created = append_version(store, slug, always(new_version(f"{slug}-{name}-{i}")))
                assert created
    except BaseException:
        start.abort()
        raise
    finally:
        store.close()


@pytest.mark.shared_data
def test_processes_opening_and_appending_at_once_get_every_number_once(
        backend: Backend, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    children = [context.Process(target=append_in_a_process,
                                args=(backend.name, str(tmp_path), name, start))
                for name in ("left", "right")]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join(timeout=WAIT)
        assert [child.exitcode for child in children] == [0, 0]
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join(timeout=WAIT)
            child.close()

    store = backend.open(tmp_path)
    try:
        shared = store.versions("shared")
        assert [v.version for v in shared] == list(range(1, 2 * PER_PROCESS + 1))
        for name in ("left", "right"):
            own = store.versions(name)
            assert [v.name for v in own] == [f"Artifact {name}-{name}-{i}"
                                             for i in range(PER_PROCESS)]
            # Each child's appends to the shared slug are in its own order.
            mine = [v.name for v in shared if v.name.startswith(f"Artifact shared-{name}-")]
            assert mine == [f"Artifact shared-{name}-{i}" for i in range(PER_PROCESS)]
        assert store.log_size() == 4 * PER_PROCESS
        check_the_log(store, shared + store.versions("left") + store.versions("right"))
    finally:
        store.close()
