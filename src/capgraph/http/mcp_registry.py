"""The MCP Registry API (``/v0.1``, the generic registry OpenAPI of modelcontextprotocol/
registry, version 2025-12-01): MCP clients read our MCP-type artifacts as servers. Each route
parses, calls the Registry, and writes its answer; errors are problem+json like every route."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from capgraph.core.manifest import parse_manifest_text
from capgraph.http.deps import ApiKey, BaseUrl, RegistryDep

__all__ = ["mcp_registry_router"]

mcp_registry_router = APIRouter(prefix="/v0.1", tags=["mcp-registry"])


def _json(data: Any) -> Response:
    return Response(json.dumps(data, ensure_ascii=False).encode(),
                    media_type="application/json")


@mcp_registry_router.get("/servers", summary="List MCP servers (every artifact of type mcp)")
def list_servers(
    registry: RegistryDep, base: BaseUrl,
    cursor: str | None = Query(default=None, max_length=2000,
                               description="metadata.nextCursor of the previous page"),
    limit: int = Query(default=30, ge=1, le=100),
    search: str | None = Query(default=None, max_length=200,
                               description="a substring of the server name"),
    updated_since: str | None = Query(default=None, max_length=64,
                                      description="RFC 3339 date-time"),
    version: str | None = Query(default=None, max_length=255,
                                description="'latest' or an exact version"),
    include_deleted: bool = Query(default=False, description="no server is ever deleted here"),
) -> Response:
    page = registry.mcp_servers(base_url=base, cursor=cursor, limit=limit, search=search,
                                updated_since=updated_since, version=version)
    metadata: dict[str, Any] = {"count": len(page.servers)}
    if page.next_cursor:
        metadata["nextCursor"] = page.next_cursor
    return _json({"servers": page.servers, "metadata": metadata})


@mcp_registry_router.get("/servers/{server_name:path}/versions/{version}",
                         summary="One version of an MCP server ('latest' for the newest)")
def get_server_version(server_name: str, version: str, registry: RegistryDep, base: BaseUrl,
                       include_deleted: bool = Query(default=False)) -> Response:
    return _json(registry.mcp_server_version(server_name, version, base_url=base))


@mcp_registry_router.get("/servers/{server_name:path}/versions",
                         summary="Every version of an MCP server, newest first")
def list_server_versions(server_name: str, registry: RegistryDep, base: BaseUrl,
                         include_deleted: bool = Query(default=False)) -> Response:
    servers = registry.mcp_server_versions(server_name, base_url=base)
    return _json({"servers": servers, "metadata": {"count": len(servers)}})


@mcp_registry_router.post("/publish", summary="Publish a server.json (API key required)",
                          openapi_extra={"requestBody": {"required": True, "content": {
                              "application/json": {"schema": {"type": "object"}}}}})
async def publish_server(request: Request, registry: RegistryDep, key: ApiKey, base: BaseUrl
                         ) -> Response:
    document = parse_manifest_text(await request.body(), hint="json")
    answer = await run_in_threadpool(registry.publish_server_json, document,
                                     publisher_id=key.publisher_id, base_url=base)
    return _json(answer)
