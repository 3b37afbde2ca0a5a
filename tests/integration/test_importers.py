"""Importers over HTTP and the CLI, on a real SQLite file: each fixture (tests/fixtures/import,
written by us in each real format) becomes a passport that verifies offline with the JWK Set;
re-importing changes nothing; bad entries are refused one by one with reasons and store
nothing; a URL import reads a local HTTP server only when private networks are allowed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capgraph.core.offline import verify_envelope
from tests.integration.conftest import InProcess, assert_problem, in_process, invoke
from tests.proofservers import ProofSite

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import"
HF_URL = "https://huggingface.co/example-labs/keel-7b-instruct"
CASES = [  # file, source_url, format, slugs
    ("server.json", None, "mcp-server-json", ["io.github.example-labs-tide-tables"]),
    ("agent-card.json", None, "a2a-agent-card", ["harbour-logistics-agent"]),
    ("model-card.md", HF_URL, "hf-model-card", ["example-labs-keel-7b-instruct"]),
    ("openrouter-models.json", "https://openrouter.ai/api/v1/models", "openrouter-models",
     ["example-labs-keel-70b", "example-labs-keel-8b-free", "fjord-ai-skerry-mini"]),
]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[tuple[InProcess, dict[str, str], Any]]:
    monkeypatch.setenv("CAPGRAPH_EMBEDDER", "none")
    with in_process(tmp_path / "data") as (client, registry):
        _, secret = registry.create_api_key("importer")
        yield client, {"Authorization": f"Bearer {secret}"}, registry


def _import(client: InProcess, auth: dict[str, str], body: bytes, **params: str) -> Any:
    return client.post("/api/v1/import", content=body, params=params, headers=auth)


@pytest.mark.parametrize(("name", "source_url", "fmt", "slugs"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_fixture_becomes_a_passport_that_verifies(
    app: tuple[InProcess, dict[str, str], Any], name: str, source_url: str | None, fmt: str,
    slugs: list[str],
) -> None:
    client, auth, _ = app
    body = (FIXTURES / name).read_bytes()
    params = {"source_url": source_url} if source_url else {}
    answer = _import(client, auth, body, **params)
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["format"] == fmt
    assert report["summary"] == {"new": len(slugs), "updated": 0, "unchanged": 0, "refused": 0}
    assert [e["slug"] for e in report["entries"]] == slugs
    jwks = client.get("/api/v1/trust-passport-public-key").json()
    for slug in slugs:
        envelope = client.get(f"/api/v1/passport/{slug}").json()
        verify_envelope(envelope, jwks, require_log=True)  # raises SignatureInvalid if not
        provenance = envelope["passport"]["provenance"]
        assert provenance["import.format"] == fmt
        assert provenance["import.url"] == (source_url or "(uploaded)")
        assert provenance["import.at"].endswith("Z")
    size = client.get("/api/v1/log/checkpoint").text
    again = _import(client, auth, body, **params)
    assert again.status_code == 200
    assert again.json()["summary"]["unchanged"] == len(slugs)
    assert client.get("/api/v1/log/checkpoint").text.splitlines()[1] == size.splitlines()[1]


def test_sourced_counts_raise_adoption_and_are_marked(
    app: tuple[InProcess, dict[str, str], Any]
) -> None:
    client, auth, _ = app
    card = (FIXTURES / "model-card.md").read_text()
    _import(client, auth, card.encode(), source_url=HF_URL)
    body = client.get("/api/v1/passport/example-labs-keel-7b-instruct").json()["passport"]
    trust = body["unfragile"]["trust"]
    assert trust["community"]["model_downloads"] == 184230
    assert trust["community"]["model_likes"] == 412
    assert trust["rank_breakdown"]["adoption"] > 0.5  # counted although unverified
    assert body["provenance"]["trust.community"].startswith("sourced: hf-model-card")
    bare = card.replace("downloads: 184230\n", "").replace("likes: 412\n", "")
    _import(client, auth, bare.encode(), source_url="https://huggingface.co/example-labs/other")
    other = client.get("/api/v1/passport/example-labs-other").json()["passport"]["unfragile"]
    assert other["trust"]["rank_breakdown"]["adoption"] < trust["rank_breakdown"]["adoption"]


def test_bad_entries_are_refused_one_by_one(
    app: tuple[InProcess, dict[str, str], Any]
) -> None:
    client, auth, registry = app
    catalog = json.loads((FIXTURES / "openrouter-models.json").read_text())
    catalog["data"] += [
        {"name": "no id at all", "pricing": {"prompt": "0"}},
        {"id": "bad/price", "pricing": {"prompt": "cheap"}},
        {"id": "bad/shape", "pricing": ["0.1"]},
        "not an object",
    ]
    answer = _import(client, auth, json.dumps(catalog).encode())
    assert answer.status_code == 201
    report = answer.json()
    assert report["summary"] == {"new": 3, "updated": 0, "unchanged": 0, "refused": 4}
    refused = [e for e in report["entries"] if e["status"] == "refused"]
    assert [e["errors"][0] for e in refused] == [
        "id is required", "pricing.prompt is not a number: 'cheap'",
        "pricing must be an object, not a list",
        "a catalog entry is a JSON object, not a string"]
    assert registry.count() == 3


@pytest.mark.parametrize(("body", "fmt", "reason"), [
    (b'{"name": "io.github.x/y", "version": "1", "packages": []}', None,
     "description is required"),
    (b'{"description": "d", "version": "1", "packages": []}', None, "name is required"),
    (b'{"name": "Agent", "url": "https://a.example", "skills": []}', None,
     "skills must be a non-empty list"),
    (b'{"name": "Agent", "skills": [{"name": "s"}]}', None, "url is required"),
    (b"---\nlicense: mit\n---\n# Plain title\n", None, "repository (org/name) is unknown"),
    (b"---\npipeline_tag: [1\n---\n# a/b\n", None, "front matter"),
    (b"# just markdown\n", "hf-model-card", "starts with YAML front matter"),
    (b'{"hello": "world"}', None, "not a format capgraph imports"),
    (b'[1, 2]', None, "not a format capgraph imports"),
], ids=["no-description", "no-name", "no-skills", "no-url", "card-no-repo", "card-yaml",
        "card-no-front-matter", "unknown-object", "unknown-list"])
def test_malformed_inputs_get_clear_errors_and_store_nothing(
    app: tuple[InProcess, dict[str, str], Any], body: bytes, fmt: str | None, reason: str
) -> None:
    client, auth, registry = app
    params = {"format": fmt} if fmt else {}
    problem = assert_problem(_import(client, auth, body, **params), 422, "import-refused")
    assert any(reason in error for e in problem["entries"] for error in e["errors"]), problem
    assert registry.count() == 0


def test_non_utf8_and_huge_documents(app: tuple[InProcess, dict[str, str], Any],
                                     tmp_path: Path) -> None:
    client, auth, registry = app
    assert_problem(_import(client, auth, b'{"name": "\xff"}'), 400, "parse-error")
    assert_problem(_import(client, auth, b"x" * (10 * 1024 * 1024)), 413, "payload-too-large")
    report = registry.import_document(b" " * (10 * 1024 * 1024))
    assert report.entries[0].errors == ("the document is 10,485,760 bytes; at most 4,194,304 "
                                        "are imported",)
    assert registry.count() == 0


def test_cli_import_shows_progress_and_a_summary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xfe\xff not text")
    catalog = json.loads((FIXTURES / "openrouter-models.json").read_text())
    catalog["data"].append({"name": "missing id"})
    listed = tmp_path / "models.json"
    listed.write_text(json.dumps(catalog))
    env = {"CAPGRAPH_EMBEDDER": "none"}
    result = invoke(tmp_path / "data", "import", str(FIXTURES / "server.json"), str(listed),
                    str(bad), str(tmp_path / "missing.json"), check=False, env=env)
    assert result.returncode == 1
    assert "[4/4] " in result.stderr and "missing id: refused" in result.stderr
    assert f"{bad}: refused: input is not UTF-8 (byte 0)" in result.stderr
    assert "missing.json: refused: cannot read the file" in result.stderr
    assert "io.github.example-labs-tide-tables: version 1 (new version)" in result.stdout
    assert result.stdout.strip().endswith("summary: 4 new, 0 updated, 0 unchanged, 3 refused")
    again = invoke(tmp_path / "data", "import", str(FIXTURES / "server.json"), env=env)
    assert again.stdout.strip().endswith("summary: 0 new, 0 updated, 1 unchanged, 0 refused")


@pytest.fixture
def site() -> Iterator[ProofSite]:
    served = ProofSite()
    served.files["/.well-known/agent-card.json"] = (
        200, (FIXTURES / "agent-card.json").read_bytes())
    yield served
    served.close()


def test_url_import_from_a_local_server_needs_the_private_network_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: ProofSite
) -> None:
    url = f"{site.origin}/.well-known/agent-card.json"
    monkeypatch.setenv("CAPGRAPH_EMBEDDER", "none")
    with in_process(tmp_path / "closed") as (client, registry):
        _, secret = registry.create_api_key("importer")
        auth = {"Authorization": f"Bearer {secret}"}
        problem = assert_problem(client.post("/api/v1/import", params={"url": url},
                                             headers=auth), 422, "import-refused")
        assert "refused plain http" in problem["entries"][0]["errors"][0]
        https = url.replace("http://", "https://")
        problem = assert_problem(client.post("/api/v1/import", params={"url": https},
                                             headers=auth), 422, "import-refused")
        assert "127.0.0.1" in problem["entries"][0]["errors"][0]
        assert registry.count() == 0
    assert site.requests == []  # refused before any connection
    monkeypatch.setenv("CAPGRAPH_CLAIM_ALLOW_PRIVATE_NETWORKS", "true")
    with in_process(tmp_path / "open") as (client, registry):
        _, secret = registry.create_api_key("importer")
        auth = {"Authorization": f"Bearer {secret}"}
        answer = client.post("/api/v1/import", params={"url": url}, headers=auth)
        assert answer.status_code == 201, answer.text
        assert answer.json()["entries"][0]["slug"] == "harbour-logistics-agent"
        envelope = client.get("/api/v1/passport/harbour-logistics-agent").json()
        assert envelope["passport"]["provenance"]["import.url"] == url
        site.files["/big.json"] = (200, b" " * (5 * 1024 * 1024))
        problem = assert_problem(client.post("/api/v1/import",
                                             params={"url": f"{site.origin}/big.json"},
                                             headers=auth), 422, "import-refused")
        assert "larger than" in problem["entries"][0]["errors"][0]


def test_a_verification_reissue_keeps_sourced_counts_counted(registry: Any) -> None:
    """Re-issuing a passport for a proven builder rescores self-declared counts only; counts
    a source gave stay counted (registry/publishing.py reissue_verification)."""
    from capgraph.core.verification import Verification

    card = (FIXTURES / "model-card.md").read_bytes()
    registry.import_document(card, source_url=HF_URL)
    slug = "example-labs-keel-7b-instruct"
    before = registry.passport(slug).body()["trust"]["rank_breakdown"]["adoption"]
    proof = Verification("http", "2026-11-01T12:00:00.000Z", f"{HF_URL}/unfragile.yml")
    registry._publishing.reissue_verification(slug, proof)  # what a verified claim runs
    after = registry.passport(slug)
    assert after.version == 2 and after.body()["trust"]["verified"] is True
    assert after.body()["trust"]["rank_breakdown"]["adoption"] == before
    assert registry.import_document(card, source_url=HF_URL).counts()["unchanged"] == 1


def test_cli_imports_a_url_when_private_networks_are_allowed(tmp_path: Path,
                                                             site: ProofSite) -> None:
    url = f"{site.origin}/.well-known/agent-card.json"
    env = {"CAPGRAPH_EMBEDDER": "none"}
    closed = invoke(tmp_path / "data", "import", url, check=False, env=env)
    assert closed.returncode == 1 and "refused plain http" in closed.stderr
    opened = invoke(tmp_path / "data", "import", url,
                    env={**env, "CAPGRAPH_CLAIM_ALLOW_PRIVATE_NETWORKS": "true"})
    assert "harbour-logistics-agent: version 1 (new version)" in opened.stdout


def test_another_publisher_cannot_import_over_an_owned_artifact(
    app: tuple[InProcess, dict[str, str], Any]
) -> None:
    client, auth, registry = app
    body = (FIXTURES / "server.json").read_bytes()
    assert _import(client, auth, body).status_code == 201
    _, other = registry.create_api_key("someone-else")
    changed = body.replace(b"Tide predictions", b"Tide guesses")
    assert_problem(client.post("/api/v1/import", content=changed,
                               headers={"Authorization": f"Bearer {other}"}), 403, "not-owner")
    assert registry.passport("io.github.example-labs-tide-tables").version == 1
