"""The closed vocabularies against PROTOCOL.md and the seeds, and category inference."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core import taxonomy
from tests.conftest import ROOT, SHARED
from tests.unit.factories import load_seed


def _protocol_list(label: str) -> list[str]:
    """The comma-separated list PROTOCOL.md A.2 gives after ``label``."""
    text = " ".join((SHARED / "PROTOCOL.md").read_text(encoding="utf-8").split())
    start = text.index(label) + len(label)
    colon = text.index(":", start)
    end = text.index(".", colon)
    return [item.strip() for item in text[colon + 1:end].split(",")]


def test_artifact_types_are_the_19_the_protocol_lists() -> None:
    written = _protocol_list("Artifact types (19)")
    assert len(written) == 19
    assert list(taxonomy.ARTIFACT_TYPES) == written


def test_pricing_models_are_the_ones_the_protocol_lists() -> None:
    assert set(taxonomy.PRICING_MODELS) == set(_protocol_list("Pricing models seen"))


def test_capability_categories_include_every_one_the_protocol_has_seen() -> None:
    seen = _protocol_list("Capability categories seen")
    assert len(seen) == 11
    assert set(seen) <= set(taxonomy.CAPABILITY_CATEGORIES)


def test_capability_categories_are_the_ones_manifest_md_documents() -> None:
    text = " ".join((ROOT / "docs" / "MANIFEST.md").read_text(encoding="utf-8").split())
    start = text.index("first one is primary, it names the `capability://` URI):")
    listed = text[start:].split(":", 2)[2].split(".")[0]
    assert [c.strip() for c in listed.split(",")] == list(taxonomy.CAPABILITY_CATEGORIES)


def test_every_seed_capability_category_is_in_the_vocabulary(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        body = load_seed(path)["passport"]["unfragile"]
        assert body["artifact"]["type"] in taxonomy.ARTIFACT_TYPES
        assert body["artifact"]["pricing"]["model"] in taxonomy.PRICING_MODELS
        assert body["trust"]["data_access_risk"] in taxonomy.RISK_LEVELS
        for cap in body["capabilities"]:
            assert set(cap["categories"]) <= set(taxonomy.CAPABILITY_CATEGORIES)


def test_words_keep_hyphenated_compounds_whole_and_in_parts() -> None:
    assert taxonomy.words("Multi-Agent crews, 128k tokens!") == {
        "multi-agent", "multi", "agent", "crews", "128k", "tokens"}


def test_inference_uses_keywords_and_counts_the_name_twice() -> None:
    cats = taxonomy.infer_capability_categories(
        "speech transcription", "Turns audio into text with timestamps.", ["transcribe a call"])
    assert cats[0] == "audio-speech"
    cats = taxonomy.infer_capability_categories(
        "semantic search", "Embeds documents and ranks them for a query.", ["find passages"])
    assert cats[0] == "search-retrieval"


def test_text_without_any_keyword_gets_the_default_category() -> None:
    assert taxonomy.infer_capability_categories("zzz", "qqq xxx", []) == ["tool-use-integration"]


def test_inferred_primary_matches_most_seed_primaries(seed_paths: list[Path]) -> None:
    # The keyword rule is a heuristic; it should agree with the seeds' curated primary
    # category for a clear majority of their 18 capabilities.
    agree = total = 0
    for path in seed_paths:
        for cap in load_seed(path)["passport"]["unfragile"]["capabilities"]:
            inferred = taxonomy.infer_capability_categories(
                cap["name"], cap["description"], cap["intents"])
            agree += inferred[0] == cap["categories"][0]
            total += 1
    assert total == 18
    assert agree / total >= 0.5


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=300), st.lists(st.text(max_size=60), max_size=5))
def test_inference_is_deterministic_and_stays_in_the_vocabulary(
    name: str, description: str, intents: list[str]
) -> None:
    first = taxonomy.infer_capability_categories(name, description, intents)
    assert first == taxonomy.infer_capability_categories(name, description, list(intents))
    assert 1 <= len(first) <= 2
    assert len(set(first)) == len(first)
    assert set(first) <= set(taxonomy.CAPABILITY_CATEGORIES)


def test_artifact_categories_are_the_most_frequent_primaries_ties_by_first_seen() -> None:
    caps = [["image-visual", "a"], ["search-retrieval"], ["search-retrieval", "b"],
            ["audio-speech"], ["image-visual"], ["memory-knowledge"]]
    assert taxonomy.infer_artifact_categories(caps) == [
        "image-visual", "search-retrieval", "audio-speech"]
    assert taxonomy.infer_artifact_categories([]) == []


def test_vocabularies_have_no_duplicates_and_slug_like_entries() -> None:
    for vocabulary in (taxonomy.ARTIFACT_TYPES, taxonomy.PRICING_MODELS,
                       taxonomy.CAPABILITY_CATEGORIES, taxonomy.PERMISSION_SCOPES,
                       taxonomy.EXECUTION_PROTOCOLS, taxonomy.AUTH_METHODS):
        assert len(set(vocabulary)) == len(vocabulary)
        assert all(re.fullmatch(r"[a-z0-9_:-]+", v) for v in vocabulary)
