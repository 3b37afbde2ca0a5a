"""Ownership routes: who owns an artifact, maintainers and transfers, claims, and publisher
keys by domain proof (docs/OWNERSHIP.md)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from capgraph.core.manifest import parse_manifest_text
from capgraph.errors import BadRequest
from capgraph.http.deps import ApiKey, RegistryDep, api_secret
from capgraph.http.shapes import claim_json, ownership_json

__all__ = ["ownership_router"]

ownership_router = APIRouter(prefix="/api/v1")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False).encode(), status_code=status,
                    media_type="application/json")


async def _fields(request: Request, *names: str) -> list[str]:
    body = parse_manifest_text(await request.body(), hint="json")
    if not isinstance(body, dict):
        raise BadRequest(f"expected a JSON object with {', '.join(names)}")
    values = []
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= 253:
            raise BadRequest(f"{name} must be a string of 1 to 253 characters")
        values.append(value)
    return values


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "required": list(schema), "properties": schema}}}}}


@ownership_router.get("/artifacts/{slug}/ownership", tags=["ownership"],
                      summary="Owner, maintainers and verification of an artifact")
def get_ownership(slug: str, registry: RegistryDep) -> Response:
    return _json(ownership_json(slug, registry.ownership(slug)))


@ownership_router.post("/artifacts/{slug}/maintainers", tags=["ownership"],
                       summary="Add a maintainer (the owner's key)",
                       openapi_extra=_body({"publisher": {"type": "string"}}))
async def add_maintainer(slug: str, request: Request, registry: RegistryDep, key: ApiKey
                         ) -> Response:
    (publisher,) = await _fields(request, "publisher")
    record = await run_in_threadpool(registry.add_maintainer, slug, publisher,
                                     actor=key.publisher_id)
    return _json(ownership_json(slug, record))


@ownership_router.delete("/artifacts/{slug}/maintainers/{publisher}", tags=["ownership"],
                         summary="Remove a maintainer (the owner's key)")
def remove_maintainer(slug: str, publisher: str, registry: RegistryDep, key: ApiKey
                      ) -> Response:
    return _json(ownership_json(slug, registry.remove_maintainer(
        slug, publisher, actor=key.publisher_id)))


@ownership_router.post("/artifacts/{slug}/transfer", tags=["ownership"],
                       summary="Make another publisher the owner (the owner's key)",
                       openapi_extra=_body({"publisher": {"type": "string"}}))
async def transfer(slug: str, request: Request, registry: RegistryDep, key: ApiKey
                   ) -> Response:
    (publisher,) = await _fields(request, "publisher")
    record = await run_in_threadpool(registry.transfer, slug, publisher,
                                     actor=key.publisher_id)
    return _json(ownership_json(slug, record))


@ownership_router.post("/claims", tags=["ownership"], status_code=201,
                       summary="Start proving you build an artifact (API key required)",
                       openapi_extra=_body({"slug": {"type": "string"}, "method": {
                           "type": "string", "enum": ["http", "dns", "repository"]}}))
async def start_claim(request: Request, registry: RegistryDep, key: ApiKey) -> Response:
    slug, method = await _fields(request, "slug", "method")
    started = await run_in_threadpool(registry.start_claim, slug, method,
                                      publisher_id=key.publisher_id)
    return _json(claim_json(started.claim, started.instructions), 201)


@ownership_router.post("/publishers", tags=["ownership"], status_code=201,
                       summary="Start proving a domain, for a publisher key (no key needed)",
                       openapi_extra=_body({"domain": {"type": "string"}, "method": {
                           "type": "string", "enum": ["http", "dns"]}}))
async def start_domain_claim(request: Request, registry: RegistryDep) -> Response:
    domain, method = await _fields(request, "domain", "method")
    started = await run_in_threadpool(registry.start_domain_claim, domain, method)
    return _json(claim_json(started.claim, started.instructions), 201)


@ownership_router.get("/claims/{claim_id}", tags=["ownership"], summary="A started claim")
def get_claim(claim_id: str, registry: RegistryDep) -> Response:
    return _json(claim_json(registry.claim(claim_id)))


@ownership_router.post("/claims/{claim_id}/verify", tags=["ownership"],
                       summary="Check a claim's proof (artifact claims: the claimant's key)")
async def verify_claim(claim_id: str, request: Request, registry: RegistryDep) -> Response:
    claim = registry.claim(claim_id)
    if claim.kind == "domain":
        issued = await run_in_threadpool(registry.verify_domain_claim, claim_id)
        return _json({"publisher": issued.publisher_id, "keyId": issued.key_id,
                      "key": issued.secret, "domain": claim.subject}, 201)
    key = registry.authenticate(api_secret(request.headers))
    record = await run_in_threadpool(registry.verify_claim, claim_id,
                                     publisher_id=key.publisher_id)
    passport = registry.passport(claim.subject)
    return _json({**ownership_json(claim.subject, record),
                  "passportVersion": passport.version})
