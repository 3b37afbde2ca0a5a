"""The MCP server through the SDK's own client: over stdio against a real `capgraph mcp`
process, and over streamable HTTP against a real `capgraph serve` at /mcp. Both list the six
tools, resolve an intent, report its outcome with the callback token (a replay is refused),
verify a passport (a changed byte fails), and read the passport resource."""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import Server
from tests.integration.conftest import assert_problem, invoke, running_server

TOOLS = {"search", "resolve", "get_passport", "compare", "report_outcome", "verify_passport"}
INTENT = "extract tables from scanned invoices"
Session = Callable[[Callable[[ClientSession], Awaitable[None]]], None]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mcp-data")
    invoke(folder, "demo")
    return folder


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[Server]:
    with running_server(data_dir) as (srv, _):
        yield srv


@asynccontextmanager
async def stdio_session(data_dir: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "capgraph.cli", "mcp"],
        env={"CAPGRAPH_DATA_DIR": str(data_dir), "PYTHONPATH": os.pathsep.join(sys.path)})
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def http_session(url: str, headers: dict[str, str] | None = None
                       ) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers=headers or {}, timeout=60) as client, \
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


@pytest.fixture(params=["stdio", "http"])
def session(request: pytest.FixtureRequest, data_dir: Path) -> Session:
    """Runs an async test body with a connected SDK client over one transport."""
    def run(body: Callable[[ClientSession], Awaitable[None]]) -> None:
        async def main() -> None:
            if request.param == "stdio":
                opened = stdio_session(data_dir)
            else:
                opened = http_session(request.getfixturevalue("server").url)
            async with opened as connected:
                await body(connected)
        anyio.run(main)
    return run


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert result.is_error is False, result.content
    assert result.structured_content is not None
    return result.structured_content


