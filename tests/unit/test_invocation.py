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


@pytest.mark.parametrize(("kind", "auth", "credential"), [
    ("api", "bearer", '-H "Authorization: Bearer $API_KEY"'),
    ("model", "oauth2", '-H "Authorization: Bearer $API_KEY"'),
    ("api", "basic", '-u "$USERNAME:$PASSWORD"'),
    ("api", "none", None),
])
def test_an_api_or_model_with_a_declared_call_gets_an_http_call(
        kind: str, auth: str, credential: str | None) -> None:
    inv = _inv(kind, {"protocol": "https", "auth_method": auth, "method": "POST",
                      "endpoint": "https://api.example.org/v1", "path": "/chat/completions",
                      "install": "pip install sdk"})
    assert inv["language"] == "bash"
    assert inv["missing"] == []
    lines = inv["snippet"].split(" \\\n  ")
    assert lines[0] == 'curl -sS -X POST "https://api.example.org/v1/chat/completions"'
    assert lines[-2:] == ['-H "Content-Type: application/json"', "-d @request.json"]
    assert (credential in lines) if credential else len(lines) == 3


def test_an_api_key_goes_in_the_header_the_manifest_names() -> None:
    inv = _inv("api", {"protocol": "https", "auth_method": "api_key", "auth_header": "xi-api-key",
                       "endpoint": "https://api.example.org/v1", "method": "POST",
                       "path": "/text-to-speech/{voice_id}"})
    assert inv["snippet"].splitlines()[:2] == [
        'curl -sS -X POST "https://api.example.org/v1/text-to-speech/${VOICE_ID}" \\',
        '  -H "xi-api-key: $API_KEY" \\']
    assert "Authorization" not in inv["snippet"]
    assert inv["requires"][:2] == ["set API_KEY (sent in the xi-api-key header)",
                                   "set VOICE_ID (path parameters)"]
    assert inv["missing"] == []


def test_an_api_key_without_its_header_says_so_instead_of_guessing_bearer() -> None:
    inv = _inv("api", {"protocol": "https", "auth_method": "api_key", "method": "POST",
                       "endpoint": "https://api.example.org/v1", "path": "/listen"})
    assert "Authorization" not in inv["snippet"]
    assert '-H "<api key header>: $API_KEY"' in inv["snippet"]
    assert inv["missing"] == [{"field": "execution.auth_header",
                               "message": "the header that carries the API key is not declared"}]


def test_sigv4_signs_with_aws_credentials_and_sends_the_declared_headers() -> None:
    inv = _inv("api", {"protocol": "https", "auth_method": "aws_sigv4", "method": "POST",
                       "endpoint": "https://textract.us-east-1.amazonaws.com", "path": "/",
                       "headers": ["X-Amz-Target: Textract.AnalyzeDocument",
                                   "Content-Type: application/x-amz-json-1.1"]})
    lines = inv["snippet"].split(" \\\n  ")
    assert lines == [
        'curl -sS -X POST "https://textract.us-east-1.amazonaws.com/"',
        '--aws-sigv4 "aws:amz"', '-u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"',
        "-H 'X-Amz-Target: Textract.AnalyzeDocument'",
        "-H 'Content-Type: application/x-amz-json-1.1'", "-d @request.json"]
    assert "Bearer" not in inv["snippet"] and inv["missing"] == []
    assert inv["requires"][0].startswith("AWS credentials")


def test_a_base_url_without_an_operation_names_what_is_missing() -> None:
    inv = _inv("model", {"protocol": "https", "auth_method": "bearer",
                         "endpoint": "https://api.openai.com/v1"})
    assert inv["snippet"].startswith('curl -sS -X <METHOD> "https://api.openai.com/v1/<path>"')
    assert [m["field"] for m in inv["missing"]] == ["execution.method", "execution.path"]


def test_a_declared_method_makes_the_endpoint_the_call_and_get_sends_no_body() -> None:
    inv = _inv("api", {"protocol": "https", "auth_method": "none", "method": "GET",
                       "endpoint": "https://api.example.org/v1/status"})
    assert inv["snippet"] == 'curl -sS -X GET "https://api.example.org/v1/status"'
    assert inv["missing"] == []


def test_an_undeclared_auth_method_is_missing_not_assumed() -> None:
    inv = _inv("api", {"protocol": "https", "method": "POST",
                       "endpoint": "https://api.example.org/v1"})
    assert [m["field"] for m in inv["missing"]] == ["execution.auth_method"]
    assert "Authorization" not in inv["snippet"]


@pytest.mark.parametrize("kind", ["repo", "framework", "cli"])
def test_installable_code_gets_its_install_line_then_its_command(kind: str) -> None:
    inv = _inv(kind, {"protocol": "https", "install": "pip install docling",
                      "command": "docling paper.pdf"})
    assert inv == {"language": "bash", "snippet": "pip install docling\ndocling paper.pdf",
                   "requires": [], "missing": []}
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
                   "requires": [], "missing": [{
                       "field": "execution",
                       "message": "no execution block: no endpoint, command or install line"}]}


def test_requires_keeps_the_first_five() -> None:
    inv = _inv("api", None, requires=[f"r{i}" for i in range(8)])
    assert inv["requires"] == ["r0", "r1", "r2", "r3", "r4"]
