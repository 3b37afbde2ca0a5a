"""``capgraph mcp``: the registry's MCP tools over stdio, for an MCP client to launch.

Standard output carries the protocol only: everything else (logs, errors) goes to stderr.
"""

from __future__ import annotations

import click

from capgraph.bootstrap import build_registry
from capgraph.mcp import build_server

__all__ = ["mcp_command"]


@click.command("mcp")
@click.option("--public-url", default=None,
              help="Base URL of links in answers (feedback URL, passports) [CAPGRAPH_PUBLIC_URL].")
@click.pass_obj
def mcp_command(obj: object, public_url: str | None) -> None:
    """Serve the MCP tools (search, resolve, get_passport, compare, report_outcome,
    verify_passport) over stdio on this data directory."""
    settings = obj.settings(public_url=public_url)  # type: ignore[attr-defined]
    registry = build_registry(settings)
    try:
        build_server(registry, public_url=settings.base_url).run("stdio")
    finally:
        registry.close()
