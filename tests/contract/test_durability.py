"""What one store wrote, a store opened later on the same data reads back, every part of it
(for the backends whose data outlives the store object)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from capgraph.core import translog
from capgraph.ports import ApiKeyRecord, MatchRecord, ResolveRecord, Store
from capgraph.registry.feedback import store_report
from tests.contract.conftest import EARLY, T0, append, doc, report


def snapshot(store: Store) -> tuple[object, ...]:
    size = store.log_size()
    return (
        store.versions("a"), store.versions("b"), store.version("a", 1), store.latest("a"),
        store.artifacts(), store.count(), store.count(artifact_type="model"),
        store.references_to("b"),
        store.existing(["b", "x", "a"]), store.latest_cards(["a", "b"]),
        store.slugs_without_card(after="", limit=10), store.generation(),
        size, store.log_entries(0, size), translog.tree_hash(store.log_node, size),
        store.keyword_changes(0, limit=100), store.vector_changes(0, limit=100),
        store.intent_matches("ocr"), store.feedback_changes(0, limit=100),
        store.counted_feedback("a"), store.resolve_record("r1", "a"), store.match_record("m1"),
        store.api_keys(), store.api_key_by_hash("hash-1"),
    )


@pytest.mark.shared_data
def test_a_store_opened_again_reads_back_everything(
        store: Store, open_again: Callable[[], Store]) -> None:
    append(store, "a", docs=[doc("a1", "ocr")], vectors=[("a1", b"\x01\x02")])
    append(store, "a", artifact_type="model", integrations=["b"], card='{"c":1}')
    append(store, "b", passport=b'{"bytes": "kept"}')
    store_report(store, report("r1", slug="a", intent_vec=b"\x03"), since=EARLY)
    store.record_resolves([ResolveRecord("r1", "a", "a1", "ocr", 0.5, T0)])
    store.record_matches([MatchRecord("m1", "b", "b1", "tables", 0.25, T0)])
    with store.write() as tx:
        tx.add_api_key(ApiKeyRecord("key_1", "ci", T0, revoked=False), "hash-1")
        tx.revoke_api_key("key_1")
    before = snapshot(store)
    store.close()

    again = open_again()
    assert snapshot(again) == before
    assert again.api_key_by_hash("hash-1") == ApiKeyRecord("key_1", "ci", T0, revoked=True)
    assert again.latest("b").passport == b'{"bytes": "kept"}'  # type: ignore[union-attr]
    assert append(again, "a").version == 3  # and it goes on from there
    assert append(again, "c").log_index == 4
