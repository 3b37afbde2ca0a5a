"""The MCP server: capgraph's registry as MCP tools and a passport resource.

Each tool parses its typed input (the SDK validates it against the pydantic annotations), calls
one ``Registry`` public method and answers the HTTP API's JSON for the same call
(http/shapes.py), so MCP and HTTP say the same. Errors are mapped once, in mcp/errors.py.
The same server runs over stdio (``capgraph mcp``) and streamable HTTP (``/mcp``, mcp/mount.py).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from capgraph import __version__
from capgraph.core.risk import RISK_POSTURES
from capgraph.core.taxonomy import ARTIFACT_TYPES
from capgraph.errors import BadRequest
from capgraph.http.asgi import base_url_of
from capgraph.http.clients import client_address, trusted_set
from capgraph.http.deps import api_secret
from capgraph.http.shapes import (
    compare_json,
    feedback_json,
    resolution_json,
    search_json,
    verify_json,
)
from capgraph.mcp import descriptions as text
from capgraph.mcp.errors import read_translated, translated
from capgraph.mcp.outputs import (
    CompareOutput,
    FeedbackOutput,
    PassportOutput,
    ResolveOutput,
    SearchOutput,
    VerifyOutput,
)
from capgraph.registry import Registry

__all__ = ["build_server"]

ArtifactType = Literal[ARTIFACT_TYPES]  # type: ignore[valid-type]
RiskPosture = Literal[RISK_POSTURES]  # type: ignore[valid-type]
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$",
                            description="an artifact's slug, e.g. 'docling'")]
_READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
# A resolve and a search remember what they answered (for outcome reports): not read-only.
_RECORDING = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                             open_world_hint=False)


class _Caller:
    """Who is calling and at which URL: the HTTP request when there is one, else stdio."""

    def __init__(self, ctx: Context, *, public_url: str, trusted: frozenset[str]) -> None:
        request = ctx.request_context.request
        self.scope: dict[str, Any] | None = getattr(request, "scope", None)
        self.public_url = public_url
        self.trusted = trusted

    @property
    def base_url(self) -> str:
        return base_url_of(self.scope) if self.scope is not None else self.public_url

    def client(self, registry: Registry) -> tuple[str, ...]:
        """The reporting client, as POST /api/feedback names it: the API key when the request
        carries one (it must be valid), else the hashed address; over stdio, the local host."""
        if self.scope is None:
            return registry.client_ids("127.0.0.1")
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in self.scope.get("headers", ())}
        secret = api_secret(headers)
        if secret:
            return ("key:" + registry.authenticate(secret).key_id,)
        return registry.client_ids(client_address(self.scope, self.trusted))


def build_server(registry: Registry, *, public_url: str,
                 trusted_proxies: tuple[str, ...] | list[str] = ()) -> MCPServer:
    """The MCP server over ``registry``; ``public_url`` is the base URL of links over stdio."""
    server: MCPServer = MCPServer(
        name="capgraph", title="capgraph registry", version=__version__,
        instructions=text.INSTRUCTIONS, website_url=public_url,
        log_level="WARNING",  # the SDK configures the root logger when none is configured
    )
    trusted = trusted_set(trusted_proxies)

    def caller(ctx: Context) -> _Caller:
        return _Caller(ctx, public_url=public_url, trusted=trusted)

    @server.tool(description=text.SEARCH, annotations=_RECORDING)
    @translated
    def search(
        query: Annotated[str, Field(min_length=2, max_length=500,
                                    description="what you need, in plain words")],
        limit: Annotated[int, Field(ge=1, le=20, description="how many artifacts")] = 5,
        type: Annotated[ArtifactType | None, Field(description="only this artifact type")
                        ] = None,
    ) -> SearchOutput:
        return SearchOutput.model_validate(
            search_json(registry.search(query, limit=limit, artifact_type=type)))

    @server.tool(description=text.RESOLVE, annotations=_RECORDING)
    @translated
    def resolve(
        intent: Annotated[str, Field(min_length=2, max_length=500,
                                     description="the task, e.g. 'extract tables from a PDF'")],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=10, description="most answers")] = 3,
        risk: Annotated[RiskPosture, Field(description="the trust gate")] = "default",
        type: Annotated[ArtifactType | None, Field(description="only this artifact type")
                        ] = None,
        capability: Annotated[str | None, Field(
            max_length=500, description="a capability:// URI prefix or phrase to pin")] = None,
    ) -> ResolveOutput:
        result = registry.resolve(intent, limit=limit, artifact_type=type, risk=risk,
                                  capability=capability)
        return ResolveOutput.model_validate(resolution_json(result, caller(ctx).base_url))

    @server.tool(description=text.GET_PASSPORT, annotations=_READ)
    @translated
    def get_passport(
        slug: Slug, ctx: Context,
        version: Annotated[int | None, Field(ge=1, description="an older version")] = None,
    ) -> PassportOutput:
        envelope = registry.envelope_bytes(slug, caller(ctx).base_url, version=version)
        return PassportOutput.model_validate(json.loads(envelope))

    @server.tool(description=text.COMPARE, annotations=_READ)
    @translated
    def compare(
        slugs: Annotated[list[Slug], Field(min_length=2, max_length=4,
                                           description="2 to 4 distinct slugs")],
        ctx: Context,
    ) -> CompareOutput:
        if len(set(slugs)) != len(slugs):
            raise BadRequest("slugs must be distinct")
        sides = [(registry.passport(s), registry.score_breakdown(s)) for s in slugs]
        return CompareOutput.model_validate(compare_json(sides, caller(ctx).base_url))

    @server.tool(description=text.REPORT_OUTCOME, annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False))
    @translated
    def report_outcome(
        resolve_id: Annotated[str, Field(min_length=1, max_length=100,
                                         description="resolveId of the resolve answer")],
        slug: Slug,
        callback_token: Annotated[str, Field(min_length=1, max_length=1000,
                                             description="callbackToken of the answer used")],
        outcome: Annotated[Literal["success", "failure"], Field(description="how it went")],
        ctx: Context,
        comment: Annotated[str | None, Field(max_length=500, description="what happened")
                           ] = None,
        source: Annotated[str | None, Field(max_length=100, description="who reports")
                          ] = None,
    ) -> FeedbackOutput:
        payload: dict[str, Any] = {"resolveId": resolve_id, "slug": slug,
                                   "callbackToken": callback_token, "outcome": outcome,
                                   "source": source or "mcp"}
        if comment is not None:
            payload["comment"] = comment
        client, *same = caller(ctx).client(registry)
        return FeedbackOutput.model_validate(
            feedback_json(registry.feedback(payload, client=client, same_client=same)))

    @server.tool(description=text.VERIFY_PASSPORT, annotations=_READ)
    @translated
    def verify_passport(
        slug: Annotated[str | None, Field(min_length=1, max_length=100,
                                          description="verify what the registry serves")
                        ] = None,
        passport: Annotated[dict[str, Any] | None, Field(
            description="a passport envelope or passport object you hold")] = None,
    ) -> VerifyOutput:
        if (slug is None) == (passport is None):
            raise BadRequest("give exactly one of slug or passport")
        report = (registry.verify_slug(slug) if slug is not None
                  else registry.verify_document(passport))
        return VerifyOutput.model_validate(verify_json(report))

    @server.resource("capgraph://passport/{slug}", name="passport", mime_type="application/json",
                     description=text.PASSPORT_RESOURCE)
    @read_translated
    def passport_resource(slug: str) -> str:
        return registry.envelope_bytes(slug, public_url).decode("utf-8")

    return server
