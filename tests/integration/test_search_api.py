"""GET /api/v1/search over the demo corpus and the seeds, in process: the answer's shape,
parameter bounds as RFC 9457 problems; and the embedding model working with no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capgraph.core.taxonomy import ARTIFACT_TYPES
from capgraph.registry import Registry
from tests.conftest import DEMO
from tests.integration.conftest import InProcess, assert_problem
from tests.searchkit import copy_demo, demo_app


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, Registry]]:
    with demo_app(copy_demo(tmp_path_factory.mktemp("search") / "data")) as pair:
        yield pair


def _search(client: InProcess, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = response.json()
    return answer


def test_a_match_carries_the_artifact_summary_its_capabilities_and_a_record_id(
        demo: tuple[InProcess, Registry]) -> None:
    client, registry = demo
    answer = _search(client, q="extract tables from scanned invoices")
    assert answer["query"] == "extract tables from scanned invoices"
    assert answer["intent"] == "extract tables scanned invoices"
    assert len(answer["matches"]) == 5  # the default limit
    slugs = [m["artifact"]["slug"] for m in answer["matches"]]
    assert {"aws-textract", "docling", "paddleocr"} <= set(slugs[:4])
    record_ids = set()
    for match in answer["matches"]:
        artifact = match["artifact"]
        stored = registry.passport(artifact["slug"])
        body = json.loads(stored.passport)["unfragile"]
        assert artifact["name"] == stored.name and artifact["type"] == stored.artifact_type
        assert artifact["unfragileRank"] == stored.score == body["trust"]["score"]
        assert artifact["verified"] is body["trust"]["verified"]
        assert isinstance(artifact["description"], str)
        assert 0 <= match["matchScore"] < 1
        assert 1 <= len(match["capabilities"]) <= 3
        ids = {c["id"]: c for c in body["capabilities"]}
        for cap in match["capabilities"]:
            assert cap["id"] in ids
            assert (cap["uri"], cap["name"]) == (ids[cap["id"]]["uri"], ids[cap["id"]]["name"])
            assert 0 <= cap["matchScore"] < 1  # one bounded scale (docs/RESOLVE.md)
        scores = [c["matchScore"] for c in match["capabilities"]]
        assert scores == sorted(scores, reverse=True)
        assert isinstance(match["matchRecordId"], str) and match["matchRecordId"]
        record_ids.add(match["matchRecordId"])
    assert len(record_ids) == 5
    ranks = [m["matchScore"] for m in answer["matches"]]
    assert ranks == sorted(ranks, reverse=True)
    again = _search(client, q="extract tables from scanned invoices")
    assert not record_ids & {m["matchRecordId"] for m in again["matches"]}


def test_seed_capabilities_are_searchable(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    top = _search(client, q="generate unit tests for untested functions")["matches"][0]
    assert top["artifact"]["slug"] == "qwen-qwen3-coder"
    assert top["capabilities"][0]["name"] == "test generation and test case synthesis"
    top = _search(client, q="extract key-value pairs from receipts", type="model")["matches"][0]
    assert top["artifact"]["slug"] == "qwen-qwen3.5-flash-02-23"


@pytest.mark.parametrize("limit", [1, 3, 20])
def test_limit_caps_the_matches(demo: tuple[InProcess, Registry], limit: int) -> None:
    client, _ = demo
    assert len(_search(client, q="speech", limit=limit)["matches"]) == limit


def test_the_type_filter_keeps_one_type(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    answer = _search(client, q="give my agent tools", type="mcp", limit=20)
    assert answer["matches"]
    assert {m["artifact"]["type"] for m in answer["matches"]} == {"mcp"}
    assert _search(client, q="give my agent tools", type="webapp")["matches"] == []


def test_the_source_parameter_is_accepted(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    assert _search(client, q="speech to text", source="agent")["matches"]


@pytest.mark.parametrize("q", ["ab", "x" * 500, "  ab  "])
def test_q_of_2_to_500_characters_is_accepted(demo: tuple[InProcess, Registry], q: str) -> None:
    client, _ = demo
    assert _search(client, q=q)["query"] == q.strip()


@pytest.mark.parametrize("params", [
    {},
    {"q": ""},
    {"q": "a"},
    {"q": "   a   "},
    {"q": "x" * 501},
    {"q": "speech", "limit": 0},
    {"q": "speech", "limit": 21},
    {"q": "speech", "limit": -3},
    {"q": "speech", "limit": "five"},
    {"q": "speech", "type": "spaceship"},
    {"q": "speech", "type": "MCP"},
])
def test_out_of_range_parameters_are_a_400_problem(
        demo: tuple[InProcess, Registry], params: dict[str, Any]) -> None:
    client, _ = demo
    body = assert_problem(client.get("/api/v1/search", params=params), 400, "bad-request")
    assert body["instance"] == "/api/v1/search"


def test_an_unknown_type_problem_lists_the_known_ones(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    body = assert_problem(client.get("/api/v1/search", params={"q": "ocr", "type": "x"}), 400)
    assert all(kind in body["detail"] for kind in ARTIFACT_TYPES)


# -- the model needs no network --------------------------------------------------------------

_OFFLINE_SCRIPT = textwrap.dedent("""
    import json, socket, sys, tempfile
    from pathlib import Path

    def refuse(event, args):
        # Any attempt to reach the network fails the run, whatever namespace it is in.
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
            target = args[1] if event == "socket.connect" else args[0]
            if not (event == "socket.connect" and args[0].family == socket.AF_UNIX):
                raise RuntimeError(f"network access attempted: {event} {target!r}")
    sys.addaudithook(refuse)

    from capgraph.bootstrap import assemble_registry
    from capgraph.http.shapes import resolution_json
    from capgraph.search.embedding import MiniLMEmbedder
    from capgraph.storage.keystore import FileKeyStore
    from capgraph.storage.memory import MemoryStore

    embedder = MiniLMEmbedder()
    vectors = embedder.embed(["transcribe a podcast", "speech to text"])
    registry = assemble_registry(store=MemoryStore(),
                                 keys=FileKeyStore(Path(tempfile.mkdtemp())),
                                 registry_name="offline", public_url="http://offline.test",
                                 embedder=embedder)
    for path in sys.argv[1:]:
        registry.publish(Path(path).read_text(), hint="yaml")
    answer = resolution_json(registry.resolve("transcribe the speech in an audio recording"),
                             "http://offline.test")
    print(json.dumps({
        "shape": list(vectors.shape),
        "norms": [float((v ** 2).sum()) for v in vectors],
        "cosine": float(vectors[0] @ vectors[1]),
        "top": answer["resolved"][0]["artifact"]["slug"] if answer["resolved"] else None,
    }))
