"""The page for agent builders (/docs/agents): MCP client configuration, the Python client,
and the resolve -> use -> report loop, with examples that a test runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from capgraph.http.web.views import Page, Site

__all__ = ["AgentsView", "Example", "agents_view"]


@dataclass(frozen=True)
class Example:
    title: str
    filename: str
    code: str


@dataclass(frozen=True)
class AgentsView:
    page: Page
    base_url: str
    mcp_url: str
    stdio_config: str
    http_config: str
    examples: list[Example]


_EXAMPLES = [
    ("Resolve, use, report", "resolve_use_report.py"),
    ("Verify a passport offline", "verify_offline.py"),
    ("The same loop over MCP", "mcp_loop.py"),
]


def _example(title: str, filename: str) -> Example:
    text = resources.files("capgraph.http.web.examples").joinpath(filename).read_text("utf-8")
    return Example(title, filename, text.rstrip() + "\n")


def agents_view(site: Site) -> AgentsView:
    mcp_url = f"{site.base_url}/mcp"
    stdio = {"mcpServers": {"capgraph": {
        "command": "capgraph", "args": ["mcp"],
        "env": {"CAPGRAPH_DATA_DIR": "/path/to/capgraph-data"}}}}
    http = {"mcpServers": {"capgraph": {"type": "http", "url": mcp_url}}}
    return AgentsView(
        page=Page(title="For agent builders", path="/docs/agents",
                  description="Use capgraph from an agent: MCP tools, the Python client, and "
                              "the resolve, use, report loop."),
        base_url=site.base_url, mcp_url=mcp_url,
        stdio_config=json.dumps(stdio, indent=2), http_config=json.dumps(http, indent=2),
        examples=[_example(title, name) for title, name in _EXAMPLES],
    )
