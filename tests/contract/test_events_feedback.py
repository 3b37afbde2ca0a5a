"""Events (what resolves and searches answered) and reports: the first record of each key is
kept; a report is stored once per ref and counted within the per-client cap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from capgraph.errors import StorageError
from capgraph.ports import (
    CountedReport,
    FeedbackChange,
    FeedbackRecord,
    MatchRecord,
    ResolveRecord,
    Store,
)
from capgraph.registry.feedback import store_report
from tests.contract.conftest import EARLY, T0, T1, T2, report


def counted(record: FeedbackRecord) -> CountedReport:
    return CountedReport(record.cap_id, record.outcome, record.intent, record.confidence,
                         record.created_at)


# -- events --------------------------------------------------------------------------------
def test_the_first_resolve_record_of_each_resolve_and_slug_is_kept(store: Store) -> None:
    first = ResolveRecord("r1", "scan", "scan-ocr", "read pages", 0.9, T0)
    other_slug = ResolveRecord("r1", "docs", "docs-ocr", "read pages", 0.5, T0)
    store.record_resolves([first, first._replace(cap_id="later", confidence=0.1), other_slug])
    store.record_resolves([first._replace(intent="again", created_at=T1)])
    found = store.resolve_record("r1", "scan")
    assert found == first
    assert isinstance(found, ResolveRecord)
    assert (found.cap_id, found.confidence) == ("scan-ocr", 0.9)
    assert store.resolve_record("r1", "docs") == other_slug
    assert store.resolve_record("r1", "nope") is None
    assert store.resolve_record("r2", "scan") is None
    store.record_resolves([])
    assert store.resolve_record("r1", "scan") == first


def test_the_first_match_record_of_each_match_id_is_kept(store: Store) -> None:
    first = MatchRecord("m1", "scan", "scan-ocr", "read scanned pages", 0.8, T0)
    second = MatchRecord("m2", "docs", "docs-ocr", "find tables", 0.4, T1)
    store.record_matches([first, first._replace(slug="docs")])
    store.record_matches([first._replace(query="later", created_at=T2), second])
    found = store.match_record("m1")
    assert found == first
    assert isinstance(found, MatchRecord)
    assert (found.slug, found.query) == ("scan", "read scanned pages")
    assert store.match_record("m2") == second
    assert store.match_record("m3") is None
    store.record_matches([])
    assert store.match_record("m1") == first


# -- reports -------------------------------------------------------------------------------
def test_a_report_is_stored_and_counted_once_per_ref(store: Store) -> None:
    first = report("resolve:r1:scan")
    assert store_report(store, first, since=EARLY) == (True, True)
    generation = store.generation()
    again = replace(first, client="ip:other", outcome="failure")
    assert store_report(store, again, since=EARLY) == (False, False)
    assert store.generation() == generation  # nothing was written
    assert store.counted_feedback("scan") == [counted(first)]
    assert [c.outcome for c in store.feedback_changes(0, limit=10)] == ["success"]


def test_a_second_report_with_the_same_ref_is_refused_by_the_transaction(store: Store) -> None:
    first = report("match:m1")
    with store.write() as tx:
        assert not tx.feedback_exists("match:m1")
        tx.add_feedback(first, counted=False)
        assert tx.feedback_exists("match:m1")
    with pytest.raises(StorageError), store.write() as tx:
        tx.add_feedback(replace(first, client="ip:b"), counted=True)
    assert store.counted_feedback("scan") == []
    with store.write() as tx:
        assert tx.feedback_exists("match:m1")
        assert not tx.feedback_exists("match:m2")


def test_the_per_client_cap_counts_reports_by_client_and_artifact(store: Store) -> None:
    def send(ref: str, *, since: str = EARLY, same_client: Sequence[str] = (),
             **fields: Any) -> tuple[bool, bool]:
        return store_report(store, report(ref, **fields), since=since, same_client=same_client,
                            per_client_cap=2)

    assert send("r1") == (True, True)
    assert send("r2", outcome="failure") == (True, True)
    assert send("r3") == (True, False)  # ip:a has two counted on "scan"
    assert send("r4", slug="docs") == (True, True)  # another artifact
    assert send("r5", client="ip:b") == (True, True)  # another client
    # An id of the same client (yesterday's salt) counts as that client...
    assert send("r6", client="ip:a-new", same_client=["ip:a"]) == (True, False)
    assert send("r7", client="ip:c", same_client=["ip:b", "ip:b"]) == (True, True)
    assert send("r8", client="ip:c", same_client=["ip:b"]) == (True, False)
    # ...and only reports created at or after ``since`` count.
    assert send("r9", since=T1) == (True, True)
    assert [c.intent for c in store.counted_feedback("scan")] == [
        "intent r1", "intent r2", "intent r5", "intent r7", "intent r9"]


def test_the_cap_window_starts_at_since_inclusive(store: Store) -> None:
    assert store_report(store, report("r1", created_at=T1), since=EARLY,
                        per_client_cap=1) == (True, True)
    assert store_report(store, report("r2", created_at=T2), since=T1,
                        per_client_cap=1) == (True, False)  # r1 is at ``since``: it counts
    assert store_report(store, report("r3", created_at=T2), since=T2,
                        per_client_cap=1) == (True, True)  # r1 is before; r2 is not counted
    with store.write() as tx:
        assert tx.counted_reports_by(["ip:a"], "scan", since=EARLY) == 2
        assert tx.counted_reports_by(["ip:a"], "scan", since=T2) == 1
        assert tx.counted_reports_by(["ip:a", "ip:z"], "scan", since=T1) == 2
        assert tx.counted_reports_by(["ip:z"], "scan", since=EARLY) == 0
        assert tx.counted_reports_by(["ip:a"], "docs", since=EARLY) == 0


def test_counted_feedback_and_its_feed_hold_only_counted_reports(store: Store) -> None:
    records = [report("r1", intent_vec=b"\x01\x02"), report("r2", slug="docs"),
               report("r3", outcome="failure"), report("r4")]
    for record, count in zip(records, (True, True, False, True), strict=True):
        with store.write() as tx:
            tx.add_feedback(record, counted=count)
    scan = store.counted_feedback("scan")
    assert scan == [counted(records[0]), counted(records[3])]
    assert all(isinstance(c, CountedReport) for c in scan)
    assert (scan[0].cap_id, scan[0].outcome, scan[0].confidence) == (
        "scan-cap", "success", 0.75)
    assert store.counted_feedback("docs") == [counted(records[1])]
    assert store.counted_feedback("nope") == []

    changes = store.feedback_changes(0, limit=10)
    assert [(c.slug, c.cap_id, c.intent_vec, c.outcome) for c in changes] == [
        ("scan", "scan-cap", b"\x01\x02", "success"), ("docs", "docs-cap", None, "success"),
        ("scan", "scan-cap", None, "success")]
    assert all(isinstance(c, FeedbackChange) for c in changes)
    seqs = [c.seq for c in changes]
    assert seqs == sorted(set(seqs)) and seqs[0] > 0
    assert store.feedback_changes(seqs[0], limit=1) == [changes[1]]
    assert store.feedback_changes(seqs[1], limit=10) == [changes[2]]  # skips the uncounted
    assert store.feedback_changes(seqs[2], limit=10) == []


def test_a_transaction_reads_the_reports_it_wrote(store: Store) -> None:
    stored = report("r1")
    store_report(store, stored, since=EARLY)
    new = report("r2", outcome="failure", created_at=T1)
    with store.write() as tx:
        tx.add_feedback(new, counted=True)
        tx.add_feedback(report("r3"), counted=False)
        assert tx.counted_feedback("scan") == [counted(stored), counted(new)]
        assert tx.counted_reports_by(["ip:a"], "scan", since=EARLY) == 2
        assert tx.feedback_exists("r3")
    assert store.counted_feedback("scan") == [counted(stored), counted(new)]


def test_a_report_write_that_raises_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.add_feedback(report("r1"), counted=True)
        raise RuntimeError("re-issue failed")
    assert store.counted_feedback("scan") == []
    assert store.feedback_changes(0, limit=10) == []
    assert store_report(store, report("r1"), since=EARLY) == (True, True)
