"""The generation: it moves when a write transaction that wrote anything commits, and only
then; caches in every process watch it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from capgraph.ports import ApiKeyRecord, Store
from capgraph.registry.feedback import store_report
from capgraph.registry.versions import append_version
from tests.contract.conftest import EARLY, append, doc, report

KEY = ApiKeyRecord("key_1", "ci", "2026-11-01T12:00:00.000Z", revoked=False)


def test_every_kind_of_write_moves_the_generation(store: Store) -> None:
    seen = [store.generation()]

    def moved() -> bool:
        seen.append(store.generation())
        return seen[-1] != seen[-2]

    append(store, "demo", docs=[doc("c1", "ocr")])
    assert moved()
    append(store, "demo")
    assert moved()
    with store.write() as tx:
        tx.add_api_key(KEY, "hash-1")
    assert moved()
    with store.write() as tx:
        assert tx.revoke_api_key("key_1")
    assert moved()
    assert store_report(store, report("r1"), since=EARLY) == (True, True)
    assert moved()
    with store.write() as tx:
        tx.fill_card("demo", 2, '{"c":1}')
    assert moved()
    assert len(set(seen)) == len(seen)  # never back to an earlier value


def test_a_transaction_that_writes_nothing_leaves_the_generation(store: Store) -> None:
    append(store, "demo", card='{"c":1}')
    before = store.generation()
    with store.write():
        pass
    with store.write() as tx:  # reads only, and writes that find nothing to change
        tx.latest("demo")
        tx.log_size()
        assert tx.revoke_api_key("no-such-key") is False
        tx.fill_card("demo", 1, '{"c":2}')  # it has a card
        tx.fill_card("demo", 7, '{"c":2}')  # not its latest version
        tx.fill_card("nope", 1, '{"c":2}')  # no such artifact
    stored, created = append_version(store, "demo", lambda tx, latest, number: None)
    assert not created and stored.version == 1
    assert store_report(store, report("r1"), since=EARLY) == (True, True)
    after_report = store.generation()
    assert after_report != before
    assert store_report(store, report("r1"), since=EARLY) == (False, False)
    assert store.generation() == after_report


def test_a_transaction_that_raises_leaves_the_generation(store: Store) -> None:
    before = store.generation()
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.add_api_key(KEY, "hash-1")
        raise RuntimeError("abandoned")
    assert store.generation() == before
    assert store.api_keys() == []


@pytest.mark.shared_data
def test_another_store_on_the_same_data_sees_writes_and_the_generation_move(
        store: Store, open_again: Callable[[], Store]) -> None:
    writer = open_again()
    before = store.generation()
    stored = append(writer, "demo")
    after_append = store.generation()
    assert after_append != before
    assert store.latest("demo") == stored
    with writer.write() as tx:
        tx.add_api_key(KEY, "hash-1")
    assert store.generation() != after_append
    assert store.api_keys() == [KEY]
    assert writer.generation() == store.generation()
