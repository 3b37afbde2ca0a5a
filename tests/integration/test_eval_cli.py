"""``capgraph eval`` against hand-computed numbers on a small corpus and against the MetaTool
dev set; ``capgraph search`` and ``capgraph resolve`` on a data directory."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capgraph.cli.evaluate import load_results, run_queries
from capgraph.search.calibration import FEATURES
from tests.conftest import SHARED
from tests.integration.conftest import invoke
from tests.searchkit import copy_demo

METATOOL = SHARED / "eval" / "metatool"


def _cap(name: str, intent: str, description: str) -> dict[str, Any]:
    return {"name": name, "description": description, "intents": [intent]}


CORPUS = [
    {"slug": "sky-cast", "name": "Sky Cast", "type": "api", "url": "https://sky.example",
     "description": "Weather data for any place on earth.", "tags": ["weather"],
     "capabilities": [
         _cap("weather forecasting", "get the weather forecast for a city",
              "Ten-day weather forecasts for a city: temperature, rain and wind."),
         _cap("storm alerts", "warn me about severe storms",
              "Pushes warnings when severe storms, hail or floods are expected nearby.")]},
    {"slug": "sky-mirror", "name": "Sky Mirror", "type": "api", "url": None,
     "description": "Another weather service.", "tags": [],
     "capabilities": [
         _cap("weather forecasting", "get the weather forecast for a city",
              "Ten-day weather forecasts for a city: temperature, rain and wind."),
         _cap("pollen counts", "check today's pollen count",
              "Daily pollen levels for grass, trees and weeds, for allergy sufferers.")]},
    {"slug": "lingo", "name": "Lingo", "type": "api", "description": "Languages.",
     "capabilities": [
         _cap("text translation", "translate a paragraph into German",
              "Translates text between fifty languages, keeping the formatting."),
         _cap("language detection", "which language is this sentence in",
              "Detects the language a piece of text is written in.")]},
    {"slug": "chef-bot", "name": "Chef Bot", "type": "agent", "description": "Cooking help.",
     "capabilities": [
         _cap("recipe suggestions", "suggest a recipe with leftover rice",
              "Suggests recipes from the ingredients you already have at home."),
         _cap("meal planning", "plan my meals for the week",
              "Plans a week of balanced meals and writes the shopping list.")]},
    {"slug": "Tune-Finder", "name": "Tune Finder", "type": "app", "description": "Music.",
     "capabilities": [
         _cap("song identification", "identify the song that is playing",
              "Listens to a few seconds of music and names the song and the artist."),
         _cap("lyrics lookup", "show me the lyrics of this song",
              "Finds the lyrics of a song by its title or by a line of it.")]},
    {"slug": "parcel-track", "name": "Parcel Track", "type": "api", "description": "Parcels.",
     "capabilities": [
         _cap("package tracking", "where is my parcel",
              "Tracks a parcel across carriers from its tracking number."),
         _cap("delivery estimates", "when will my package arrive",
              "Estimates the delivery date of a shipment from its route.")]},
]

QUERIES = [
    {"id": "q1", "query": "warn me about severe storms", "relevant": ["sky-cast"],
     "relevant_capabilities": ["sky-cast#storm alerts"]},
    {"id": "q2", "query": "translate a paragraph into German", "relevant": ["lingo"],
     "relevant_capabilities": ["lingo#text translation"]},
    {"id": "q3", "query": "identify the song that is playing", "relevant": ["Tune-Finder"],
     "relevant_capabilities": ["Tune-Finder#song identification"]},
    {"id": "q4", "query": "where is my parcel", "relevant": ["parcel-track"]},
    {"id": "q5", "query": "get the weather forecast for a city",
     "relevant": ["sky-cast", "sky-mirror"],
     "relevant_capabilities": ["sky-cast#weather forecasting",
                               "sky-mirror#weather forecasting"]},
    {"id": "q6", "query": "suggest a recipe with leftover rice", "relevant": ["no-such-tool"]},
]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _eval(tmp: Path, *args: str) -> dict[str, Any]:
    result = invoke(tmp, "eval", *args, "--json")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout  # one JSON object, nothing else on stdout
    data: dict[str, Any] = json.loads(lines[0])
    return data


def _check_shape(result: dict[str, Any]) -> None:
    for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10", "ece"):
        assert 0 <= result[key] <= 1, key
    assert result["recall@1"] <= result["recall@5"]
    latency = result["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"]


def test_eval_of_a_small_corpus_matches_hand_computed_numbers(tmp_path: Path) -> None:
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    queries = _write_jsonl(tmp_path / "queries.jsonl", QUERIES)
    result = _eval(tmp_path, "--corpus", str(corpus), "--queries", str(queries))
    _check_shape(result)
    assert result["queries"] == 6
    # q1-q4: the one relevant artifact at rank 1 (every metric 1). q5: both relevant
    # artifacts at ranks 1 and 2, in either order (R@1 1/2, the rest 1). q6: the relevant
    # artifact is not in the corpus (every metric 0).
    expected = {"recall@1": 4.5 / 6, "recall@5": 5 / 6, "mrr@10": 5 / 6, "ndcg@10": 5 / 6}
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-4), key
    # Capability level, over the four labeled queries (q1, q2, q3, q5). q5 ranks
    # <first>#weather forecasting, <first>#<its other capability>, <second>#weather
    # forecasting: relevant at ranks 1 and 3 of two relevant.
    q5_ndcg = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert result["capability"] == pytest.approx(
        {"recall@1": 3.5 / 4, "recall@5": 1.0, "mrr@10": 1.0, "ndcg@10": (3 + q5_ndcg) / 4},
        abs=1e-4)


def test_eval_reports_progress_on_stderr_as_lines_when_not_a_terminal(tmp_path: Path) -> None:
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    queries = _write_jsonl(tmp_path / "queries.jsonl", QUERIES)
    result = invoke(tmp_path, "eval", "--corpus", str(corpus), "--queries", str(queries),
                    "--json", "--keyword-only")
    progress = [line for line in result.stderr.splitlines() if line.startswith("queries: ")]
    assert [line.split(" (")[0] for line in progress] == [
        f"queries: {i}/6" for i in range(1, 7)]  # a line per tenth: each of 6 queries
    assert progress[-1].startswith("queries: 6/6 (100%")
    assert json.loads(result.stdout)["queries"] == 6  # stdout stays one JSON object


def test_eval_without_capability_labels_has_no_capability_block(tmp_path: Path) -> None:
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    unlabeled = [{k: v for k, v in q.items() if k != "relevant_capabilities"}
                 for q in QUERIES[:4]]
    queries = _write_jsonl(tmp_path / "queries.jsonl", unlabeled)
    result = _eval(tmp_path, "--corpus", str(corpus), "--queries", str(queries),
                   "--sample", "2")
    assert "capability" not in result
    assert result["queries"] == 2
    assert (result["recall@1"], result["mrr@10"]) == (1.0, 1.0)


def test_eval_prints_a_readable_table_without_json(tmp_path: Path) -> None:
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    queries = _write_jsonl(tmp_path / "queries.jsonl", QUERIES)
    out = invoke(tmp_path, "eval", "--corpus", str(corpus), "--queries", str(queries),
                 "--keyword-only").stdout
    for label in ("recall@1", "recall@5", "mrr@10", "ndcg@10", "ece", "latency",
                  "capability recall@1", "queries    6"):
        assert label in out


def test_eval_on_the_metatool_dev_set_beats_the_bm25_floor(tmp_path: Path) -> None:
    """300 evenly spaced single-tool queries: far above BM25's R@1 0.356 and nDCG@10 0.469."""
    result = _eval(tmp_path, "--corpus", str(METATOOL / "corpus.jsonl"),
                   "--queries", str(METATOOL / "queries.jsonl"),
                   "--subset", "single", "--sample", "300")
    _check_shape(result)
    assert result["queries"] == 300
    assert result["recall@1"] > 0.45
    assert result["ndcg@10"] > 0.6
    assert result["ece"] < 0.15


