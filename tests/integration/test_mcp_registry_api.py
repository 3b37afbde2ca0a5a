"""The MCP Registry API under /v0.1: every answer validates against our transcription of the
generic registry OpenAPI's schemas (tests/schemas/mcp_registry_2025_12_01.json), every
artifact of type mcp is listed, and a server.json published there is found by resolve."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import DEMO
from tests.integration.conftest import InProcess, assert_problem, in_process

SCHEMAS = json.loads((Path(__file__).parents[1] / "schemas" / "mcp_registry_2025_12_01.json")
                     .read_text())
FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "import" / "server.json")
                     .read_text())
NAME = FIXTURE["name"]


def _validator(name: str) -> Draft202012Validator:
    schema = {**SCHEMAS, "$ref": f"#/$defs/{name}"}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def valid(name: str, data: Any) -> Any:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _validator(name).iter_errors(data)]
    assert not errors, errors
    return data


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, dict[str, str]]]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAPGRAPH_EMBEDDER", "none")
        with in_process(tmp_path_factory.mktemp("mcp-registry")) as (client, registry):
            for name in ("mcp-server-fetch.yml", "playwright-mcp.yml", "crewai.yml"):
                registry.publish((DEMO / name).read_text(), hint="yaml")
            _, secret = registry.create_api_key("mcp-publisher")
            auth = {"Authorization": f"Bearer {secret}"}
            published = client.post("/v0.1/publish", json=FIXTURE, headers=auth)
            assert published.status_code == 200, published.text
            yield client, auth


def _path(name: str) -> str:
    return quote(name, safe="")


def test_the_list_validates_and_holds_every_mcp_artifact(app: tuple[InProcess, Any]) -> None:
    client, _ = app
    listed = valid("ServerList", client.get("/v0.1/servers").json())
    names = {s["server"]["name"] for s in listed["servers"]}
    assert names == {NAME, "dev.capgraph/mcp-server-fetch", "dev.capgraph/playwright-mcp"}
    assert listed["metadata"]["count"] == 3 and "nextCursor" not in listed["metadata"]
    fetch = next(s for s in listed["servers"] if s["server"]["name"].endswith("server-fetch"))
    ours = fetch["_meta"]["dev.capgraph/passport"]
    assert ours["slug"] == "mcp-server-fetch" and isinstance(ours["unfragileRank"], int)
    # Version 2: playwright-mcp names it as an integration, and its arrival re-issued it with
    # the ecosystem counted (docs/TRUST.md); the server version is still the one published.
    assert ours["verified"] is False and ours["passportUrl"].endswith("?version=2")
    assert fetch["server"]["packages"][0]["registryType"] in ("npm", "pypi")


def test_cursor_pages_cover_the_list_once(app: tuple[InProcess, Any]) -> None:
    client, _ = app
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = valid("ServerList", client.get("/v0.1/servers", params=params).json())
        seen += [s["server"]["name"] for s in page["servers"]]
        cursor = page["metadata"].get("nextCursor")
        if not cursor:
            break
    everything = client.get("/v0.1/servers").json()["servers"]
    assert seen == [s["server"]["name"] for s in everything] and len(seen) == 3


def test_filters_search_version_and_updated_since(app: tuple[InProcess, Any]) -> None:
    client, _ = app
    found = valid("ServerList", client.get("/v0.1/servers", params={"search": "TIDE"}).json())
    assert [s["server"]["name"] for s in found["servers"]] == [NAME]
    exact = client.get("/v0.1/servers", params={"version": FIXTURE["version"]}).json()
    assert [s["server"]["name"] for s in exact["servers"]] == [NAME]
    latest = valid("ServerList", client.get("/v0.1/servers", params={"version": "latest"}).json())
    assert all(s["_meta"]["io.modelcontextprotocol.registry/official"]["isLatest"]
               for s in latest["servers"])
    future = client.get("/v0.1/servers", params={"updated_since": "2999-01-01T00:00:00Z"})
    assert valid("ServerList", future.json())["servers"] == []
    past = client.get("/v0.1/servers", params={"updated_since": "2000-01-01T00:00:00Z"})
    assert len(past.json()["servers"]) == 3
    assert_problem(client.get("/v0.1/servers", params={"updated_since": "yesterday"}), 400,
                   "bad-request")
    assert_problem(client.get("/v0.1/servers", params={"cursor": "not-ours"}), 400,
                   "bad-request")
    assert_problem(client.get("/v0.1/servers", params={"limit": 0}), 400, "bad-request")


def test_versions_and_one_version_validate(app: tuple[InProcess, Any]) -> None:
    client, _ = app
    versions = valid("ServerList",
                     client.get(f"/v0.1/servers/{_path(NAME)}/versions").json())
    assert FIXTURE["version"] in [s["server"]["version"] for s in versions["servers"]]
    one = valid("ServerResponse", client.get(
        f"/v0.1/servers/{_path(NAME)}/versions/{FIXTURE['version']}").json())
    assert one["server"] == FIXTURE  # served back as it was published
    latest = valid("ServerResponse",
                   client.get(f"/v0.1/servers/{_path(NAME)}/versions/latest").json())
    signed = latest["_meta"]["dev.capgraph/passport"]["signed"]
    assert signed["unfragile"]["artifact"]["type"] == "mcp" and signed["signature"]
    ours = valid("ServerResponse", client.get(
        "/v0.1/servers/dev.capgraph%2Fmcp-server-fetch/versions/latest").json())
    assert ours["server"]["name"] == "dev.capgraph/mcp-server-fetch"
    assert_problem(client.get("/v0.1/servers/dev.capgraph%2Fcrewai/versions"), 404, "not-found")
    assert_problem(client.get("/v0.1/servers/com.example%2Fnothing/versions/latest"), 404,
                   "not-found")
    assert_problem(client.get(f"/v0.1/servers/{_path(NAME)}/versions/9.9.9"), 404, "not-found")


def test_published_server_is_found_by_resolve(app: tuple[InProcess, Any]) -> None:
    client, _ = app
    answer = client.post("/api/v1/resolve", json={
        "intent": "tide predictions and harbour water levels for a coastal station"}).json()
    slugs = [r["artifact"]["slug"] for r in answer["resolved"]] + \
        [a["slug"] for a in answer.get("alternatives", [])]
    assert "io.github.example-labs-tide-tables" in slugs, answer


def test_publish_rules(app: tuple[InProcess, Any]) -> None:
    client, auth = app
    assert_problem(client.post("/v0.1/publish", json=FIXTURE), 401, "unauthorized")
    again = client.post("/v0.1/publish", json=FIXTURE, headers=auth)
    assert valid("ServerResponse", again.json())["_meta"]["dev.capgraph/passport"][
        "passportVersion"] == 1
    changed = copy.deepcopy(FIXTURE)
    changed["description"] = "Tide predictions, now with storm surge warnings for each station."
    assert_problem(client.post("/v0.1/publish", json=changed, headers=auth), 409, "conflict")
    assert_problem(client.post("/v0.1/publish", json={"name": "no-slash", "version": "1",
                                                      "description": "x"}, headers=auth),
                   400, "bad-request")
    changed["version"] = "2.4.0"
    newer = valid("ServerResponse",
                  client.post("/v0.1/publish", json=changed, headers=auth).json())
    assert newer["server"]["version"] == "2.4.0"
    listed = client.get(f"/v0.1/servers/{_path(NAME)}/versions").json()["servers"]
    flags = [(s["server"]["version"],
              s["_meta"]["io.modelcontextprotocol.registry/official"]["isLatest"])
             for s in listed]
    assert flags == [("2.4.0", True), ("2.3.1", False)]
    assert_problem(client.post("/v0.1/publish", json=changed,
                               headers={"X-API-Key": "cg_not-a-key"}), 401,
                   "unauthorized")


def test_over_real_http_publish_then_resolve(http: Any, api_key: str) -> None:
    """The same walk on a real `capgraph serve` over 127.0.0.1."""
    auth = {"Authorization": f"Bearer {api_key}"}
    published = http.post("/v0.1/publish", json=FIXTURE, headers=auth)
    assert published.status_code == 200, published.text
    valid("ServerResponse", published.json())
    listed = valid("ServerList", http.get("/v0.1/servers", params={"search": "tide"}).json())
    assert [s["server"]["name"] for s in listed["servers"]] == [NAME]
    answer = http.post("/api/v1/resolve", json={
        "intent": "tide predictions and harbour water levels for a coastal station"}).json()
    assert answer["resolved"][0]["artifact"]["slug"] == "io.github.example-labs-tide-tables"
