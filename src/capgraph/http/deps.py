"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from capgraph.http.asgi import base_url_of
from capgraph.ports import ApiKeyRecord
from capgraph.service import Registry

__all__ = ["ApiKey", "BaseUrl", "RegistryDep", "body_hint"]


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _api_key(request: Request) -> ApiKeyRecord:
    registry: Registry = request.app.state.registry
    secret = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not secret and auth.lower().startswith("bearer "):
        secret = auth[7:].strip()
    return registry.authenticate(secret)


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
