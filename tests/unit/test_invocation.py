"""Invocation snippets (core/invocation.py): an MCP client config for MCP servers, an HTTP call
for APIs and hosted models, the install line for code; nothing the manifest did not declare."""

from __future__ import annotations

import json
from typing import Any

import pytest

from capgraph.core.invocation import invocation_for


def _inv(artifact_type: str, execution: dict[str, Any] | None, *,
         url: str = "https://example.org/tool", requires: list[str] | None = None
         ) -> dict[str, Any]:
    return invocation_for(slug="the-tool", artifact_type=artifact_type, url=url,
                          execution=execution, requires=requires or []).to_json()


def test_an_mcp_server_with_a_command_gets_an_mcp_servers_config() -> None:
    inv = _inv("mcp", {"protocol": "stdio", "auth_method": "none",
                       "command": "npx -y @modelcontextprotocol/server-filesystem '/my dir'",
                       "install": "npm install -g @modelcontextprotocol/server-filesystem"})
    assert inv["language"] == "json"
    config = json.loads(inv["snippet"])
    assert config == {"mcpServers": {"the-tool": {
        "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/my dir"]}}}
    assert inv["requires"] == []


def test_a_remote_mcp_server_gets_its_url_and_a_key_slot() -> None:
    inv = _inv("mcp", {"protocol": "https", "auth_method": "bearer",
                       "endpoint": "https://mcp.example.org/sse"}, requires=["a GitHub token"])
    server = json.loads(inv["snippet"])["mcpServers"]["the-tool"]
    assert server == {"url": "https://mcp.example.org/sse", "env": {"API_KEY": "<your key>"}}
    assert inv["requires"] == ["credentials for bearer authentication (set API_KEY)",
                               "a GitHub token"]


def test_the_mcp_protocol_wins_over_the_artifact_type() -> None:
    inv = _inv("repo", {"protocol": "mcp", "command": "uvx some-server"})
    assert json.loads(inv["snippet"])["mcpServers"]["the-tool"]["command"] == "uvx"


def test_an_mcp_server_without_execution_points_at_its_url() -> None:
    inv = _inv("mcp", None)
    assert json.loads(inv["snippet"]) == {"mcpServers": {"the-tool": {
        "url": "https://example.org/tool"}}}


@pytest.mark.parametrize(("kind", "auth", "header"), [
    ("api", "api_key", "Authorization: Bearer $API_KEY"),
    ("model", "bearer", "Authorization: Bearer $API_KEY"),
    ("api", "basic", "Authorization: Basic $CREDENTIALS"),
    ("api", "none", None),
])
def test_an_api_or_model_with_an_endpoint_gets_an_http_call(
        kind: str, auth: str, header: str | None) -> None:
    inv = _inv(kind, {"protocol": "https", "auth_method": auth,
                      "endpoint": "https://api.example.org/v1", "install": "pip install sdk"})
    assert inv["language"] == "bash"
    lines = inv["snippet"].split(" \\\n")
    assert lines[0] == "curl -sS https://api.example.org/v1"
    assert lines[-1] == '  -H "Content-Type: application/json" -d @request.json'
    assert (f'  -H "{header}"' in lines) == (header is not None)
    assert len(lines) == (3 if header else 2)


@pytest.mark.parametrize("kind", ["repo", "framework", "cli"])
def test_installable_code_gets_its_install_line_then_its_command(kind: str) -> None:
    inv = _inv(kind, {"protocol": "https", "install": "pip install docling",
                      "command": "docling paper.pdf"})
    assert inv == {"language": "bash", "snippet": "pip install docling\ndocling paper.pdf",
                   "requires": []}
    assert _inv(kind, {"protocol": "https", "install": "pip install crewai"})["snippet"] == \
        "pip install crewai"


def test_a_model_without_an_endpoint_gets_its_install_line() -> None:
    inv = _inv("model", {"protocol": "https", "install": "pip install transformers",
                         "command": "ollama run mistral"})
    assert inv["snippet"] == "pip install transformers\nollama run mistral"


def test_a_github_repo_without_execution_gets_a_clone() -> None:
    inv = _inv("repo", None, url="https://github.com/example/tool")
    assert inv["snippet"] == "git clone https://github.com/example/tool"


def test_without_anything_declared_the_url_is_the_only_pointer() -> None:
    inv = _inv("api", None)
    assert inv == {"language": "text",
                   "snippet": "See https://example.org/tool for how to call the-tool.",
                   "requires": []}


def test_requires_keeps_the_first_five() -> None:
    inv = _inv("api", None, requires=[f"r{i}" for i in range(8)])
    assert inv["requires"] == ["r0", "r1", "r2", "r3", "r4"]
