"""The ecosystem component, and so the score, does not depend on the order artifacts arrived
in (issue 14, point 4): a partner's arrival re-issues the artifacts whose counts it changes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.registry import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from capgraph.storage.sqlite import SQLiteStore
from tests.conftest import DEMO, FIXED_NOW

# Docling names langchain, llamaindex and haystack; paddleocr names docling; haystack names
# all-minilm-l6-v2, which none of these name back.
PARTNERS = ["docling", "paddleocr", "langchain", "haystack", "all-minilm-l6-v2"]


@contextmanager
def fresh_registry(where: Path, backend: str) -> Iterator[Registry]:
    store = MemoryStore() if backend == "memory" else SQLiteStore(where / "cg.db")
    try:
        yield assemble_registry(
            store=store, keys=FileKeyStore(where / "keys"), registry_name="capgraph-test",
            public_url="http://registry.test", clock=lambda: FIXED_NOW,
        )
    finally:
        store.close()


def _text(slug: str) -> str:
    return (DEMO / f"{slug}.yml").read_text(encoding="utf-8")


def _state(registry: Registry, slugs: Sequence[str]) -> dict[str, tuple[int, float]]:
    out = {}
    for slug in slugs:
        body = json.loads(registry.passport(slug).passport)["unfragile"]
        out[slug] = (body["trust"]["score"], body["trust"]["rank_breakdown"]["ecosystem"])
    return out


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_the_order_of_arrival_does_not_change_any_score(tmp_path: Path, backend: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with fresh_registry(tmp_path / "a", backend) as forward, \
            fresh_registry(tmp_path / "b", backend) as backward:
        for slug in PARTNERS:
            forward.publish(_text(slug), hint="yaml")
        for slug in reversed(PARTNERS):
            backward.publish(_text(slug), hint="yaml")
        ahead, behind = _state(forward, PARTNERS), _state(backward, PARTNERS)
    assert ahead == behind
    # Not trivially equal: docling counts one artifact naming it and three it names.
    assert ahead["docling"][1] > 0 and ahead["docling"][1] != ahead["all-minilm-l6-v2"][1]


def test_a_partner_arriving_later_reissues_a_logged_version(registry: Registry) -> None:
    first = registry.publish(_text("docling"), hint="yaml").stored
    registry.publish(_text("paddleocr"), hint="yaml")  # names docling
    history = registry.versions("docling")
    assert [v.version for v in history] == [1, 2]
    latest = json.loads(history[-1].passport)
    assert latest["provenance"]["trust.ecosystem"].startswith("re-issued after paddleocr")
    assert latest["unfragile"]["trust"]["rank_breakdown"]["ecosystem"] > \
        json.loads(first.passport)["unfragile"]["trust"]["rank_breakdown"]["ecosystem"]
    assert history[-1].content_hash == first.content_hash  # the same manifest, re-scored
    assert history[-1].log_index > first.log_index  # in the transparency log like any other


def test_republishing_an_identical_file_changes_no_score(registry: Registry) -> None:
    for slug in ["docling", "langchain", "paddleocr"]:
        registry.publish(_text(slug), hint="yaml")
    before = _state(registry, ["docling", "langchain", "paddleocr"])
    again = registry.publish(_text("docling"), hint="yaml")
    assert again.created is False
    assert _state(registry, ["docling", "langchain", "paddleocr"]) == before


def test_an_unchanged_ecosystem_signs_nothing_new(registry: Registry) -> None:
    registry.publish(_text("all-minilm-l6-v2"), hint="yaml")
    registry.publish(_text("mmlu"), hint="yaml")  # neither names the other
    assert len(registry.versions("all-minilm-l6-v2")) == 1
