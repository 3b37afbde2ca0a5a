"""What is embedded and indexed (issue 16): each view of a capability is its own unit vector
and a capability scores by its best view; an artifact has a vector and a keyword document of
its own (its name, description and every capability's name), so a multi-tool server is found
as a whole; ``capgraph eval`` indexes what a publish would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from capgraph.registry import Registry
from capgraph.search import engine as engine_module
from capgraph.search.corpus import body_from_entry
from capgraph.search.documents import (
    ARTIFACT_DOC,
    documents_for,
    readable,
    split_key,
    vector_keys,
)
from tests.searchkit import embedder, published
from tests.unit.factories import capability, long_text, manifest


def _manifest(slug: str, name: str, description: str, caps: list[tuple[str, str]]
              ) -> dict[str, Any]:
    data = manifest(capabilities=[
        capability(f"c{n}", name=cap_name, description=long_text(text),
                   intents_served=[f"{cap_name} please"])
        for n, (cap_name, text) in enumerate(caps)])
    data["artifact"].update({"slug": slug, "name": name, "description": description})
    return data


# A harbour desk offers three tools; each specialist offers one of them, better described.
# A query naming all three is about the desk as a whole.
CORPUS = [
    _manifest("harbour-desk", "Harbour Desk", "A Model Context Protocol server for ports.", [
        ("crane booking", "reserve a quay crane for a time slot"),
        ("berth listing", "list free berths for arriving vessels"),
        ("customs filing", "file customs declarations for cargo"),
    ]),
    _manifest("crane-hire", "Crane Hire", "Crane booking for harbours.", [
        ("crane booking", "crane booking of quay cranes at any harbour"),
    ]),
    _manifest("berth-finder", "Berth Finder", "Berth listing for harbour masters.", [
        ("berth listing", "berth listing of free berths at any harbour"),
    ]),
    _manifest("customs-desk", "Customs Filer", "Customs paperwork for freight forwarders.", [
        ("customs filing", "customs filing for freight, with tariff codes and declarations"),
    ]),
]
WHOLE_QUERY = "crane booking, berth listing and customs filing"


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with published(tmp_path_factory.mktemp("dense"), CORPUS, dense=True) as registry:
        yield registry


@pytest.fixture(scope="module")
def keyword(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with published(tmp_path_factory.mktemp("keyword"), CORPUS, dense=False) as registry:
        yield registry


def test_every_view_is_its_own_unit_vector(dense: Registry) -> None:
    assert dense.vectors is not None
    dense.vectors.sync()
    rows = [(slug, key, row) for slug, key, row in dense.vectors.items()]
    keys = {(slug, key) for slug, key, _ in rows}
    assert ("harbour-desk", ARTIFACT_DOC) in keys
    assert ("harbour-desk", ARTIFACT_DOC + "#n") in keys  # its name and its tools' names
    assert {split_key(k)[1] for s, k in keys
            if s == "harbour-desk" and not k.startswith(ARTIFACT_DOC)} == {"p", "c"}
    for _, _, row in rows:
        assert float(np.linalg.norm(row.astype(np.float32))) == pytest.approx(1.0, abs=0.01)


def test_the_engine_asks_for_every_key_a_document_stores() -> None:
    """``vector_keys`` (what the engine asks the vector index for) names every view key
    ``SearchDoc.views`` writes, for capabilities with one view and with two, and for an
    artifact's own document: the two cannot drift apart."""
    for data in CORPUS:
        entry = {**data["artifact"], "capabilities": [
            {"name": c["name"], "description": c["description"], "intents": c["intents_served"]}
            for c in data["capabilities"]]}
        body = body_from_entry(entry, version="1")
        for doc in documents_for(body, summary=data["artifact"]["description"]):
            keys = [key for key, _ in doc.views()]
            assert len(keys) == 2 and set(keys) <= set(vector_keys(doc.cap_id)), keys
    one_view = documents_for(body_from_entry(
        {"slug": "x", "name": "X", "capabilities": [{"name": "X"}]}, version="1"))[0]
    assert [k for k, _ in one_view.views()] == [vector_keys(one_view.cap_id)[2]]


