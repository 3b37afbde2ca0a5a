"""Learned ranking (search/learning.py and the engine's learned boost): reports on similar
intents move capabilities, within LEARN_WEIGHT, only from counted reports."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from capgraph.core.feedback import PER_CLIENT_CAP
from capgraph.ports import FeedbackRecord
from capgraph.registry import Registry
from capgraph.registry.feedback import store_report
from capgraph.search.learning import LEARN_WEIGHT, SIMILARITY, LearnedIndex
from capgraph.storage.memory import MemoryStore
from capgraph.storage.sqlite import SQLiteStore
from tests.unit.feedback_kit import Clock, WordEmbedder, make_registry, make_store, twin_manifest
from tests.wire import report_json

QUERY = "summarize my meeting notes"
SINCE = "2000-01-01T00:00:00.000Z"


def _vec(*xs: float) -> np.ndarray:
    v = np.zeros(4, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


def _add(store: MemoryStore, n: int, vec: np.ndarray, outcome: str, *, cap: str = "c0",
         client: str | None = None, cap_limit: int = 10**9) -> None:
    start = len(store.counted_feedback("s")) + 10**6 * (client is not None)
    for i in range(n):
        store_report(store, FeedbackRecord(
            ref=f"match:{client}-{start + i}-{outcome}-{cap}", kind="match", slug="s",
            cap_id=cap, intent="x", outcome=outcome, clicked=None, source=None, comment=None,
            confidence=0.5, client=client or f"c{start + i}", created_at=SINCE,
            intent_vec=vec.astype(np.float16).tobytes()),
            per_client_cap=cap_limit, since=SINCE)


def _expected(s: float, f: float) -> float:
    return LEARN_WEIGHT * 2 * ((1 + s) / (2 + s + f) - 0.5)


# -- the formula -----------------------------------------------------------------------------


def test_a_report_on_the_same_intent_moves_its_capability_by_the_formula() -> None:
    store = MemoryStore()
    index = LearnedIndex(store, dim=4)
    assert index.boosts(_vec(1)) == {}
    _add(store, 1, _vec(1), "success")
    assert index.boosts(_vec(1)) == {("s", "c0"): pytest.approx(_expected(1, 0), abs=1e-3)}
    _add(store, 2, _vec(1), "failure", cap="c1")
    boosts = index.boosts(_vec(1))  # new reports are picked up on the next query
    assert boosts[("s", "c1")] == pytest.approx(_expected(0, 2), abs=1e-3)
    assert boosts[("s", "c1")] < 0 < boosts[("s", "c0")]


def test_reports_count_by_similarity_and_only_above_the_threshold() -> None:
    store = MemoryStore()
    index = LearnedIndex(store, dim=4)
    near = _vec(0.9, math.sqrt(1 - 0.81))  # cosine 0.9 with the query
    far = _vec(SIMILARITY - 0.02, math.sqrt(1 - (SIMILARITY - 0.02) ** 2))
    _add(store, 1, near, "success")
    _add(store, 5, far, "failure")
    assert index.boosts(_vec(1)) == {("s", "c0"): pytest.approx(_expected(0.9, 0), abs=2e-3)}


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_the_learned_boost_never_reaches_learn_weight(outcome: str) -> None:
    store = MemoryStore()
    index = LearnedIndex(store, dim=4)
    _add(store, 2000, _vec(1), outcome)
    boost = index.boosts(_vec(1))[("s", "c0")]
    assert 0.99 * LEARN_WEIGHT < abs(boost) < LEARN_WEIGHT


def test_uncounted_reports_teach_nothing() -> None:
    store = MemoryStore()
    index = LearnedIndex(store, dim=4)
    _add(store, 50, _vec(1), "success", client="key:flood", cap_limit=PER_CLIENT_CAP)
    assert len(store.counted_feedback("s")) == PER_CLIENT_CAP
    assert index.boosts(_vec(1))[("s", "c0")] == pytest.approx(
        _expected(PER_CLIENT_CAP, 0), abs=1e-3)


# -- through the Registry ----------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def twins(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """Two artifacts the text ranking can barely tell apart, and a real-ish embedder."""
    store = make_store(request.param, tmp_path)
    registry = make_registry(store, tmp_path, clock=Clock(), embedder=WordEmbedder())
    registry.publish(twin_manifest("notes-a"))
    registry.publish(twin_manifest("notes-b"))
    yield registry
    store.close()


def _order(registry: Registry, query: str = QUERY) -> list[str]:
    return [m.slug for m in registry.search(query, limit=2).matches]


def _report(registry: Registry, slug: str, outcome: str, client: str,
            query: str = QUERY) -> bool:
    match = next(m for m in registry.search(query, limit=2).matches if m.slug == slug)
    result = report_json(registry, {"matchRecordId": match.match_record_id, "outcome": outcome},
                               client=client)
    return bool(result["counted"])


def _relevance(registry: Registry, query: str = QUERY) -> dict[str, float]:
    return {c.card.slug: c.relevance for c in registry.engine.candidates(query)[:2]}


def test_outcomes_reorder_similar_intents_and_learning_can_be_turned_off(twins: Registry
                                                                         ) -> None:
    registry = twins
    assert registry.learned is not None and registry.embedder is not None
    first, second = _order(registry)
    text_only = _relevance(registry)
    for n in range(3):
        _report(registry, first, "failure", f"key:{n}")
        _report(registry, second, "success", f"key:{n}")
    assert _order(registry) == [second, first]
    learned = _relevance(registry)
    assert learned[second] - text_only[second] == pytest.approx(_expected(3, 0), abs=2e-3)
    assert learned[first] - text_only[first] == pytest.approx(_expected(0, 3), abs=2e-3)
    # A paraphrase close enough to the reported intent learns too ...
    assert _order(registry, "please summarize my meeting notes") == [second, first]
    # ... one below the similarity threshold does not (its order may still move a little
    # through the trust score, which the same reports changed).
    far = registry.embedder.embed(["condense meeting notes"])[0]
    assert registry.learned.boosts(far) == {}
    # Learning off: relevance is the text's alone again.
    registry.engine.learning = False
    assert _relevance(registry) == pytest.approx(text_only)
    registry.engine.learning = True
    ranked = registry.resolver.rank(QUERY, None, None, "default")
    assert [p.cand.card.slug for p in ranked[:2]] == [second, first]


def test_one_client_flooding_successes_gets_a_bounded_boost(twins: Registry) -> None:
    registry = twins
    assert registry.learned is not None and registry.embedder is not None
    _, second = _order(registry)
    counted = [_report(registry, second, "success", "key:flood") for _ in range(50)]
    assert sum(counted) == PER_CLIENT_CAP
    query = registry.embedder.embed([QUERY])[0]
    boosts = registry.learned.boosts(query)
    assert set(boosts) == {(second, f"{second}__cap_0")}
    boost = boosts[(second, f"{second}__cap_0")]
    assert boost == pytest.approx(_expected(PER_CLIENT_CAP, 0), abs=2e-3)
    assert boost < LEARN_WEIGHT


def test_learning_is_rebuilt_from_the_store_after_a_restart(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cg.db")
    registry = make_registry(store, tmp_path, embedder=WordEmbedder())
    registry.publish(twin_manifest("notes-a"))
    registry.publish(twin_manifest("notes-b"))
    first, second = _order(registry)
    for n in range(3):
        _report(registry, first, "failure", f"key:{n}")
    learned = _order(registry)
    assert learned == [second, first]
    store.close()
    again = SQLiteStore(tmp_path / "cg.db")
    restarted = make_registry(again, tmp_path, embedder=WordEmbedder())
    assert restarted.learned is not None and registry.learned is not None
    query = WordEmbedder().embed([QUERY])[0]
    assert restarted.learned.boosts(query) == registry.learned.boosts(query)
    assert _order(restarted) == learned
    assert restarted.outcomes(first) == registry.outcomes(first)
    again.close()


def test_a_query_during_a_sync_never_sees_a_half_added_report() -> None:
    # A search thread whose generation check passed reads the index while another thread's
    # sync appends: at every step it must see whole reports (vector, key and outcome).
    store = MemoryStore()
    index = LearnedIndex(store, dim=4)
    seen: list[dict[tuple[str, str], float]] = []

    class Probe(list[tuple[str, str]]):
        def append(self, item: tuple[str, str]) -> None:
            sync = index.sync
            index.sync = lambda: None  # type: ignore[method-assign]
            try:
                seen.append(index.boosts(_vec(1)))
            finally:
                index.sync = sync  # type: ignore[method-assign]
            super().append(item)

    index._keys = Probe()
    _add(store, 3, _vec(1), "success")
    index.sync()
    assert len(seen) == 3
    assert [len(b) for b in seen] == [0, 1, 1]
    assert index.boosts(_vec(1))[("s", "c0")] == pytest.approx(_expected(3, 0), abs=1e-3)
