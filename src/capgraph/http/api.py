"""JSON routes under /api/v1. Each route parses, calls the Registry, and shapes the answer."""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from capgraph.config import Settings
from capgraph.core import scoring
from capgraph.core.manifest import parse_manifest_text
from capgraph.core.risk import RISK_POSTURES
from capgraph.core.taxonomy import ARTIFACT_TYPES
from capgraph.errors import BadRequest
from capgraph.http.caching import CHANGING, IMMUTABLE, etag_matches, etag_of
from capgraph.http.clients import client_address, trusted_set
from capgraph.http.deps import ApiKey, BaseUrl, RegistryDep, api_secret, body_hint
from capgraph.http.shapes import (
    feedback_json,
    import_json,
    publish_json,
    resolution_json,
    search_json,
    validation_json,
    verify_json,
    version_json,
)
from capgraph.registry import IMPORT_FORMATS, PASSPORT_FORMAT, Registry

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
ArtifactType = Literal[ARTIFACT_TYPES]  # type: ignore[valid-type]  # an enum in the schema

# Every integer a request carries is bounded in the schema, so FastAPI answers 400 before a
# number SQLite cannot hold (64 bits) reaches a query: 2^53 - 1 is also the largest integer
# every JSON client reads exactly.
INT_MAX = 2**53 - 1

_MANIFEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
        "description": "An unfragile.yml manifest, as YAML or JSON (docs/MANIFEST.md).",
    }
}
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object"}},
                    "text/markdown": {"schema": {"type": "string"}}},
        "description": "An MCP server.json, an A2A agent card, a Hugging Face model card "
        "(README.md), an OpenRouter-style model list, or a capgraph passport "
        "(docs/IMPORT.md). Empty when ?url= is given.",
    }
}
# /validate reports on any document (a list, a number: "a manifest must be an object").
_ANY_DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,  # an empty body is reported on too ("the manifest is empty")
        "content": {
            "application/yaml": {"schema": {}},
            "application/json": {"schema": {}},
        },
        "description": "A manifest to check, as YAML or JSON; the answer lists what is wrong.",
    }
}
_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False).encode(), status_code=status,
        media_type="application/json", headers=headers,
    )


def cached(request: Request, data: bytes, media_type: str, *, immutable: bool) -> Response:
    """``data`` with a strong ``ETag`` (its SHA-256) and ``Cache-Control``; 304 without a
    body when the client's ``If-None-Match`` names it."""
    etag = etag_of(data)
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE if immutable else CHANGING}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


async def _json_body(request: Request) -> Any:
    # The manifest parser turns every failure (not UTF-8, syntax, nesting too deep, integers
    # too long) into a ParseError with the position; bare json.loads let the last two become 500s.
    # Off the event loop, like every parse of a request body: other clients keep being served.
    return await run_in_threadpool(parse_manifest_text, await request.body(), hint="json")


@router.get("/health", tags=["meta"])
def health(registry: RegistryDep) -> dict[str, Any]:
    return {"status": "ok", "artifacts": registry.count()}


@router.get("/passport/{slug}", tags=["passports"], summary="The signed passport of an artifact")
def get_passport(
    slug: str, registry: RegistryDep, base: BaseUrl, request: Request,
    version: int | None = Query(default=None, ge=1, le=INT_MAX,
                                 description="an older version number"),
) -> Response:
    return cached(request, registry.envelope_bytes(slug, base, version=version),
                  "application/json", immutable=version is not None)


@router.get("/artifacts", tags=["artifacts"], summary="List artifacts")
def list_artifacts(
    registry: RegistryDep, base: BaseUrl,
    type: ArtifactType | None = Query(default=None, description="one of the artifact types"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=INT_MAX),
) -> Response:
    if type is not None and type not in ARTIFACT_TYPES:
        raise BadRequest(f"type {type!r} is not one of {', '.join(ARTIFACT_TYPES)}")
    rows = registry.artifacts(artifact_type=type, limit=limit, offset=offset)
    return _json({
        "total": registry.count(artifact_type=type),
        "artifacts": [
            {"slug": r.slug, "name": r.name, "type": r.artifact_type, "unfragileRank": r.score,
             "latestVersion": r.latest_version, "updatedAt": r.updated_at,
             "passport": f"{base}/api/v1/passport/{r.slug}"}
            for r in rows
        ],
    })


@router.post("/artifacts", tags=["artifacts"], summary="Publish a manifest (API key required)",
             openapi_extra=_MANIFEST_BODY)
async def publish(request: Request, registry: RegistryDep, key: ApiKey, base: BaseUrl
                  ) -> Response:
    result = await run_in_threadpool(registry.publish, await request.body(),
                                     hint=body_hint(request), publisher_id=key.publisher_id)
    location = f"{base}/api/v1/artifacts/{result.stored.slug}/versions/{result.stored.version}"
    return _json(publish_json(result), 201 if result.created else 200, {"Location": location})


@router.post("/import", tags=["artifacts"], openapi_extra=_IMPORT_BODY,
             summary="Import a document in another format, or fetch one (API key required)")
