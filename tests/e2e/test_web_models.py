"""The web layer's pure parts, without a server: pair URLs, similarity, version diffs, the
chart, markdown escaping and the API page model."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from capgraph.core import scoring
from capgraph.http.web.apidocs import api_sections
from capgraph.http.web.chart import score_chart
from capgraph.http.web.compare import split_pair
from capgraph.http.web.history import diff_bodies, history
from capgraph.http.web.render import md_escape
from capgraph.http.web.similarity import (
    Candidate,
    CapabilitySpace,
    align,
    align_vectors,
    closest,
    jaccard,
    stem,
    tokens,
)
from capgraph.http.web.views import Page, with_query
from capgraph.ports import StoredVersion
from tests.conftest import SEEDS


def _seed_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SEEDS / "qwen-qwen3-coder.passport.json").read_text())[
        "passport"]["unfragile"]
    return body


@pytest.mark.parametrize(("pair", "expected"), [
    ("a-vs-b", ("a", "b")),
    ("qwen-qwen3.5-flash-02-23-vs-qwen-qwen3-coder",
     ("qwen-qwen3.5-flash-02-23", "qwen-qwen3-coder")),
    ("x-vs-y-vs-z", ("x-vs-y", "z")),  # a slug may itself contain -vs-
    ("a-vs-unknown", None),
    ("a", None),
    ("-vs-b", None),
])  # fmt: skip
def test_split_pair_finds_two_known_slugs(pair: str, expected: tuple[str, str] | None) -> None:
    known = {"a", "b", "x-vs-y", "z", "qwen-qwen3.5-flash-02-23", "qwen-qwen3-coder"}
    assert split_pair(pair, known) == expected


def test_tokens_drop_stop_words_and_stem() -> None:
    assert tokens("Editing the files and edits of a file") == {"edit", "fil"}
    assert stem("coding") == stem("code") == "cod"
    assert stem("libraries") == "library"
    assert stem("class") == "class"


def test_jaccard() -> None:
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0


def test_align_takes_the_best_pairs_first_and_keeps_the_rest() -> None:
    left = ["read files", "send email", "draw charts"]
    right = ["email sending", "file reading from disk"]
    rows = align(left, right, left_text=left, right_text=right)
    assert [(r.left, r.right) for r in rows] == [
        ("send email", "email sending"),
        ("read files", "file reading from disk"),
        ("draw charts", None),
    ]
    assert rows[0].similarity == 1.0
    assert rows[2].similarity == 0.0


def test_closest_excludes_itself_and_unrelated_and_breaks_ties_by_slug() -> None:
    def cand(slug: str, cats: set[str], words: str) -> Candidate:
        return Candidate(slug, frozenset(cats), tokens(words))

    target = cand("t", {"search-retrieval"}, "web search api")
    others = [
        target,
        cand("b", {"search-retrieval"}, "web search"),
        cand("a", {"search-retrieval"}, "web search"),
        cand("z", {"image-visual"}, "draw pictures"),
        cand("c", {"search-retrieval", "memory-knowledge"}, "vector store"),
    ]
    found = closest(target, others, limit=3)
    assert [c.slug for c, _ in found] == ["a", "b", "c"]
    assert found[0][1] == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_diff_names_capability_and_trust_changes() -> None:
    old = _seed_body()
    new = copy.deepcopy(old)
    removed = new["capabilities"].pop(1)
    new["capabilities"][0]["limitations"].append("a new limit")
    added = {**copy.deepcopy(removed), "id": "x__cap_99", "name": "brand new capability"}
    new["capabilities"].append(added)
    new["trust"]["data_access_risk"] = "high"
    new["trust"]["permissions"] = new["trust"]["permissions"][1:]
    new["trust"]["score"] = old["trust"]["score"] + 3
    new["trust"]["rank_breakdown"]["quality"] = 0.6
    changes = diff_bodies(old, new)
    assert "added capability “brand new capability”" in changes
    assert f"removed capability “{removed['name']}”" in changes
    assert f"changed capability “{old['capabilities'][0]['name']}”: limitations" in changes
    assert "data access risk: low → high" in changes
    assert "permissions: 1 removed" in changes
    assert "quality component: 0.49 → 0.6" in changes
    assert f"score: {old['trust']['score']} → {old['trust']['score'] + 3}" in changes
    assert diff_bodies(old, copy.deepcopy(old)) == []


def _stored(version: int, body: dict[str, Any], kind: str = "manifest") -> StoredVersion:
    passport = json.dumps({"unfragile": body, "signature": "", "version": version}).encode()
    return StoredVersion(
        slug="s", version=version, name="S", artifact_type="model", score=body["trust"]["score"],
        content_hash="h", source_kind=kind, source="", passport=passport, key_id="k",
        created_at=f"2026-01-0{version}T00:00:00.000Z", capability_numbers={},
        log_index=version - 1,
    )


def test_history_is_newest_first_with_deltas() -> None:
    one = _seed_body()
    two = copy.deepcopy(one)
    two["trust"]["score"] = one["trust"]["score"] - 2
    entries = history([_stored(1, one, "import"), _stored(2, two)])
    assert [e.version for e in entries] == [2, 1]
    assert entries[0].score_delta == -2
    assert entries[0].changes == [f"score: {one['trust']['score']} → {two['trust']['score']}"]
    assert entries[1].score_delta is None
    assert entries[1].changes == [
        "first version: imported from another registry's passport"]


def test_chart_fills_add_up_to_the_score() -> None:
    rb = _seed_body()["trust"]["rank_breakdown"]
    chart = score_chart(rb, rb["weights"], score=25)
    assert len(chart.bars) == 5
    assert round(chart.total, 1) == 25.2  # the seed's 25.2 -> 25
    assert scoring.score(rb, rb["weights"]) == 25
    widest = max(chart.bars, key=lambda b: b.weight)
    assert all(b.track <= widest.track and b.fill <= b.track for b in chart.bars)
    assert "UnfragileRank 25 out of 100" in chart.summary


def test_markdown_escaping_keeps_tables_and_links_intact() -> None:
    assert md_escape("a | b [c](d) *e* <f>\nnext") == r"a \| b \[c\](d) \*e\* \<f\> next"


def test_pages_know_their_mirror() -> None:
    assert Page("t", "/").mirror == "/agent/"
    assert Page("t", with_query("/", q="pdf to text", type="")).mirror == "/agent/?q=pdf+to+text"
    assert Page("t", "/compare/a-vs-b").mirror == "/agent/compare/a-vs-b"


def test_api_sections_read_openapi() -> None:
    openapi = {"paths": {
        "/api/v1/x": {"get": {"tags": ["things"], "summary": "Get x", "parameters": [
            {"name": "n", "in": "query", "required": False,
             "schema": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}},
        ]}, "post": {"summary": "Make x", "requestBody": {"content": {"application/json": {}}}}},
    }}  # fmt: skip
    sections = api_sections(openapi)
    assert [s.tag for s in sections] == ["things", "other"]
    get = sections[0].endpoints[0]
    assert (get.method, get.path, get.summary) == ("GET", "/api/v1/x", "Get x")
    assert get.parameters[0].kind == "integer (≥ 1)"
    assert sections[1].endpoints[0].body == ["application/json"]


def test_align_vectors_pairs_by_cosine_one_to_one_above_the_threshold() -> None:
    unit = np.eye(3, dtype=np.float32)
    left = ["tables", "ocr", "audio"]
    right = ["ocr'", "tables'"]
    near = np.array([[0.1, 0.995, 0], [0.99, 0.141, 0]], dtype=np.float32)  # ocr', tables'
    rows = align_vectors(left, right, left_vectors=unit, right_vectors=near, threshold=0.45)
    assert [(r.left, r.right) for r in rows] == [
        ("ocr", "ocr'"), ("tables", "tables'"), ("audio", None)]
    assert rows[0].similarity == pytest.approx(0.995, abs=1e-3)


def test_capability_space_scores_how_much_of_the_target_each_artifact_covers() -> None:
    x, y, z = np.eye(3, dtype=np.float32)
    space = CapabilitySpace({
        "target": np.stack([x, y]),
        "both": np.stack([z, y, x]),  # offers both of target's capabilities
        "half": np.stack([x]),  # offers one
        "other": np.stack([z]),  # offers none
    })
    assert space.closest("target", limit=3) == [("both", 1.0), ("half", 0.5)]
    assert space.closest("missing") == [] and not CapabilitySpace({})
