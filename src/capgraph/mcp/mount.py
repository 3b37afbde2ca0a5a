"""The streamable HTTP transport at ``/mcp`` of the HTTP app.

Stateless and answering plain JSON: every POST is a whole exchange, so any server process can
answer it (``capgraph serve --workers N`` spreads connections over processes) and nothing is
held between requests. The endpoint sits inside the app's ASGI layers, so the rate limit and
the body limit apply to it as to every other route, and a tool reads the same Authorization
header the API does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from capgraph.config import Settings
from capgraph.mcp.server import build_server
from capgraph.registry import Registry

__all__ = ["McpEndpoint"]


class McpEndpoint:
    """An ASGI app answering MCP over streamable HTTP; ``running()`` must wrap its life (the
    app's lifespan enters it)."""

    def __init__(self, registry: Registry, settings: Settings) -> None:
        server = build_server(registry, public_url=settings.base_url,
                              trusted_proxies=settings.trusted_proxy_addresses)
        # Building the SDK's own app creates the session manager; only the manager is used.
        # On a loopback host the SDK also turns on its DNS rebinding protection.
        server.streamable_http_app(json_response=True, stateless_http=True,
                                   max_request_body_size=settings.max_body_bytes,
                                   host=settings.host)
        self._manager: StreamableHTTPSessionManager = server.session_manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self._manager.run():
            yield

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._manager.asgi_app(scope, receive, send)