async def import_document(
    request: Request, registry: RegistryDep, key: ApiKey,
    url: str | None = Query(default=None, max_length=2000,
                            description="fetch the document from this https URL"),
    format: str | None = Query(default=None, description="one of " + ", ".join(IMPORT_FORMATS)),
    source_url: str | None = Query(default=None, max_length=2000,
                                   description="where the posted document came from"),
) -> Response:
    if url is not None:
        report = await run_in_threadpool(registry.import_url, url, fmt=format,
                                         publisher_id=key.publisher_id)
    else:
        report = await run_in_threadpool(registry.import_document, await request.body(),
                                         fmt=format, source_url=source_url,
                                         publisher_id=key.publisher_id)
    report.raise_if_nothing_stored()
    single = report.entries[0] if len(report.entries) == 1 else None
    if report.format == PASSPORT_FORMAT and single is not None and single.result is not None:
        return _json(publish_json(single.result), 201 if single.result.created else 200)
    return _json(import_json(report), 201 if any(e.status in ("new", "updated")
                                                 for e in report.entries) else 200)


@router.get("/artifacts/{slug}", tags=["artifacts"], summary="An artifact and its history")
def get_artifact(slug: str, registry: RegistryDep, base: BaseUrl) -> Response:
    history = registry.versions(slug)
    latest = history[-1]
    return _json({
        "slug": slug, "name": latest.name, "type": latest.artifact_type,
        "unfragileRank": latest.score, "latestVersion": latest.version,
        "passport": f"{base}/api/v1/passport/{slug}",
        "versions": [version_json(v, base) for v in history],
    })


@router.get("/artifacts/{slug}/score", tags=["trust"],
            summary="How the UnfragileRank was reached, component by component")
def score_breakdown(slug: str, registry: RegistryDep,
                    version: int | None = Query(default=None, ge=1, le=INT_MAX)) -> Response:
    return _json(registry.score_breakdown(slug, version=version))


@router.get("/artifacts/{slug}/versions", tags=["artifacts"], summary="Every stored version")
def list_versions(slug: str, registry: RegistryDep, base: BaseUrl) -> Response:
    return _json({"slug": slug,
                  "versions": [version_json(v, base) for v in registry.versions(slug)]})


@router.get("/artifacts/{slug}/versions/{number}", tags=["artifacts"],
            summary="The passport envelope of one version")
def get_version(slug: str, registry: RegistryDep, base: BaseUrl, request: Request,
                number: int = Path(ge=1, le=INT_MAX)) -> Response:
    return cached(request, registry.envelope_bytes(slug, base, version=number),
                  "application/json", immutable=True)


@router.post("/validate", tags=["manifests"], summary="Validate a manifest",
             openapi_extra=_ANY_DOCUMENT_BODY)
async def validate(request: Request, registry: RegistryDep) -> Response:
    report = await run_in_threadpool(registry.validate, await request.body(),
                                     hint=body_hint(request))
    return _json(validation_json(report))


@router.get("/trust-passport-public-key", tags=["trust"], summary="The JWK Set")
def public_keys(registry: RegistryDep, request: Request) -> Response:
    return cached(request, registry.jwks_bytes(), "application/jwk-set+json", immutable=False)


@router.get("/verify", tags=["trust"], summary="Verify what the registry serves for a slug")
def verify_slug(registry: RegistryDep, slug: str = Query(min_length=1, max_length=100)
                ) -> JSONResponse:
    return JSONResponse(verify_json(registry.verify_slug(slug)))


@router.post("/verify", tags=["trust"], summary="Verify a posted passport envelope",
             openapi_extra=_JSON_BODY)
async def verify_document(request: Request, registry: RegistryDep) -> JSONResponse:
    report = await run_in_threadpool(registry.verify_document, await _json_body(request))
    return JSONResponse(verify_json(report))


@router.get("/scoring", tags=["trust"], summary="The scoring formula and weight tables")
def scoring_method() -> dict[str, Any]:
    return {
        "score": "round_half_up(100 x sum(weight x component))",
        "components": scoring.COMPONENT_FORMULAS,
        "weights": scoring.WEIGHTS,
        "defaultWeights": scoring.DEFAULT_WEIGHTS,
        "adoptionScales": scoring.ADOPTION_SCALES,
    }


@router.get("/log/checkpoint", tags=["log"], summary="The latest signed checkpoint",
            response_class=PlainTextResponse)
def log_checkpoint(registry: RegistryDep, request: Request) -> Response:
    return cached(request, registry.checkpoint()[1].encode(), "text/plain; charset=utf-8",
                  immutable=False)