@pytest.mark.parametrize("view_max", [0.0, 0.25, 1.0])
def test_a_capability_scores_by_its_views_cosines(dense: Registry, view_max: float,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """VIEW_MAX x the best view's cosine + the rest x their mean: with 1, the best view
    alone, which a single averaged vector could not give."""
    monkeypatch.setattr(engine_module, "VIEW_MAX", view_max)
    body = dense.passport("harbour-desk").body()
    doc = next(d for d in documents_for(body, summary=CORPUS[0]["artifact"]["description"])
               if d.name == "crane booking")
    query = "reserve a quay crane for tomorrow morning"
    views = embedder().embed([text for _, text in doc.views()])
    cosines = views @ embedder().embed([query])[0]
    assert len(cosines) == 2 and abs(cosines[0] - cosines[1]) > 0.05  # the two views differ
    candidate = next(c for c in dense.engine.candidates(query)
                     if c.card.slug == "harbour-desk")
    found = {cap_id: cos for _, cap_id, _, cos in candidate._ranked}
    expected = view_max * float(cosines.max()) + (1 - view_max) * float(cosines.mean())
    assert found[doc.cap_id] == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize("mode", ["dense", "keyword"])
def test_a_multi_tool_server_is_found_as_a_whole(
        mode: str, dense: Registry, keyword: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    registry = dense if mode == "dense" else keyword
    assert registry.search(WHOLE_QUERY).matches[0].slug == "harbour-desk"
    # Ranked by its single best capability alone, a specialist wins.
    monkeypatch.setattr(engine_module, "ARTIFACT_SHARE", 0.0)
    assert registry.search(WHOLE_QUERY).matches[0].slug != "harbour-desk"


def test_an_artifact_found_by_its_own_document_alone_is_kept(
        keyword: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an embedder (``embedder: none``), when the keyword side's candidates hold an
    artifact's own document and none of its capabilities' (here: one candidate), the
    artifact is still found, and resolves to one of its capabilities, none of which claims
    a match of its own."""
    monkeypatch.setattr(engine_module, "CANDIDATES", 1)
    hits = keyword.engine.keywords.search(engine_module.query_terms(WHOLE_QUERY), limit=1)
    assert [(slug, split_key(key)[0]) for slug, key, _ in hits] == [("harbour-desk", "")]
    found = keyword.search(WHOLE_QUERY).matches
    assert [m.slug for m in found] == ["harbour-desk"]
    assert {c.name for c in found[0].capabilities} <= {"crane booking", "berth listing",
                                                       "customs filing"}
    assert all(c.match_score == 0 for c in found[0].capabilities)
    answer = keyword.resolve(WHOLE_QUERY, limit=1)
    given = answer.resolved or answer.alternatives
    assert given and given[0].artifact.slug == "harbour-desk"


def test_a_capability_still_ranks_by_its_own_text(dense: Registry) -> None:
    """The artifact's own document lifts the artifact, not the order of its capabilities."""
    match = next(m for m in dense.search("file customs declarations for cargo").matches
                 if m.slug == "harbour-desk")
    assert match.capabilities[0].name == "customs filing"


def test_eval_indexes_what_a_publish_would() -> None:
    """A corpus line with every capability field a publish keeps: its body's search
    documents carry them all, built by the one function a publish uses."""
    entry = {"slug": "Tide-Table", "name": "Tide Table", "description": "tides for sailors",
             "capabilities": [{"name": "tide prediction", "description": "predicts tides",
                               "intents": ["when is high tide"],
                               "best_for": ["kayakers planning a crossing"],
                               "input_types": ["harbour code"],
                               "output_types": ["tide chart"]},
                              {"name": "current atlas", "description": "tidal currents"}]}
    body = body_from_entry(entry, version="2026-12")
    cap_doc, _, whole = documents_for(body, summary=entry["description"])
    text = " ".join([cap_doc.intents, cap_doc.body])
    for word in ("kayakers", "harbour code", "tide chart", "when is high tide"):
        assert word in text
    assert whole.cap_id == ARTIFACT_DOC and "tide prediction" in whole.views()[0][1]
    entry["capabilities"].pop()  # one capability: it is the artifact, no second document
    assert [d.cap_id for d in documents_for(body_from_entry(entry, version="2026-12"))] == \
        ["tide-table__cap_0"]


# -- text the model cannot read ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("reserve a quay crane", True),
    ("预订码头起重机的时间段", False),
    ("Бронирование портового крана", False),
    ("crane booking (起重机)", True),  # mostly English: the model reads most of it
    ("2026-12-06 10:00", True),  # no letters at all
])
def test_readable_is_the_share_of_ascii_letters(text: str, expected: bool) -> None:
    assert readable(text) is expected


def test_a_description_the_model_cannot_read_is_left_out_of_the_vectors() -> None:
    body = body_from_entry({"slug": "gangway", "name": "Gangway", "description": "港口工具",
                            "capabilities": [{"name": "crane booking",
                                              "description": "预订码头起重机的时间段"}]},
                           version="2026-12")
    (doc,) = documents_for(body, summary="港口工具")
    assert [text for _, text in doc.views()] == ["crane booking"]  # its name carries it
    assert "预订码头起重机的时间段" in doc.body  # the keyword index still has every text


def test_a_query_the_model_cannot_read_is_matched_on_its_words(dense: Registry) -> None:
    query = "预订码头起重机的时间段 crane"  # mostly ideographs, one English word
    assert not readable(query)
    top = dense.engine.candidates(query)[0]
    assert top.relevance == pytest.approx(1.0)  # BM25 / best BM25, no dense part
    assert dense.engine.candidates("crane")[0].relevance != pytest.approx(1.0)
