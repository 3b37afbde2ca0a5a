"""UnfragileRank: weight tables, rounding, and the components' ranges and monotonicity."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core import scoring
from capgraph.core.passport import COMPONENTS
from tests.conftest import FIXED_NOW, SHARED
from tests.unit.factories import load_seed

PROPERTY = settings(max_examples=150, deadline=None)
counts = st.integers(min_value=0, max_value=10**12)
ratios = st.floats(min_value=0, max_value=1, allow_nan=False)


def _protocol_weights(sentence_start: str) -> dict[str, Decimal]:
    """The weights PROTOCOL.md writes after ``sentence_start`` (e.g. 'Default weights')."""
    text = " ".join((SHARED / "PROTOCOL.md").read_text(encoding="utf-8").split())
    start = text.index(sentence_start)
    found = re.findall(r"(adoption|quality|ecosystem|match_graph|freshness) (\d\.\d+)",
                       text[start:start + 200])
    table: dict[str, Decimal] = {}
    for name, value in found:
        if name in table:  # the next sentence's table starts
            break
        table[name] = Decimal(value)
    return table


def _decimal(table: dict[str, float]) -> dict[str, Decimal]:
    return {k: Decimal(repr(v)) for k, v in table.items()}


def test_every_weight_table_sums_to_one_exactly() -> None:
    tables = {"default": scoring.DEFAULT_WEIGHTS, **scoring.WEIGHTS}
    for name, table in tables.items():
        assert set(table) == set(COMPONENTS), name
        assert sum(_decimal(table).values()) == Decimal(1), name
        assert all(0 <= v <= 1 for v in table.values()), name


def test_model_table_equals_the_seed_weights(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        weights = load_seed(path)["passport"]["unfragile"]["trust"]["rank_breakdown"]["weights"]
        assert scoring.weights_for("model") == weights
        assert list(weights) == list(COMPONENTS)


def test_model_table_equals_the_weights_observed_in_the_protocol() -> None:
    assert _decimal(scoring.WEIGHTS["model"]) == _protocol_weights("Observed for type `model`")


def test_default_table_equals_protocol_b4() -> None:
    written = _protocol_weights("Default weights when the type has no table")
    assert len(written) == 5
    assert _decimal(scoring.DEFAULT_WEIGHTS) == written


def test_published_defaults_agree_with_the_default_table() -> None:
    published = _protocol_weights("Published defaults")
    assert set(published) == {"adoption", "quality", "ecosystem"}
    for name, value in published.items():
        assert _decimal(scoring.DEFAULT_WEIGHTS)[name] == value


def test_types_without_a_table_get_the_default_table() -> None:
    assert scoring.weights_for("prompt") == scoring.DEFAULT_WEIGHTS
    assert scoring.weights_for("no-such-type") == scoring.DEFAULT_WEIGHTS


def test_weights_for_returns_a_copy() -> None:
    table = scoring.weights_for("model")
    table["adoption"] = 1.0
    assert scoring.weights_for("model")["adoption"] == 0.35


def _only(component: str, value: float) -> dict[str, float]:
    return {c: (value if c == component else 0.0) for c in COMPONENTS}


@pytest.mark.parametrize(
    ("component", "value", "weight"),
    [("adoption", 0.1, 0.25), ("quality", 0.5, 0.25), ("freshness", 0.5, 0.05),
     ("match_graph", 0.05, 0.3), ("ecosystem", 0.45, 0.1)],
)
def test_score_rounds_exact_halves_up(component: str, value: float, weight: float) -> None:
    # 100 x weight x value is exactly n + 0.5 in decimal; half up gives n + 1, where banker's
    # rounding (or binary floating point) could give n.
    weights = {c: (weight if c == component else 0.0) for c in COMPONENTS}
    exact = Decimal(repr(weight)) * Decimal(repr(value)) * 100
    assert exact % 1 == Decimal("0.5")
    assert scoring.score(_only(component, value), weights) == int(exact) + 1


def test_score_rounds_below_half_down() -> None:
    weights = scoring.weights_for("model")
    assert scoring.score(_only("adoption", 0.07), weights) == 2  # 2.45
    assert scoring.score(_only("adoption", 0.0), weights) == 0


def test_score_of_full_components_is_100_for_every_table() -> None:
    for table in [scoring.DEFAULT_WEIGHTS, *scoring.WEIGHTS.values()]:
        assert scoring.score(dict.fromkeys(COMPONENTS, 1.0), table) == 100


@PROPERTY
@given(st.fixed_dictionaries({c: ratios for c in COMPONENTS}),
       st.sampled_from(sorted(scoring.WEIGHTS)))
def test_score_is_in_0_to_100_and_within_half_a_point(
    components: dict[str, float], artifact_type: str
) -> None:
    weights = scoring.weights_for(artifact_type)
    result = scoring.score(components, weights)
    exact = 100 * sum(weights[c] * components[c] for c in COMPONENTS)
    assert 0 <= result <= 100
    assert abs(result - exact) <= 0.5 + 1e-9


@PROPERTY
@given(st.fixed_dictionaries({c: ratios for c in COMPONENTS}),
       st.sampled_from(COMPONENTS), ratios)
def test_score_is_monotone_in_each_component(
    components: dict[str, float], component: str, bump: float
) -> None:
    weights = scoring.DEFAULT_WEIGHTS
    higher = {**components, component: max(components[component], bump)}
    assert scoring.score(higher, weights) >= scoring.score(components, weights)


# -- components ------------------------------------------------------------------------------


def test_adoption_without_any_signal_is_the_seed_floor(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        trust = load_seed(path)["passport"]["unfragile"]["trust"]
        assert all(v is None for v in trust["community"].values())
        floor = scoring.adoption("model", trust["community"])
        assert floor.value == trust["rank_breakdown"]["adoption"]
        assert floor.explanation


def test_adoption_reaches_one_at_the_full_marks_count() -> None:
    scale = scoring.ADOPTION_SCALES["default"]["stars"]
    assert scoring.adoption("framework", {"stars": scale}).value == 1.0
    assert scoring.adoption("framework", {"stars": scale * 10}).value == 1.0


@PROPERTY
@given(st.sampled_from(["model", "mcp", "dataset", "framework", "api"]),
       st.dictionaries(
           st.sampled_from(["stars", "forks", "weekly_downloads", "model_downloads",
                            "model_likes"]),
           st.one_of(st.none(), counts)))
def test_declared_adoption_counts_only_for_a_verified_builder(
    artifact_type: str, declared: dict[str, int | None]
) -> None:
    verified = scoring.declared_adoption(artifact_type, declared, verified=True)
    unverified = scoring.declared_adoption(artifact_type, declared, verified=False)
    assert verified.value == scoring.adoption(artifact_type, declared).value
    # Unverified: exactly what declaring nothing gives (the floor), never more, never less.
    assert unverified.value == scoring.adoption(artifact_type, {}).value == scoring.ADOPTION_FLOOR
    assert unverified.value <= verified.value
    declared_any = any(v is not None for v in declared.values())
    assert (scoring.NOT_COUNTED in unverified.explanation) == declared_any


def test_declared_adoption_explanations_name_the_counts() -> None:
    unverified = scoring.declared_adoption("api", {"stars": 120, "forks": None}, verified=False)
    assert unverified.explanation == (
        "declared by an unverified builder: not counted until verified (stars=120); with no "
        "counted signal: the floor")
    verified = scoring.declared_adoption("api", {"stars": 120, "forks": None}, verified=True)
    assert "stars=120" in verified.explanation and "verified builder" in verified.explanation
    nothing = scoring.declared_adoption("api", {"stars": None}, verified=False)
    assert nothing == scoring.adoption("api", {})
    assert "verified" in scoring.COMPONENT_FORMULAS["adoption"]


@PROPERTY
@given(st.sampled_from(["model", "mcp", "dataset", "framework", "api"]),
       st.sampled_from(["stars", "forks", "weekly_downloads", "model_downloads", "model_likes"]),
       counts, counts)
def test_adoption_is_in_range_and_never_lower_with_more(
    artifact_type: str, signal: str, a: int, b: int
) -> None:
    low, high = sorted((a, b))
    fewer = scoring.adoption(artifact_type, {signal: low, "stars": 10})
    more = scoring.adoption(artifact_type, {signal: high, "stars": 10})
    assert 0 <= fewer.value <= more.value <= 1
    assert fewer.explanation and more.explanation


@PROPERTY
@given(st.integers(min_value=0, max_value=20_000), st.integers(min_value=0, max_value=20_000))
def test_freshness_is_in_range_and_never_higher_when_older(a: int, b: int) -> None:
    newer_days, older_days = sorted((a, b))
    newer = scoring.freshness(FIXED_NOW - timedelta(days=newer_days), FIXED_NOW)
    older = scoring.freshness(FIXED_NOW - timedelta(days=older_days), FIXED_NOW)
    assert 0 <= older.value <= newer.value <= 1
    assert older.explanation


def test_freshness_halves_every_half_life() -> None:
    half = timedelta(days=scoring.FRESHNESS_HALF_LIFE_DAYS)
    assert scoring.freshness(FIXED_NOW, FIXED_NOW).value == 1.0
    assert scoring.freshness(FIXED_NOW - half, FIXED_NOW).value == 0.5
    assert scoring.freshness(FIXED_NOW - 2 * half, FIXED_NOW).value == 0.25
    # An update date in the future does not earn more than full marks.
    assert scoring.freshness(FIXED_NOW + half, FIXED_NOW).value == 1.0


@PROPERTY
@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=40))
def test_match_graph_is_higher_with_more_successes(successes: int, failures: int) -> None:
    reports = successes + failures + 1
    fewer = scoring.match_graph(successes, reports)
    more = scoring.match_graph(successes + 1, reports)
    assert 0 <= fewer.value < more.value <= 1
    assert fewer.explanation


@PROPERTY
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_match_graph_and_confidence_stay_in_range(successes: int, extra: int) -> None:
    reports = successes + extra
    assert 0 <= scoring.match_graph(successes, reports).value <= 1
    assert 0 <= scoring.capability_confidence(successes, reports) <= 1


def test_match_graph_moves_from_the_prior_towards_the_observed_rate() -> None:
    assert scoring.match_graph(0, 0).value == 0.25
    assert scoring.match_graph(96, 96).value == 0.97  # (1 + 96) / (4 + 96)
    assert scoring.match_graph(0, 96).value == 0.01
    assert scoring.capability_confidence(0, 0) == 0.5
    assert scoring.capability_confidence(6, 6) == 0.88  # 7/8 = 0.875, half up


@PROPERTY
@given(st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=500))
def test_ecosystem_is_in_range_and_never_lower_with_more_references(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert 0 <= scoring.ecosystem(low, 0).value <= scoring.ecosystem(high, 0).value <= 1
    assert scoring.ecosystem(0, low).value <= scoring.ecosystem(0, high).value
    assert scoring.ecosystem(low, 0).explanation


def test_ecosystem_is_zero_without_references_and_one_at_full_marks() -> None:
    assert scoring.ecosystem(0, 0).value == 0
    assert scoring.ecosystem(scoring.ECOSYSTEM_FULL, 0).value == 1.0


def test_every_component_has_a_published_formula() -> None:
    assert set(scoring.COMPONENT_FORMULAS) == set(COMPONENTS)
    assert all(text.strip() for text in scoring.COMPONENT_FORMULAS.values())