@router.get("/log/tile/{path:path}", tags=["log"],
            summary="A C2SP tlog-tiles hash tile or entry bundle",
            response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def log_tile(path: str, registry: RegistryDep, request: Request) -> Response:
    full, data = registry.log_tile(path)
    return cached(request, data, "application/octet-stream", immutable=full)


@router.get("/log/key", tags=["log"], summary="The log's signed-note verifier key",
            response_class=PlainTextResponse)
def log_key(registry: RegistryDep) -> PlainTextResponse:
    return PlainTextResponse(registry.log_verifier().encode() + "\n")


@router.get("/log/proof/inclusion", tags=["log"], summary="An inclusion proof")
def log_inclusion(
    registry: RegistryDep,
    index: int = Query(ge=0, le=INT_MAX, description="the entry's index"),
    size: int = Query(ge=1, le=INT_MAX, description="the tree size the proof is for"),
) -> Response:
    return _json(registry.inclusion(index, size))


@router.get("/log/proof/consistency", tags=["log"], summary="A consistency proof")
def log_consistency(
    registry: RegistryDep,
    from_: int = Query(alias="from", ge=1, le=INT_MAX, description="the older tree size"),
    size: int = Query(ge=1, le=INT_MAX, description="the newer tree size"),
) -> Response:
    return _json(registry.consistency(from_, size))


@router.get("/log/entries", tags=["log"], summary="Leaf data of log entries [start, end)")
def log_entries(
    registry: RegistryDep,
    start: int = Query(ge=0, le=INT_MAX),
    end: int = Query(ge=1, le=INT_MAX),
) -> Response:
    entries = registry.log_entries(start, end)
    return _json({"start": start, "end": end,
                  "entries": [base64.b64encode(e).decode() for e in entries]})


@router.get("/search", tags=["search"], summary="Artifacts whose capabilities match a query")
def search(
    registry: RegistryDep,
    q: str = Query(min_length=2, max_length=500, description="what you need, 2 to 500 characters"),
    limit: int = Query(default=5, ge=1, le=20),
    type: ArtifactType | None = Query(default=None, description="one of the artifact types"),
) -> Response:
    if type is not None and type not in ARTIFACT_TYPES:
        raise BadRequest(f"type {type!r} is not one of {', '.join(ARTIFACT_TYPES)}")
    return _json(search_json(registry.search(q, limit=limit, artifact_type=type)))


@router.post("/resolve", tags=["search"], summary="Resolve an intent to the best capability",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "required": ["intent"], "properties": {
                     "intent": {"type": "string", "minLength": 2, "maxLength": 500},
                     "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
                     "type": {"type": ["string", "null"], "enum": [*ARTIFACT_TYPES, None]},
                     "risk": {"type": "string",
                              "enum": list(RISK_POSTURES)},
                     "capability": {"type": ["string", "null"],
                                    "description": "a capability:// URI (prefix) or a phrase"},
                 }}}}}})
async def resolve(request: Request, registry: RegistryDep, base: BaseUrl) -> Response:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object with an 'intent'")
    intent = body.get("intent")
    limit = body.get("limit", 3)
    kind = body.get("type")
    risk = body.get("risk", "default")
    capability = body.get("capability")
    if not isinstance(intent, str):
        raise BadRequest("intent must be a string of 2 to 500 characters")
    if isinstance(limit, float) and limit.is_integer():  # 3.0 is an integer to JSON Schema
        limit = int(limit)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise BadRequest("limit must be an integer between 1 and 10")
    if kind is not None and kind not in ARTIFACT_TYPES:
        raise BadRequest(f"type must be one of {', '.join(ARTIFACT_TYPES)}")
    if not isinstance(risk, str):
        raise BadRequest("risk must be a string")
    if capability is not None and not isinstance(capability, str):
        raise BadRequest("capability must be a string")
    result = await run_in_threadpool(registry.resolve, intent, limit=limit, artifact_type=kind,
                                     risk=risk, capability=capability)
    return _json(resolution_json(result, base))


feedback_router = APIRouter(prefix="/api")


@feedback_router.post("/feedback", tags=["feedback"], summary="Report an outcome",
                      openapi_extra={"requestBody": {"required": True, "content": {
                          "application/json": {"schema": {"type": "object", "properties": {
                              "resolveId": {"type": "string"}, "slug": {"type": "string"},
                              "callbackToken": {"type": "string"},
                              "matchRecordId": {"type": "string"},
                              "outcome": {"type": "string", "enum": ["success", "failure"]},
                              "clickedThrough": {"type": "boolean"},
                              "source": {"type": "string", "maxLength": 100},
                              "comment": {"type": "string", "maxLength": 500},
                          }, "required": ["outcome"]}}}}})
async def feedback(request: Request, registry: RegistryDep) -> Response:
    payload = await _json_body(request)
    client, *same = await run_in_threadpool(client_of, request, registry)
    result = await run_in_threadpool(registry.feedback, payload, client=client,
                                     same_client=same)
    return _json(feedback_json(result), 201 if result.counted else 202)


def client_of(request: Request, registry: Registry) -> tuple[str, ...]:
    """Who is reporting: the API key when one is valid, else a salted hash of the address
    (today's, then yesterday's while its salt is kept: ``Registry.client_ids``). The address
    is the peer's, or the forwarded one when the peer is a trusted proxy (http/clients.py)."""
    secret = api_secret(request.headers)
    if secret:
        return ("key:" + registry.authenticate(secret).key_id,)
    settings: Settings = request.app.state.settings
    trusted = trusted_set(settings.trusted_proxy_addresses)
    return registry.client_ids(client_address(request.scope, trusted))
