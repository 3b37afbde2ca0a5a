"""Typed dependencies shared by the routes, and the one reading of an API key from headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from capgraph.http.asgi import base_url_of
from capgraph.ports import ApiKeyRecord
from capgraph.registry import Registry

__all__ = ["ApiKey", "BaseUrl", "RegistryDep", "api_secret", "body_hint"]


def api_secret(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries: ``X-API-Key``, else ``Authorization: Bearer``.
    ``headers`` looks names up case-insensitively (Starlette's ``Headers``)."""
    secret = (headers.get("x-api-key") or "").strip()
    if secret:
        return secret
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _api_key(request: Request) -> ApiKeyRecord:
    return _registry(request).authenticate(api_secret(request.headers))


def _base_url(request: Request) -> str:
    return base_url_of(dict(request.scope))


def body_hint(request: Request) -> str | None:
    """``json`` or ``yaml`` from the Content-Type, or None to let the parser decide."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.endswith("json"):
        return "json"
    if "yaml" in kind or "yml" in kind:
        return "yaml"
    return None


RegistryDep = Annotated[Registry, Depends(_registry)]
ApiKey = Annotated[ApiKeyRecord, Depends(_api_key)]
BaseUrl = Annotated[str, Depends(_base_url)]