async def refused(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert result.is_error is True
    assert result.structured_content is not None, result.content
    detail = result.structured_content
    assert result.content[0].text == f"{detail['code']}: {detail['detail']}"  # type: ignore[union-attr]
    return detail


def test_the_tools_are_listed_with_typed_input_output_and_descriptions(session: Session
                                                                        ) -> None:
    async def body(s: ClientSession) -> None:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():
            assert tool.description and len(tool.description) > 300, tool.name
            assert "Parameters" in tool.description or "parameters" in tool.description
            assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        resolve = tools["resolve"].input_schema["properties"]
        assert (resolve["limit"]["minimum"], resolve["limit"]["maximum"]) == (1, 10)
        assert resolve["intent"]["minLength"] == 2 and resolve["intent"]["maxLength"] == 500
        assert "strict" in resolve["risk"]["enum"]
        assert tools["resolve"].input_schema["required"] == ["intent"]
        assert tools["get_passport"].annotations.read_only_hint is True  # type: ignore[union-attr]
        assert tools["report_outcome"].annotations.read_only_hint is False  # type: ignore[union-attr]
        templates = (await s.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["capgraph://passport/{slug}"]
    session(body)


def test_resolve_use_report_and_a_replay_is_refused(session: Session) -> None:
    async def body(s: ClientSession) -> None:
        answer = await call(s, "resolve", intent=INTENT, risk="default", limit=2)
        assert answer["intent"] == INTENT and answer["resolved"], answer
        top = answer["resolved"][0]
        assert top["artifact"]["slug"] == "docling"
        assert top["feedbackUrl"].endswith("/api/feedback")
        before = (await call(s, "get_passport", slug="docling"))["passport"]["version"]
        report = {"resolve_id": answer["resolveId"], "slug": "docling",
                  "callback_token": top["callbackToken"], "outcome": "success"}
        done = await call(s, "report_outcome", **report)
        assert done == {"accepted": True, "counted": True, "slug": "docling",
                        "capability": top["capability"]["id"], "outcome": "success",
                        "passportVersion": before + 1}
        assert (await refused(s, "report_outcome", **report))["code"] == "conflict"
        forged = {**report, "callback_token": top["callbackToken"][:-4] + "AAAA"}
        assert (await refused(s, "report_outcome", **forged))["code"] in {"token-invalid",
                                                                          "conflict"}
        after = await call(s, "get_passport", slug="docling")
        assert after["passport"]["version"] == before + 1
    session(body)


def test_verify_a_passport_by_slug_and_as_a_document(session: Session) -> None:
    async def body(s: ClientSession) -> None:
        by_slug = await call(s, "verify_passport", slug="paddleocr")
        assert by_slug["valid"] is True and by_slug["slug"] == "paddleocr" and by_slug["keyId"]
        envelope = await call(s, "get_passport", slug="paddleocr")
        assert (await call(s, "verify_passport", passport=envelope))["valid"] is True
        changed = copy.deepcopy(envelope)
        changed["passport"]["unfragile"]["artifact"]["name"] = "Someone Else"
        report = await call(s, "verify_passport", passport=changed)
        assert report["valid"] is False and report["reasons"]
        assert (await refused(s, "verify_passport"))["code"] == "bad-request"
        read = await s.read_resource("capgraph://passport/paddleocr")
        text = read.contents[0].text  # type: ignore[union-attr]
        assert json.loads(text)["passport"] == envelope["passport"]
    session(body)


def test_errors_are_tool_errors_with_the_api_codes(session: Session) -> None:
    async def body(s: ClientSession) -> None:
        missing = await refused(s, "get_passport", slug="no-such-thing")
        assert missing["code"] == "not-found" and missing["title"] == "Not found"
        assert (await refused(s, "compare", slugs=["docling", "docling"]))["code"] \
            == "bad-request"
        out_of_range = await s.call_tool("resolve", {"intent": INTENT, "limit": 50})
        assert out_of_range.is_error is True
        assert "limit" in out_of_range.content[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="not-found"):
            await s.read_resource("capgraph://passport/no-such-thing")
        both = await call(s, "compare", slugs=["docling", "paddleocr"])
        assert [a["slug"] for a in both["artifacts"]] == ["docling", "paddleocr"]
        assert set(both["leaders"]) == set(both["artifacts"][0]["components"])
        found = await call(s, "search", query="speech to text", limit=3)
        assert 1 <= len(found["matches"]) <= 3
    session(body)


def test_mcp_and_http_answer_the_same_json(server: Server) -> None:
    async def body() -> None:
        async with http_session(server.url) as s:
            over_mcp = await call(s, "verify_passport", slug="docling")
            passport = await call(s, "get_passport", slug="docling")
        over_http = httpx.get(f"{server.url}/api/v1/verify", params={"slug": "docling"})
        assert over_mcp == over_http.json()
        assert passport == httpx.get(f"{server.url}/api/v1/passport/docling").json()
    anyio.run(body)


def test_a_tool_reads_the_api_key_from_the_authorization_header(server: Server) -> None:
    async def body() -> None:
        async with http_session(server.url) as s:
            answer = await call(s, "resolve", intent=INTENT)
        top = answer["resolved"][0]
        report = {"resolve_id": answer["resolveId"], "slug": top["artifact"]["slug"],
                  "callback_token": top["callbackToken"], "outcome": "failure"}
        async with http_session(server.url, {"Authorization": "Bearer not-a-key"}) as s:
            assert (await refused(s, "report_outcome", **report))["code"] == "unauthorized"
        key = invoke(server.data_dir, "keys", "create", "--name", "agent").stdout.strip()
        async with http_session(server.url, {"Authorization": f"Bearer {key}"}) as s:
            assert (await call(s, "report_outcome", **report))["outcome"] == "failure"
    anyio.run(body)


def test_the_rate_limit_applies_to_mcp_over_http(data_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGRAPH_RATE_LIMIT_ANONYMOUS", "4")  # one goes to the health check
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    with running_server(data_dir) as (srv, _):
        answers = [httpx.post(f"{srv.url}/mcp", json=hello, headers=headers, timeout=30)
                   for _ in range(5)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[0].json()["result"]["serverInfo"]["name"] == "capgraph"
    assert_problem(answers[-1], 429, "rate-limited")
    assert int(answers[-1].headers["Retry-After"]) >= 1
