"""Evaluation helpers (search/corpus.py): IR metrics and the calibration error against hand
computations, and corpus lines turned into passport bodies."""

from __future__ import annotations

import math

import pytest

from capgraph.core.passport import PassportBody
from capgraph.search.corpus import body_from_entry, ece, metrics_at

RANKED = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]


@pytest.mark.parametrize(("relevant", "expected"), [
    ({"a"}, {"recall@1": 1.0, "recall@5": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0}),
    ({"c"}, {"recall@1": 0.0, "recall@5": 1.0, "mrr@10": 1 / 3, "ndcg@10": 0.5}),
    ({"f"}, {"recall@1": 0.0, "recall@5": 0.0, "mrr@10": 1 / 6,
             "ndcg@10": 1 / math.log2(7)}),
    ({"a", "e"}, {"recall@1": 0.5, "recall@5": 1.0, "mrr@10": 1.0,
                  "ndcg@10": (1 + 1 / math.log2(6)) / (1 + 1 / math.log2(3))}),
    ({"b", "z"}, {"recall@1": 0.0, "recall@5": 0.5, "mrr@10": 0.5,
                  "ndcg@10": (1 / math.log2(3)) / (1 + 1 / math.log2(3))}),
    ({"k"}, {"recall@1": 0.0, "recall@5": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}),  # rank 11
    ({"z"}, {"recall@1": 0.0, "recall@5": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}),
    (set(), {"recall@1": 0.0, "recall@5": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}),
])
def test_metrics_match_hand_computation(relevant: set[str], expected: dict[str, float]) -> None:
    got = metrics_at(RANKED, relevant)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key


def test_metrics_of_an_empty_ranking_are_zero() -> None:
    assert set(metrics_at([], {"a"}).values()) == {0.0}


def test_ece_matches_hand_computation() -> None:
    confidences = [0.05, 0.15, 0.15, 0.95, 1.0]
    correct = [False, True, False, True, True]
    # bin [0.0, 0.1): one answer, accuracy 0, confidence 0.05   -> 1/5 x 0.05  = 0.01
    # bin [0.1, 0.2): two answers, accuracy 0.5, confidence 0.15 -> 2/5 x 0.35  = 0.14
    # bin [0.9, 1.0]: two answers, accuracy 1, confidence 0.975  -> 2/5 x 0.025 = 0.01
    assert ece(confidences, correct) == pytest.approx(0.16)


def test_ece_bin_edges_and_extremes() -> None:
    assert ece([], []) == 0.0
    assert ece([0.1], [False]) == pytest.approx(0.1)  # 0.1 opens the second bin
    assert ece([1.0, 1.0], [True, True]) == 0.0  # 1.0 belongs to the last bin
    assert ece([0.0, 0.0], [False, False]) == 0.0
    assert ece([0.7] * 10, [True] * 7 + [False] * 3) == pytest.approx(0.0)
    assert ece([0.5, 0.5], [True, True], bins=2) == pytest.approx(0.5)


def test_a_corpus_line_becomes_a_valid_passport_body() -> None:
    entry = {"slug": "Weather_API Pro", "name": "Weather API", "type": "not-a-type",
             "description": "Forecasts.", "categories": ["weather"], "tags": ["chatgpt-plugin"],
             "capabilities": [{"name": "Forecast", "description": "Daily forecasts for cities.",
                               "intents": ["get the forecast"]}] + [{"name": f"c{i}"}
                                                                    for i in range(11)]}
    body = body_from_entry(entry, version="2026-11")
    PassportBody.from_json(body)  # raises on anything off the protocol's shape
    assert body["artifact"]["slug"] == "weather_api-pro"
    assert body["artifact"]["type"] == "api"  # unknown types fall back to api
    ids = [c["id"] for c in body["capabilities"]]
    assert ids == sorted(ids) and ids[:3] == ["weather_api-pro__cap_0",
                                              "weather_api-pro__cap_1",
                                              "weather_api-pro__cap_10"]
    forecast = next(c for c in body["capabilities"] if c["name"] == "Forecast")
    assert forecast["intents"] == ["get the forecast"]
    assert forecast["uri"].startswith("capability://") and forecast["uri"].endswith(".forecast")
    bare = next(c for c in body["capabilities"] if c["name"] == "c3")
    assert bare["description"] == "Forecasts."  # the artifact's description stands in
