"""The store contract: every test in this folder runs against every backend in ``BACKENDS``.

A backend is a way to open a ``Store`` at a location (a test's own ``tmp_path``). The
``postgres`` backend needs the machine's PostgreSQL on 127.0.0.1:5432 (``tests/pg.py``: a
database per test run, a schema per location, dropped after). To add one, add a row to
``BACKENDS``: its ``open`` must give a fresh, empty store for
a fresh location, and ``shared`` says whether a second store opened at the same location, in
this process or another, sees the same data (tests that need that are marked ``shared_data``
and run on those backends only).
``open`` must be a module-level function: the multi-process test calls it in a child.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from capgraph.core.translog import leaf_hash, node_hash
from capgraph.ports import FeedbackRecord, Store, StoredVersion, WriteTransaction
from capgraph.registry.versions import NewVersion, VersionBuilder, append_version
from capgraph.search.cards import card_json
from capgraph.search.documents import SearchDoc
from capgraph.storage.memory import MemoryStore
from capgraph.storage.postgres import PostgresStore
from capgraph.storage.sqlite import SQLiteStore
from tests import pg

CREATED_AT = T0 = "2026-11-01T12:00:00.000Z"
EARLY, T1, T2 = ("2026-11-01T11:00:00.000Z", "2026-11-01T12:00:01.000Z",
                 "2026-11-01T12:00:02.000Z")
R = TypeVar("R")
WAIT = 60.0  # seconds: the bound of every wait for a thread or process (never reached)


def open_memory(where: Path) -> Store:
    return MemoryStore()


def open_sqlite(where: Path) -> Store:
    return SQLiteStore(where / "cg.db")


def open_postgres(where: Path) -> Store:
    """A store in the run's PostgreSQL database (``tests/pg.py``), in a schema of its own
    named after the location, migrated like ``capgraph db migrate`` does."""
    return PostgresStore(pg.location_url(where), pool_size=4)


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path], Store]
    shared: bool  # stores opened at the same location share their data, across processes


BACKENDS: dict[str, Backend] = {
    "memory": Backend("memory", open_memory, shared=False),
    "sqlite": Backend("sqlite", open_sqlite, shared=True),
    "postgres": Backend("postgres", open_postgres, shared=True),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test runs on every backend; a test marked ``shared_data`` (it opens a second
    store on the same data, maybe in another process) on the backends that allow that."""
    if "backend" in metafunc.fixturenames:
        shared_only = metafunc.definition.get_closest_marker("shared_data") is not None
        names = [n for n, b in BACKENDS.items() if b.shared or not shared_only]
        metafunc.parametrize("backend", [BACKENDS[n] for n in names], ids=names)


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each backend."""
    opened = backend.open(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def open_again(backend: Backend, tmp_path: Path, store: Store) -> Iterator[Callable[[], Store]]:
    """Opens another store at the location of ``store`` (closed after the test); for tests
    marked ``shared_data``."""
    assert backend.shared, "a test using open_again must be marked shared_data"
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(backend.open(tmp_path))
        return opened[-1]

    yield open_store
    for s in opened:
        s.close()


# -- making versions -----------------------------------------------------------------------
def new_version(tag: str, *, artifact_type: str = "api", score: int = 42,
                integrations: Sequence[str] = (), docs: Sequence[SearchDoc] = (),
                vectors: list[tuple[str, bytes]] | None = None, card: str = "",
                passport: bytes | None = None, log_leaf: bytes | None = None,
                created_at: str = CREATED_AT) -> NewVersion:
    """A version with a fake passport and log leaf, both unique to ``tag`` unless given."""
    return NewVersion(
        name=f"Artifact {tag}", artifact_type=artifact_type, score=score,
        content_hash="sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
        source_kind="manifest", source=json.dumps({"tag": tag}),
        passport=passport if passport is not None else json.dumps({"tag": tag}).encode(),
        key_id="kid-1", created_at=created_at,
        log_leaf=log_leaf if log_leaf is not None else f"leaf:{tag}".encode(),
        capability_numbers={"alpha": 0, tag: 1}, integrations=list(integrations),
        search_docs=list(docs), vectors=vectors, card=card,
    )


def always(version: NewVersion) -> VersionBuilder:
    """A builder that appends ``version`` whatever is stored."""
    def build(tx: WriteTransaction, latest: StoredVersion | None, number: int) -> NewVersion:
        return version
    return build


def append(store: Store, slug: str, tag: str | None = None, **fields: Any) -> StoredVersion:
    """Append a new version of ``slug`` (tagged ``tag``, else slug and number) and return it."""
    def build(tx: WriteTransaction, latest: StoredVersion | None, number: int) -> NewVersion:
        return new_version(tag or f"{slug}-{number}", **fields)
    stored, created = append_version(store, slug, build)
    assert created
    return stored


def report(ref: str, *, slug: str = "scan", client: str = "ip:a", outcome: str = "success",
           created_at: str = T0, intent_vec: bytes | None = None) -> FeedbackRecord:
    """An outcome report on ``ref`` (a resolve or match id) about ``slug``."""
    return FeedbackRecord(
        ref=ref, kind="resolve", slug=slug, cap_id=f"{slug}-cap", intent=f"intent {ref}",
        outcome=outcome, clicked=True, source="agent", comment=None, confidence=0.75,
        client=client, created_at=created_at, intent_vec=intent_vec,
    )


def in_transaction(tx: WriteTransaction) -> Store:
    """A stand-in store whose ``write()`` hands out ``tx``, a transaction the test opened: the
    rules of ``registry/`` then write inside it (and the test may raise after them)."""
    class InTransaction:
        def write(self) -> AbstractContextManager[WriteTransaction]:
            return nullcontext(tx)

    return cast(Store, InTransaction())


def doc(cap_id: str, *intents: str, name: str = "") -> SearchDoc:
    """A search document declaring ``intents`` (already normalised)."""
    return SearchDoc(cap_id=cap_id, name=name or f"cap {cap_id}", intents=" ".join(intents),
                     body=f"body of {cap_id}", artifact=f"artifact of {cap_id}",
                     declared_intents=tuple(intents))


def passport_body(slug: str) -> dict[str, Any]:
    """The part of a passport body a card is made from."""
    return {
        "artifact": {"slug": slug, "name": slug.title(), "type": "api",
                     "url": f"https://{slug}.example", "status": "active"},
        "trust": {"rank_breakdown": {"quality": 0.5}, "data_access_risk": "low",
                  "verified": False},
        "capabilities": [{"id": f"{slug}-ocr", "uri": f"cap://{slug}/ocr", "name": "Scan",
                          "description": f"{slug} reads scanned pages"}],
    }


def passport(slug: str) -> bytes:
    """A fake signed passport whose body a card can be made from."""
    return json.dumps({"unfragile": passport_body(slug), "signature": "fake"}).encode()


def card_of(slug: str) -> str:
    """The card of ``passport(slug)``."""
    return card_json(passport_body(slug))


# -- the transparency log, computed without the store ------------------------------------
def reference_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from RFC 9162 section 2.1.1, over the leaf data."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two below n
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


# -- threads -------------------------------------------------------------------------------
def run_threads(work: Callable[[int], R], count: int) -> list[R]:
    """Run ``work(0..count-1)`` in ``count`` threads released together; their results in
    order. Fails (never hangs) when a thread does not finish within ``WAIT`` seconds, and
    re-raises the first error of any thread."""
    start = threading.Barrier(count)
    results: dict[int, R] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout=WAIT)
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: races show up instead of hiding
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + WAIT
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        sys.setswitchinterval(interval)
    assert not any(t.is_alive() for t in threads), f"a thread is still running after {WAIT}s"
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]
