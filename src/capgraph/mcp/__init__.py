"""The MCP transport: the registry's tools over stdio (``capgraph mcp``) and streamable HTTP
(``/mcp`` on the HTTP app). Like http/ and cli/, it calls ``Registry`` public methods only."""

from capgraph.mcp.mount import McpEndpoint
from capgraph.mcp.server import build_server

__all__ = ["McpEndpoint", "build_server"]