def test_eval_split_by_tool_reports_both_sides_and_a_paired_difference(tmp_path: Path) -> None:
    """The dev set split by tool, keyword side only (fast): every number with an interval;
    a run compared with itself differs by exactly 0."""
    args = ("eval", "--corpus", str(METATOOL / "corpus.jsonl"), "--queries",
            str(METATOOL / "queries.jsonl"), "--subset", "single", "--sample", "200",
            "--keyword-only", "--split", "tools", "--json")
    saved = tmp_path / "run.jsonl"
    first = json.loads(invoke(tmp_path, *args, "--save", str(saved)).stdout)
    assert len(saved.read_text().splitlines()) == 200
    # every answered query records what the confidence model saw (bench/calibrate.py --from)
    rows = [json.loads(line)["metrics"] for line in saved.read_text().splitlines()]
    seen = [row for row in rows if any(k.startswith("feature ") for k in row)]
    assert len(seen) > 150 and all({f"feature {n}" for n in FEATURES} <= set(row)
                                   for row in seen)
    # and which answer the resolve put first: a relevant tool exactly when it was correct
    loaded = load_results(saved)
    named = [r for r in loaded if r.top is not None]
    assert len(named) > 190
    assert all((r.top in r.tools) == (r.metrics["correct"] > 0) for r in named)
    assert any(r.top not in r.tools for r in named)  # a wrong answer is named too
    assert first["all"]["queries"] == 200 == first["tune"]["queries"] + first["held-out"][
        "queries"]  # single-tool queries are never on both sides
    assert 0 < first["held-out"]["queries"] < first["tune"]["queries"]
    for side in ("all", "tune", "held-out"):
        for metric in ("recall@1", "recall@5", "mrr@10", "ndcg@10"):
            value, low, high = first[side][metric]
            assert 0 <= low <= value <= high <= 1, (side, metric)
    again = json.loads(invoke(tmp_path, *args, "--baseline", str(saved)).stdout)
    assert again["held-out"]["delta recall@1"] == [0.0, 0.0, 0.0]
    other = json.loads(invoke(tmp_path, *args[:-1], "--seed", "7", "--json").stdout)
    assert other["held-out"]["queries"] != first["held-out"]["queries"]  # other tools
    table = invoke(tmp_path, *args[:-1]).stdout
    assert "held-out:" in table and "recall@1" in table and "[" in table