""")


def test_the_embedding_model_runs_offline_with_no_network(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
           "NO_PROXY": "", "HF_HOME": str(tmp_path / "hf-home")}
    command = [sys.executable, "-c", _OFFLINE_SCRIPT,
               *(str(DEMO / f"{slug}.yml") for slug in
                 ("whisper-large-v3", "elevenlabs-text-to-speech", "docling", "crewai"))]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        command = [unshare, "-rn", *command]  # a network namespace with no interfaces at all
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["shape"] == [2, 384]
    assert result["norms"] == pytest.approx([1.0, 1.0], abs=1e-4)
    assert result["cosine"] > 0.4
    assert result["top"] == "whisper-large-v3"
    assert not (tmp_path / "hf-home").exists()  # no hub cache was even created


def test_match_scores_stay_on_one_bounded_scale_without_ties(
    demo: tuple[InProcess, Registry],
) -> None:
    client, _ = demo
    # a declared intent word for word: its relevance gets the declared-intent bonus (> 1)
    answer = _search(client, q="convert a PDF report into clean markdown", limit=10)
    artifacts = [m["matchScore"] for m in answer["matches"]]
    caps = [c["matchScore"] for m in answer["matches"] for c in m["capabilities"]]
    assert all(0 <= s < 1 for s in artifacts + caps), (artifacts, caps)
    assert len(set(artifacts)) == len(artifacts), "no two artifacts tie at a cap"
    top = answer["matches"][0]
    assert top["artifact"]["slug"] == "docling"
    page = client.get("/", params={"q": "convert a PDF report into clean markdown"}).text
    assert f"match {round(top['matchScore'] * 100)}%" in page
