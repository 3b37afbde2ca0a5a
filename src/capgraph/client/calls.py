"""Each operation of the client as data: the HTTP request to send and how to read its answer.
``Client`` and ``AsyncClient`` send the same ``Call``s, so both say exactly the same."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from capgraph.client.results import (
    Claim,
    FeedbackResult,
    Passport,
    PublishResult,
    Resolution,
    SearchResult,
    ValidationResult,
    VersionInfo,
)

__all__ = ["Call", "Outcome"]

Outcome = Literal["success", "failure"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    read: Callable[[Any], Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    text: bool = False  # the answer is text, not JSON


def _manifest(manifest: str | bytes | Mapping[str, Any]) -> tuple[bytes, str]:
    """A manifest as the body to send: YAML or JSON text as it is, a mapping as JSON."""
    if isinstance(manifest, Mapping):
        return json.dumps(manifest).encode(), "application/json"
    raw = manifest.encode() if isinstance(manifest, str) else manifest
    kind = "application/json" if raw.lstrip()[:1] in (b"{", b"[") else "application/yaml"
    return raw, kind


def search(query: str, *, limit: int, type: str | None) -> Call:
    params: dict[str, Any] = {"q": query, "limit": limit}
    if type is not None:
        params["type"] = type
    return Call("GET", "/api/v1/search", SearchResult.from_json, params=params)


def resolve(intent: str, *, limit: int, risk: str, type: str | None,
            capability: str | None) -> Call:
    body: dict[str, Any] = {"intent": intent, "limit": limit, "risk": risk}
    if type is not None:
        body["type"] = type
    if capability is not None:
        body["capability"] = capability
    return Call("POST", "/api/v1/resolve", Resolution.from_json, json=body)


def passport(slug: str, *, version: int | None) -> Call:
    params = {"version": version} if version is not None else {}
    return Call("GET", f"/api/v1/passport/{slug}", Passport.from_json, params=params)


def versions(slug: str) -> Call:
    return Call("GET", f"/api/v1/artifacts/{slug}/versions",
                lambda data: [VersionInfo.from_json(v) for v in data["versions"]])


def feedback(*, resolve_id: str, slug: str, callback_token: str, outcome: Outcome,
             comment: str | None, source: str | None) -> Call:
    body: dict[str, Any] = {"resolveId": resolve_id, "slug": slug,
                            "callbackToken": callback_token, "outcome": outcome}
    if comment is not None:
        body["comment"] = comment
    if source is not None:
        body["source"] = source
    return Call("POST", "/api/feedback", FeedbackResult.from_json, json=body)


def publish(manifest: str | bytes | Mapping[str, Any]) -> Call:
    content, kind = _manifest(manifest)
    return Call("POST", "/api/v1/artifacts", PublishResult.from_json, content=content,
                content_type=kind)


def validate(manifest: str | bytes | Mapping[str, Any]) -> Call:
    content, kind = _manifest(manifest)
    return Call("POST", "/api/v1/validate", ValidationResult.from_json, content=content,
                content_type=kind)


def start_claim(slug: str, method: str) -> Call:
    return Call("POST", "/api/v1/claims", Claim.from_json, json={"slug": slug, "method": method})


def claim(claim_id: str) -> Call:
    return Call("GET", f"/api/v1/claims/{claim_id}", Claim.from_json)


def verify_claim(claim_id: str) -> Call:
    """The answer is the artifact's ownership (artifact claims) or the new publisher key
    (domain claims), as the API gives it."""
    return Call("POST", f"/api/v1/claims/{claim_id}/verify", dict)


def jwks() -> Call:
    return Call("GET", "/api/v1/trust-passport-public-key", dict)


def consistency(old_size: int, size: int) -> Call:
    return Call("GET", "/api/v1/log/proof/consistency", dict,
                params={"from": old_size, "size": size})
