"""What a reported outcome may count for (core/feedback.py, core/callback.py and
Registry.feedback): tokens, single use, the per-client cap, and the bound it puts on rank."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capgraph.core import scoring
from capgraph.core.callback import issue_token, verify_token
from capgraph.core.feedback import (
    CAP_WINDOW,
    COMMENT_MAX,
    MIN_INTENT_REPORTS,
    PER_CLIENT_CAP,
    TOP_INTENTS,
    aggregate,
    max_rank_shift,
)
from capgraph.errors import BadRequest, Conflict, NotFound, TokenInvalid
from capgraph.registry import Registry
from capgraph.registry import feedback as feedback_module
from tests.unit.feedback_kit import (
    Clock,
    body,
    counted,
    make_registry,
    make_store,
    resolve_entry,
    tool_manifest,
)
from tests.wire import report_json, resolve_json

SECRET = b"s" * 32


@pytest.fixture(params=["memory", "sqlite"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Registry, Clock]]:
    """A registry on each backend with a settable clock and two published tools."""
    clock = Clock()
    store = make_store(request.param, tmp_path)
    registry = make_registry(store, tmp_path, clock=clock)
    registry.publish(tool_manifest("tool-a", topic="alpha"))
    registry.publish(tool_manifest("tool-b", topic="alpha-beta"))
    yield registry, clock
    store.close()


# -- callback tokens -------------------------------------------------------------------------


def test_a_token_verifies_for_its_resolve_and_slug_until_it_expires() -> None:
    token = issue_token(SECRET, resolve_id="r_1", slug="tool-a", expires=1000)
    verify_token(SECRET, token, resolve_id="r_1", slug="tool-a", now=1000)
    with pytest.raises(TokenInvalid, match="expired"):
        verify_token(SECRET, token, resolve_id="r_1", slug="tool-a", now=1001)


@pytest.mark.parametrize("resolve_id, slug", [("r_2", "tool-a"), ("r_1", "tool-b"),
                                              ("r_1", "tool-a ")])
def test_a_token_is_bound_to_its_resolve_and_slug(resolve_id: str, slug: str) -> None:
    token = issue_token(SECRET, resolve_id="r_1", slug="tool-a", expires=1000)
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, token, resolve_id=resolve_id, slug=slug, now=0)


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # forged MAC
    lambda t: t.replace("v1.", "v2.", 1),  # unknown version
    lambda t: "v1.9999999999." + t.split(".", 2)[2],  # expiry pushed out: the MAC no longer fits
    lambda t: "v1.soon.abc",  # malformed
    lambda t: "garbage",
    lambda t: "",
])
def test_forged_or_malformed_tokens_are_refused(mutate: Any) -> None:
    token = issue_token(SECRET, resolve_id="r_1", slug="tool-a", expires=1000)
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, mutate(token), resolve_id="r_1", slug="tool-a", now=0)


def test_a_token_from_another_secret_is_refused() -> None:
    token = issue_token(b"x" * 32, resolve_id="r_1", slug="tool-a", expires=1000)
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, token, resolve_id="r_1", slug="tool-a", now=0)


# -- refused reports count nothing -----------------------------------------------------------


def _assert_nothing_counted(registry: Registry, before: tuple[int, int, int, int]) -> None:
    assert (registry.passport("tool-a").version, registry.passport("tool-b").version,
            counted(registry, "tool-a"), counted(registry, "tool-b")) == before[:4]


def _state(registry: Registry) -> tuple[int, int, int, int]:
    return (registry.passport("tool-a").version, registry.passport("tool-b").version,
            counted(registry, "tool-a"), counted(registry, "tool-b"))


def _report(registry: Registry, ref: dict[str, Any], outcome: str = "success",
            client: str = "key:test", **extra: Any) -> dict[str, Any]:
    return report_json(registry, {**ref, "outcome": outcome, **extra}, client=client)


def test_a_forged_token_is_refused_and_nothing_is_counted(setup: tuple[Registry, Clock]
                                                          ) -> None:
    registry, _ = setup
    ref = resolve_entry(registry, slug="tool-a")
    before, generation = _state(registry), registry.store.generation()
    token = ref["callbackToken"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(TokenInvalid):
        _report(registry, {**ref, "callbackToken": forged})
    _assert_nothing_counted(registry, before)
    assert registry.store.generation() == generation  # not even stored uncounted
    _report(registry, ref)  # the genuine token still works afterwards
    assert counted(registry, "tool-a") == before[2] + 1


def test_an_expired_token_is_refused_and_nothing_is_counted(setup: tuple[Registry, Clock]
                                                            ) -> None:
    registry, clock = setup
    ref = resolve_entry(registry, slug="tool-a")
    clock.advance(days=7)  # the last second of validity still counts
    clock.advance(seconds=1)
    before, generation = _state(registry), registry.store.generation()
    with pytest.raises(TokenInvalid, match="expired"):
        _report(registry, ref)
    _assert_nothing_counted(registry, before)
    assert registry.store.generation() == generation


def test_a_token_just_before_expiry_counts(setup: tuple[Registry, Clock]) -> None:
    registry, clock = setup
    ref = resolve_entry(registry, slug="tool-a")
    clock.advance(days=7)
    assert _report(registry, ref)["counted"] is True


def test_a_replayed_token_is_refused_and_counted_once(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    ref = resolve_entry(registry, slug="tool-a")
    first = _report(registry, ref)
    assert first["counted"] is True
    before, generation = _state(registry), registry.store.generation()
    for outcome, client in (("success", "key:test"), ("failure", "key:other")):
        with pytest.raises(Conflict):
            _report(registry, ref, outcome, client=client)
    _assert_nothing_counted(registry, before)
    assert registry.store.generation() == generation
    assert counted(registry, "tool-a") == 1


def test_a_token_for_another_slug_is_refused(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    answer = resolve_json(registry, "do alpha for me", limit=5)
    by_slug = {e["artifact"]["slug"]: e["callbackToken"] for e in answer["resolved"]}
    assert set(by_slug) == {"tool-a", "tool-b"}
    before, generation = _state(registry), registry.store.generation()
    with pytest.raises(TokenInvalid):  # tool-a's token presented for tool-b
        _report(registry, {"resolveId": answer["resolveId"], "slug": "tool-b",
                           "callbackToken": by_slug["tool-a"]})
    _assert_nothing_counted(registry, before)
    assert registry.store.generation() == generation


def test_a_token_for_another_resolve_is_refused(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    first = resolve_entry(registry, slug="tool-a")
    second = resolve_entry(registry, slug="tool-a")
    before, generation = _state(registry), registry.store.generation()
    with pytest.raises(TokenInvalid):
        _report(registry, {**second, "callbackToken": first["callbackToken"]})
    _assert_nothing_counted(registry, before)
    assert registry.store.generation() == generation


def test_a_valid_token_for_an_artifact_the_resolve_did_not_answer_is_not_found(
        setup: tuple[Registry, Clock]) -> None:
    # A token minted with the registry's own secret, for a resolve id that never answered
    # with this slug (e.g. records lost): the token checks out but there is nothing to count.
    registry, clock = setup
    token = issue_token(registry.callback_secret(), resolve_id="r_never", slug="tool-a",
                        expires=int(clock.now.timestamp()) + 60)
    before = _state(registry)
    with pytest.raises(NotFound):
        _report(registry, {"resolveId": "r_never", "slug": "tool-a", "callbackToken": token})
    _assert_nothing_counted(registry, before)


@pytest.mark.parametrize("payload, message", [
    ({"outcome": "great"}, "outcome"),
    ({"outcome": None}, "outcome"),
    ({"outcome": "success", "comment": "x" * (COMMENT_MAX + 1)}, "comment"),
    ({"outcome": "success", "comment": 5}, "comment"),
    ({"outcome": "success", "clickedThrough": "yes"}, "clickedThrough"),
    ({"outcome": "success", "source": "s" * 101}, "source"),
    ({"outcome": "success", "resolveId": "r_1"}, "resolveId"),
    ({"outcome": "success", "matchRecordId": 7}, "matchRecordId"),
])
def test_malformed_reports_are_refused(setup: tuple[Registry, Clock], payload: dict[str, Any],
                                       message: str) -> None:
    registry, _ = setup
    before = _state(registry)
    with pytest.raises(BadRequest, match=message):
        report_json(registry, payload, client="key:test")
    _assert_nothing_counted(registry, before)


def test_an_unknown_search_match_is_not_found(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    with pytest.raises(NotFound):
        _report(registry, {"matchRecordId": "m_nothing"})


def test_a_comment_of_exactly_the_limit_is_kept(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    result = _report(registry, resolve_entry(registry, slug="tool-a"),
                     comment="c" * COMMENT_MAX, clickedThrough=True, source="agent")
    assert result["counted"] is True


# -- single use and the per-client cap -------------------------------------------------------


def test_a_search_match_counts_once(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    match = registry.search("do alpha for me").matches[0]
    ref = {"matchRecordId": match.match_record_id}
    assert _report(registry, ref)["counted"] is True
    with pytest.raises(Conflict):
        _report(registry, ref, client="key:other")
    assert counted(registry, match.slug) == 1


def test_one_client_flooding_successes_counts_only_the_cap_and_moves_rank_within_the_bound(
        setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    before = body(registry, "tool-a")
    results = [_report(registry, resolve_entry(registry, slug="tool-a"), client="key:flood")
               for _ in range(50)]
    assert [r["counted"] for r in results] == [True] * PER_CLIENT_CAP + \
        [False] * (50 - PER_CLIENT_CAP)
    assert counted(registry, "tool-a") == PER_CLIENT_CAP
    after = body(registry, "tool-a")
    shift = after["trust"]["score"] - before["trust"]["score"]
    assert 0 < shift <= max_rank_shift(after["artifact"]["type"])
    assert after["trust"]["observed_outcomes"]["matches"] == PER_CLIENT_CAP
    # Uncounted reports do not re-issue the passport.
    assert registry.passport("tool-a").version == 1 + PER_CLIENT_CAP


def test_the_cap_is_per_client_per_artifact_and_per_window(setup: tuple[Registry, Clock]
                                                           ) -> None:
    registry, clock = setup
    for _ in range(PER_CLIENT_CAP):
        assert _report(registry, resolve_entry(registry, slug="tool-a"))["counted"]
    assert not _report(registry, resolve_entry(registry, slug="tool-a"))["counted"]
    # Another artifact, another client: counted.
    assert _report(registry, resolve_entry(registry, slug="tool-b"))["counted"]
    assert _report(registry, resolve_entry(registry, slug="tool-a"), client="key:b")["counted"]
    # Still inside the window (it includes its start): refused; once the first reports are
    # older than the window: counted.
    clock.advance(seconds=CAP_WINDOW.total_seconds())
    assert not _report(registry, resolve_entry(registry, slug="tool-a"))["counted"]
    clock.advance(seconds=1)
    assert _report(registry, resolve_entry(registry, slug="tool-a"))["counted"]


def test_failures_count_against_the_cap_too(setup: tuple[Registry, Clock]) -> None:
    registry, _ = setup
    for outcome in ("failure", "success", "failure", "success"):
        _report(registry, resolve_entry(registry, slug="tool-a"), outcome)
    assert [row[1] for row in registry.store.counted_feedback("tool-a")] == \
        ["failure", "success", "failure"]


def test_a_concurrent_report_is_never_overwritten_by_a_stale_reissue(
        setup: tuple[Registry, Clock]) -> None:
    # Report 1 is counted; before its passport is re-issued, report 2 lands and re-issues with
    # both. Report 1's re-issue must not then sign a passport with only its own evidence.
    registry, _ = setup
    first, second = (resolve_entry(registry, slug="tool-a") for _ in range(2))
    original = feedback_module.append_version
    fired = threading.Event()

    def append(store: Any, slug: str, build: Any) -> Any:  # report 1's re-issue, first
        if not fired.is_set():
            fired.set()
            _report(registry, second, "failure", client="key:second")
        return original(store, slug, build)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feedback_module, "append_version", append)
        _report(registry, first, client="key:first")
    served = body(registry, "tool-a")["trust"]["observed_outcomes"]
    assert served["matches"] == counted(registry, "tool-a") == 2
    assert served["success_rate"] == 0.5


# -- aggregate and the rank bound --------------------------------------------------------------


def test_aggregate_counts_per_capability_and_ranks_intents() -> None:
    rows = [
        ("c0", "success", "b intent", 0.8, "2026-11-01T00:00:00.000Z"),
        ("c0", "failure", "a intent", 0.6, "2026-11-03T00:00:00.000Z"),
        ("c1", "success", "a intent", 0.4, "2026-11-02T00:00:00.000Z"),
        ("c1", "success", "", 0.2, "2026-11-02T00:00:00.000Z"),
    ] + [("c2", "failure", f"intent {i}", 0.0, "2026-10-01T00:00:00.000Z") for i in range(6)]
    out = aggregate(rows)
    assert (out.capabilities["c0"].successes, out.capabilities["c0"].reports) == (1, 2)
    assert (out.capabilities["c1"].successes, out.capabilities["c1"].reports) == (2, 2)
    assert (out.reports, out.successes) == (10, 3)
    assert out.avg_confidence == pytest.approx(2.0 / 10)
    assert out.top_intents == []  # no intent has MIN_INTENT_REPORTS reports
    assert out.last_matched_at == "2026-11-03T00:00:00.000Z"
    empty = aggregate([])
    assert (empty.reports, empty.avg_confidence, empty.top_intents, empty.last_matched_at) == \
        (0, 0.0, [], None)


def test_only_normalised_intents_with_the_minimum_count_are_published() -> None:
    at = "2026-11-01T00:00:00.000Z"
    many = MIN_INTENT_REPORTS
    rows = [("c0", "success", "My SECRET customer list for ACME", 0.5, at)]  # once: kept private
    spellings = ["Extract tables", "extract  tables.", " EXTRACT tables!"]
    rows += [("c0", "success", spellings[i % 3], 0.5, at) for i in range(many)]
    rows += [("c0", "success", f"b intent {i}", 0.5, at) for i in range(6) for _ in range(many)]
    rows += [("c0", "success", "nearly", 0.5, at)] * (many - 1)
    out = aggregate(rows)
    assert out.top_intents[0] == "b intent 0" and len(out.top_intents) == TOP_INTENTS
    assert "extract tables" in aggregate(rows[:many + 1]).top_intents
    published = " ".join(out.top_intents + aggregate(rows[:many + 1]).top_intents)
    assert "SECRET" not in published and "secret" not in published and "nearly" not in published


def test_max_rank_shift_is_the_beta_step_of_cap_successes() -> None:
    a, b = scoring.MATCH_GRAPH_PRIOR
    exact = 100 * 0.30 * ((a + PER_CLIENT_CAP) / (a + b + PER_CLIENT_CAP) - a / (a + b))
    assert max_rank_shift("model") >= exact
    assert max_rank_shift("model") < exact + 2  # integer rounding slack only
    # More evidence already counted: one client moves the artifact less.
    assert max_rank_shift("model", prior_reports=100, prior_successes=50) < \
        max_rank_shift("model")
    assert max_rank_shift("no-such-type") > 0


_COMPONENT = st.integers(0, 100).map(lambda x: x / 100)


@given(kind=st.sampled_from([*scoring.WEIGHTS, "unknown-type"]), adoption=_COMPONENT,
       quality=_COMPONENT, ecosystem=_COMPONENT, freshness=_COMPONENT,
       prior=st.integers(0, 200), rate=st.floats(0, 1))
def test_the_served_integer_score_never_moves_more_than_max_rank_shift(
        kind: str, adoption: float, quality: float, ecosystem: float, freshness: float,
        prior: int, rate: float) -> None:
    successes = int(prior * rate)
    weights = scoring.weights_for(kind)
    parts = {"adoption": adoption, "quality": quality, "ecosystem": ecosystem,
             "freshness": freshness}
    before = scoring.score({**parts, "match_graph": scoring.match_graph(successes, prior).value},
                           weights)
    after = scoring.score({**parts, "match_graph": scoring.match_graph(
        successes + PER_CLIENT_CAP, prior + PER_CLIENT_CAP).value}, weights)
    assert after - before <= max_rank_shift(kind, prior_reports=prior,
                                            prior_successes=successes)


def test_the_cap_holds_across_the_midnight_salt_change(setup: tuple[Registry, Clock]) -> None:
    """An address's id changes with the daily salt; reports made just before midnight UTC
    still count against the cap just after it (its id under yesterday's salt is compared,
    never stored)."""
    registry, clock = setup
    clock.advance(hours=23 - clock.now.hour, minutes=50 - clock.now.minute)
    assert (clock.now.hour, clock.now.minute) == (23, 50)
    address = "198.51.100.23"

    def report(address: str) -> bool:
        client, *same = registry.client_ids(address)
        result = report_json(registry, {**resolve_entry(registry, slug="tool-a"),
                                    "outcome": "success"}, client=client, same_client=same)
        return bool(result["counted"])

    before = registry.client_ids(address)
    assert all(report(address) for _ in range(PER_CLIENT_CAP))
    clock.advance(minutes=20)  # a new day: a new salt, a new id for the address
    after = registry.client_ids(address)
    assert after[0] != before[0] and after[1] == before[0]
    assert not report(address)  # yesterday's three are within the last 24 hours
    assert report("198.51.100.24")  # another address is another client
    clock.advance(hours=24)  # the evening's reports have left the window
    assert report(address)
