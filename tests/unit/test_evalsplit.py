"""Splitting a labelled set by tool and cluster-bootstrap intervals (search/evalsplit.py)."""

from __future__ import annotations

import pytest

from capgraph.search.evalsplit import (
    QueryResult,
    bootstrap_difference,
    bootstrap_mean,
    side_of,
    split_by_tool,
)

TOOLS = [f"tool-{i}" for i in range(200)]


def result(query_id: str, *tools: str, hit: float) -> QueryResult:
    return QueryResult(query_id, tools, {"recall@1": hit})


def test_a_tool_keeps_its_side_whatever_else_is_in_the_set() -> None:
    sides = {t: side_of(t, seed=0, holdout=0.3) for t in TOOLS}
    held = [t for t, s in sides.items() if s == "held-out"]
    assert 40 <= len(held) <= 80  # about 30 % of 200
    few = split_by_tool([result(t, t, hit=1.0) for t in TOOLS[:20]], seed=0, holdout=0.3)
    assert {r.tools[0] for r in few["held-out"]} == {t for t in TOOLS[:20] if t in held}
    other_seed = {t for t in TOOLS if side_of(t, seed=1, holdout=0.3) == "held-out"}
    assert other_seed != set(held)


def test_every_query_of_a_tool_goes_with_it_and_mixed_queries_go_nowhere() -> None:
    held = next(t for t in TOOLS if side_of(t, seed=0, holdout=0.3) == "held-out")
    tuned = next(t for t in TOOLS if side_of(t, seed=0, holdout=0.3) == "tune")
    rows = [result("a", held, hit=1), result("b", held, hit=0), result("c", tuned, hit=1),
            result("d", held, tuned, hit=1)]
    sides = split_by_tool(rows, seed=0, holdout=0.3)
    assert [r.query_id for r in sides["held-out"]] == ["a", "b"]
    assert [r.query_id for r in sides["tune"]] == ["c"]
    assert [r.query_id for r in sides["mixed"]] == ["d"]
    with pytest.raises(ValueError):
        split_by_tool(rows, holdout=1.0)


def test_the_interval_holds_the_mean_and_widens_when_tools_disagree() -> None:
    # 50 tools with 10 queries each; the same overall mean (0.5) two ways.
    even = [result(f"{t}-{q}", t, hit=q % 2) for t in TOOLS[:50] for q in range(10)]
    lumpy = [result(f"{t}-{q}", t, hit=i % 2) for i, t in enumerate(TOOLS[:50])
             for q in range(10)]
    a, b = bootstrap_mean(even, "recall@1"), bootstrap_mean(lumpy, "recall@1")
    assert a.value == b.value == 0.5
    assert a.low == a.high == 0.5  # every tool is at 0.5: resampling tools changes nothing
    assert b.low < 0.5 < b.high and b.high - b.low > 0.2  # whole tools right or wrong
    assert bootstrap_mean([], "recall@1").value == 0.0


def test_a_paired_difference_is_zero_for_the_same_run_and_excludes_zero_for_a_real_gain(
        ) -> None:
    before = [result(f"{t}-{q}", t, hit=float(q < 4)) for t in TOOLS[:40] for q in range(10)]
    same = bootstrap_difference(before, before, "recall@1")
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    # one more query right on every other tool: +0.05, and never a loss
    after = [result(r.query_id, *r.tools, hit=float(r.metrics["recall@1"] or (
        r.query_id.endswith("-4") and int(r.tools[0].split("-")[1]) % 2 == 0)))
        for r in before]
    gain = bootstrap_difference(after, before, "recall@1")
    assert gain.value == pytest.approx(0.05)
    assert 0.0 < gain.low <= gain.value <= gain.high
    with pytest.raises(ValueError):
        bootstrap_difference(after, [result("other", "x", hit=1)], "recall@1")