def test_eval_with_outcomes_reports_every_answer_and_only_later_resolves_see_it(
        tmp_path: Path) -> None:
    """``--outcomes SEED``: the queries in a seeded shuffled order, each confident answer's
    outcome reported through the feedback path after it; a query never sees its own."""
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    asked = [{**q, "id": f"{q['id']}-{n}"} for n in range(3) for q in QUERIES]
    queries = _write_jsonl(tmp_path / "queries.jsonl", asked)
    plain, _ = run_queries(corpus, queries)
    assert all(r.metrics["feature outcomes"] == 0.0 for r in plain)
    fed, _ = run_queries(corpus, queries, outcomes=0)
    order = [r.query_id for r in fed]
    assert sorted(order) == sorted(q["id"] for q in asked) and order != [q["id"] for q in asked]
    assert [r.query_id for r in run_queries(corpus, queries, outcomes=0)[0]] == order
    assert fed[0].metrics["feature outcomes"] == 0.0  # nothing reported before the first
    by_query: dict[str, list[float]] = {}
    for r in fed:
        by_query.setdefault(r.query_id.split("-")[0], []).append(r.metrics["feature outcomes"])
    # q2 is always answered right (Lingo answers nothing else), q6 always wrong (its tool is
    # not in the corpus; Chef Bot answers nothing else): each one's first asking sees no
    # record, the later ones see their earlier outcomes.
    for query, sign in (("q2", 1), ("q6", -1)):
        first, *later = by_query[query]
        assert first == 0.0
        assert all(v * sign > 0 for v in later), (query, by_query[query])


# -- capgraph search / resolve on a data dir -------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield copy_demo(tmp_path_factory.mktemp("cli") / "data")


def test_capgraph_search_prints_ranked_matches(data_dir: Path) -> None:
    out = invoke(data_dir, "search", "convert", "PDF", "documents", "to", "markdown").stdout
    lines = out.splitlines()
    assert lines[0].startswith("1. Docling (docling, repo) match ")
    assert "UnfragileRank" in lines[0]
    assert any("capability://" in line for line in lines)
    assert sum(line[:2] in {f"{i}." for i in range(1, 10)} for line in lines) == 5


def test_capgraph_search_json_is_the_api_answer(data_dir: Path) -> None:
    out = invoke(data_dir, "search", "--json", "--limit", "2", "--type", "mcp",
                 "fetch a web page").stdout
    answer = json.loads(out)
    assert answer["query"] == "fetch a web page"
    assert len(answer["matches"]) == 2
    assert answer["matches"][0]["artifact"]["slug"] == "mcp-server-fetch"
    assert {m["artifact"]["type"] for m in answer["matches"]} == {"mcp"}
    assert all(m["matchRecordId"] for m in answer["matches"])


def test_capgraph_search_refuses_a_bad_query(data_dir: Path) -> None:
    result = invoke(data_dir, "search", "x", check=False)
    assert result.returncode == 1
    assert "2 to 500" in result.stderr


def test_capgraph_resolve_explains_and_shows_the_invocation(data_dir: Path) -> None:
    out = invoke(data_dir, "resolve", "orchestrate a team of role-playing AI agents").stdout
    assert out.startswith("1. CrewAI (crewai): ")
    assert "confidence" in out and "invocation:" in out
    assert "pip install crewai" in out


def test_capgraph_resolve_json_is_the_api_answer(data_dir: Path) -> None:
    out = invoke(data_dir, "resolve", "--json", "--limit", "2",
                 "let my agent read and write files in a local folder").stdout
    answer = json.loads(out)
    assert set(answer) >= {"resolved", "resolvedAt", "resolveId", "resolverVersion"}
    top = answer["resolved"][0]
    assert top["artifact"]["slug"] == "mcp-server-filesystem"
    assert "mcpServers" in json.loads(top["invocation"]["snippet"])
    assert top["callbackToken"].startswith("v1.")


def test_capgraph_resolve_says_when_nothing_fits(data_dir: Path) -> None:
    out = invoke(data_dir, "resolve", "bake a chocolate cake with sprinkles").stdout
    assert out.startswith("no confident match (confidence 0.")
    assert "maybe " in out
    strict = invoke(data_dir, "resolve", "--risk", "strict", "--json",
                    "convert PDF documents to markdown").stdout
    assert json.loads(strict)["resolved"] == []  # nothing in the demo is verified
