"""The compare pages pair capabilities and pick alternatives with the search engine's own
embedding model (issue 14, point 24), on the demo corpus with the real model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from capgraph.registry import Registry
from tests.integration.conftest import InProcess
from tests.searchkit import copy_demo, demo_app
from tests.unit.factories import capability, manifest

_ROW = re.compile(r"^\| (.+?) \| ([0-9.]+|-) \| (.+?) \|$", re.M)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, Registry]]:
    with demo_app(copy_demo(tmp_path_factory.mktemp("compare") / "data")) as pair:
        yield pair


def _pairs(client: InProcess, path: str) -> dict[str, str]:
    """Left capability name -> right capability name ("-" when unpaired), from the agent
    mirror's aligned table."""
    text = client.get(f"/agent{path}").text
    table = text[text.index("## Capabilities aligned by similarity"):]
    out = {}
    for left, _, right in _ROW.findall(table):
        if left != "-" and not left.startswith("--"):
            out[left.split(" (`")[0]] = right.split(" (`")[0]
    return out


def test_table_structure_recognition_pairs_with_table_recognition(
        demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    pairs = _pairs(client, "/compare/docling-vs-paddleocr")
    assert pairs["table structure recognition"] == "table recognition from document images"
    assert pairs["ocr for scanned documents"] == "multilingual text detection and recognition"
    assert pairs["pdf to structured document conversion"] == "full document parsing to markdown"
    html = client.get("/compare/docling-vs-paddleocr").text
    assert "by the cosine of the search engine" in html


def test_unrelated_capabilities_stay_unpaired(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    pairs = _pairs(client, "/compare/docling-vs-whisper-large-v3")
    assert set(pairs.values()) == {"-"}, pairs


def _summarizer() -> dict[str, Any]:
    caps = [
        capability("summarize", name="multilingual pdf summarization",
                   description="Reads a PDF report in any of forty languages page by page, "
                               "extracts its text and writes a short summary of the whole "
                               "document with its key points; nothing is stored afterwards.",
                   intents_served=["summarize this PDF", "give me the key points of a report"]),
        capability("translate", name="summary translation into english",
                   description="Writes the summary of a document in another language directly "
                               "in English, so a reader gets the gist of a foreign report "
                               "without translating the whole document first.",
                   intents_served=["summarize a German report in English",
                                   "english summary of a foreign document"]),
        capability("language", name="document language identification",
                   description="Identifies the language a PDF document is written in from its "
                               "extracted text before summarizing it, and reports a "
                               "confidence for each language it considered.",
                   intents_served=["which language is this PDF in",
                                   "detect the language of a document"]),
    ]
    data = manifest(capabilities=caps)
    data["artifact"].update({"slug": "pdf-summarizer", "name": "PDF Summarizer"})
    return data


def test_a_pdf_summarizer_has_the_summarization_model_as_an_alternative_not_whisper(
        demo: tuple[InProcess, Registry]) -> None:
    client, registry = demo
    registry.publish(json.dumps(_summarizer()), hint="json")
    text = client.get("/agent/compare?artifact=pdf-summarizer").text
    alternatives = re.findall(r"\]\(/agent/compare/pdf-summarizer-vs-([a-z0-9.-]+)\)", text)
    assert len(alternatives) == 3
    assert "llama-3.1-8b-instruct" in alternatives, alternatives
    assert "whisper-large-v3" not in alternatives
