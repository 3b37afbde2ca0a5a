"""The ASGI application factory."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from capgraph import __version__
from capgraph.bootstrap import shared_limits
from capgraph.config import Settings
from capgraph.errors import CapgraphError
from capgraph.http.api import feedback_router, router
from capgraph.http.asgi import BodyLimit, ErrorGuard, PassportFastPath, internal_error_body
from capgraph.http.mcp_registry import mcp_registry_router
from capgraph.http.openapi import install_openapi
from capgraph.http.ownership_api import ownership_router
from capgraph.http.problems import PROBLEM_TYPE, headers_for, problem_body, problem_for
from capgraph.http.ratelimit import RateLimit
from capgraph.http.recheck import recheck_lifespan
from capgraph.http.web import web_router
from capgraph.mcp import McpEndpoint
from capgraph.registry import Registry

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _problem(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _allowed(request: Request, given: str) -> str:
    """Every method the OpenAPI document lists for this path (a path's GET and POST are two
    routes, and the router names only the first), with the router's own ``given`` ones."""
    methods = {m.strip() for m in given.split(",") if m.strip()}
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def create_app(registry: Registry, settings: Settings) -> Any:
    """The full ASGI app: FastAPI routes (and MCP at /mcp) behind the body limit and the
    passport fast path."""
    mcp = McpEndpoint(registry, settings)
    app = FastAPI(
        title="capgraph",
        version=__version__,
        description="An open registry of AI capabilities with signed trust passports.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; /docs is our own page
        redoc_url=None,
        lifespan=recheck_lifespan(registry.recheck_claims, settings.claim_recheck_hours,
                                  also=mcp.running),
    )
    app.state.registry = registry
    app.state.settings = settings
    app.include_router(router)
    app.include_router(feedback_router)
    app.include_router(ownership_router)
    app.include_router(mcp_registry_router)
    app.router.routes.append(Route("/mcp", mcp, methods=["GET", "POST", "DELETE"],
                                   include_in_schema=False))
    app.include_router(web_router())  # last: its /{slug} artifact page is a catch-all
    install_openapi(app)

    @app.exception_handler(CapgraphError)
    async def capgraph_error(request: Request, exc: CapgraphError) -> Response:
        status, body = problem_for(exc, instance=request.url.path)
        return _problem(status, body, headers_for(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]), "code": str(e["type"]),
             "message": str(e["msg"])}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        return _problem(400, problem_body(status=400, code="bad-request", title="Bad request",
                                          detail=detail, instance=request.url.path,
                                          errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request, headers.get("Allow", ""))
        return _problem(exc.status_code, problem_body(
            status=exc.status_code, code=code, title=str(exc.detail), detail=str(exc.detail),
            instance=request.url.path), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return _problem(500, internal_error_body(request.url.path))

    fast = PassportFastPath(app, registry=registry)
    limited = BodyLimit(fast, max_bytes=settings.max_body_bytes)
    return ErrorGuard(RateLimit(limited, registry=registry,
                                anonymous=settings.rate_limit_anonymous,
                                keyed=settings.rate_limit_key, processes=settings.workers,
                                trusted_proxies=settings.trusted_proxy_addresses,
                                shared=shared_limits(settings)))
