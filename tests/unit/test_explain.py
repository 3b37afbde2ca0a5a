"""Explanations (search/explain.py): sentences built only from words the intent and the
capability share, and the comparison with the runner-up."""

from __future__ import annotations

from typing import Any

import pytest

from capgraph.search.explain import coverage, matched_terms, vs_alternative, why_this_matches

CAP: dict[str, Any] = {
    "name": "Invoice table extraction",
    "description": "Finds the line-item tables in scanned invoices and returns them as rows.",
    "intents": ["extract line items from invoices", "digitise receipts"],
    "best_for": ["accounts payable teams"],
    "input_types": ["PDF", "scanned image"],
    "output_types": ["CSV"],
}


def test_terms_match_by_a_crude_stem_in_query_order() -> None:
    assert matched_terms(["invoice", "tables", "csv", "weather"], "Invoices table: CSV") == \
        ["invoice", "tables", "csv"]
    assert matched_terms(["extraction"], "we extract things") == ["extraction"]  # "extra"
    assert matched_terms(["cat"], "category") == []  # short words must match whole


@pytest.mark.parametrize(("intent", "expected"), [
    ("extract tables from invoices", 1.0),
    ("extract tables from invoices as weather", 0.75),
    ("bake a cake", 0.0),
    ("the of and", 0.0),  # no content words at all
])
def test_coverage_is_the_share_of_intent_words_found(intent: str, expected: float) -> None:
    assert coverage(intent, CAP) == pytest.approx(expected)


def test_why_this_matches_names_each_field_and_only_shared_words() -> None:
    reasons = why_this_matches("extract invoice tables to csv for payable teams", CAP)
    by_field = {r.split(" shares ")[0]: r for r in reasons if " shares " in r}
    assert set(by_field) == {"name", "intents", "best for", "description",
                             "inputs and outputs"}
    assert by_field["name"] == \
        "name shares 'extract', 'invoice', 'tables': \"Invoice table extraction\""
    assert "'csv'" in by_field["inputs and outputs"] and '"CSV"' in by_field["inputs and outputs"]
    assert by_field["best for"] == \
        "best for shares 'payable', 'teams': \"accounts payable teams\""
    assert not [r for r in reasons if r.startswith("not mentioned")]


def test_why_this_matches_says_what_is_missing_and_invents_nothing() -> None:
    reasons = why_this_matches("extract invoice totals in euros", CAP)
    assert reasons[-1] == "not mentioned: 'totals', 'euros'"
    assert all("euros" not in r for r in reasons[:-1])
    assert why_this_matches("bake a cake", CAP) == ["not mentioned: 'bake', 'cake'"]


def test_long_texts_are_cut_in_quotes() -> None:
    cap = {**CAP, "description": "invoice " + "word " * 60}
    reason = next(r for r in why_this_matches("invoice", cap) if r.startswith("description"))
    quoted = reason.split(": ", 1)[1]
    assert len(quoted) == 122 and quoted.endswith('..."')


def test_vs_alternative_compares_match_and_rank() -> None:
    assert vs_alternative("A", 0.91, 60, "B", 0.75, 40) == \
        "A ranks above B: match 0.72 vs 0.64; higher UnfragileRank (60 vs 40)"
    assert vs_alternative("A", 0.91, 30, "B", 0.90, 70) == \
        "A ranks above B: match 0.72 vs 0.72; lower UnfragileRank (30 vs 70)"
    assert vs_alternative("A", 0.9, 50, "B", 0.8, 50) == "A ranks above B: match 0.72 vs 0.66"
    assert vs_alternative("A", 0.9, 50, None, 0.0, 0) == \
        "no other capability in the registry matches this intent"


def test_vs_alternative_names_a_difference_in_sourced_adoption() -> None:
    same = vs_alternative("A", 0.7, 40, "B", 0.7, 40, top_adoption=0.024, alt_adoption=0.0)
    assert same == ("A ranks above B: match 0.60 vs 0.60; more sourced adoption "
                    "(prior +0.024 vs +0.000)")
    assert "adoption" not in vs_alternative("A", 0.7, 40, "B", 0.6, 40)
