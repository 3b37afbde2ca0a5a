"""Typed results of the client: one frozen dataclass per answer of the HTTP API, each built
from the API's JSON by ``from_json`` and keeping that JSON as ``raw`` for fields not named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from capgraph.errors import Finding

__all__ = [
    "Answer",
    "Claim",
    "FeedbackResult",
    "Match",
    "Passport",
    "PublishResult",
    "Resolution",
    "SearchResult",
    "ValidationResult",
    "VersionInfo",
]

Json = dict[str, Any]


@dataclass(frozen=True)
class Match:
    """One artifact found by a search."""

    slug: str
    name: str
    type: str
    unfragile_rank: int
    verified: bool
    match_score: float
    capabilities: list[str]
    match_record_id: str | None
    raw: Json = field(repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Match:
        artifact = data["artifact"]
        return cls(slug=artifact["slug"], name=artifact["name"], type=artifact["type"],
                   unfragile_rank=artifact["unfragileRank"], verified=artifact["verified"],
                   match_score=data["matchScore"],
                   capabilities=[c["name"] for c in data.get("capabilities", [])],
                   match_record_id=data.get("matchRecordId"), raw=data)


@dataclass(frozen=True)
class SearchResult:
    query: str
    matches: list[Match]
    raw: Json = field(repr=False)

    @classmethod
    def from_json(cls, data: Json) -> SearchResult:
        return cls(query=data["query"], matches=[Match.from_json(m) for m in data["matches"]],
                   raw=data)


@dataclass(frozen=True)
class Answer:
    """One resolved capability: what to call, how, how far to trust it, and what to send back
    with ``report`` once it was used."""

    slug: str
    name: str
    capability_id: str
    capability_uri: str
    capability_name: str
    invocation: Json
    trust: Json
    match_confidence: float
    callback_token: str
    feedback_url: str
    raw: Json = field(repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Answer:
        capability = data["capability"]
        return cls(slug=data["artifact"]["slug"], name=data["artifact"]["name"],
                   capability_id=capability["id"], capability_uri=capability["uri"],
                   capability_name=capability["name"], invocation=data["invocation"],
                   trust=data["trust"], match_confidence=data["matchConfidence"],
                   callback_token=data["callbackToken"], feedback_url=data["feedbackUrl"],
                   raw=data)


@dataclass(frozen=True)
class Resolution:
    """A resolve's answer. ``resolved`` is empty when nothing cleared the risk gate
    confidently; ``alternatives`` then says what came closest."""

    intent: str
    resolve_id: str
    risk: str
    resolved: list[Answer]
    match_confidence: float | None
    alternatives: list[Json]
    raw: Json = field(repr=False)

    @property
    def best(self) -> Answer | None:
        return self.resolved[0] if self.resolved else None

    @classmethod
    def from_json(cls, data: Json) -> Resolution:
        resolved = [Answer.from_json(a) for a in data["resolved"]]
        confidence = data.get("matchConfidence")
        if confidence is None and resolved:
            confidence = resolved[0].match_confidence
        return cls(intent=data["intent"], resolve_id=data["resolveId"], risk=data["risk"],
                   resolved=resolved, match_confidence=confidence,
                   alternatives=data.get("alternatives", []), raw=data)


@dataclass(frozen=True)
class Passport:
    """A signed passport envelope as served (``envelope``: pass it to ``verify``)."""

    slug: str
    version: int
    key_id: str
    score: int
    envelope: Json = field(repr=False)

    @property
    def body(self) -> Json:
        """The signed passport body (its ``unfragile`` object)."""
        body: Json = self.envelope["passport"]["unfragile"]
        return body

    @classmethod
    def from_json(cls, data: Json) -> Passport:
        passport = data["passport"]
        body = passport["unfragile"]
        return cls(slug=body["artifact"]["slug"], version=passport["version"],
                   key_id=passport["keyId"], score=body["trust"]["score"], envelope=data)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: str
    content_hash: str
    source: str
    score: int
    key_id: str
    url: str

    @classmethod
    def from_json(cls, data: Json) -> VersionInfo:
        return cls(version=data["version"], created_at=data["createdAt"],
                   content_hash=data["contentHash"], source=data["source"],
                   score=data["score"], key_id=data["keyId"], url=data["url"])


@dataclass(frozen=True)
class FeedbackResult:
    """``counted`` is False when the report was stored but this client's cap was reached."""

    counted: bool
    slug: str
    capability: str | None
    outcome: str
    passport_version: int | None

    @classmethod
    def from_json(cls, data: Json) -> FeedbackResult:
        return cls(counted=data["counted"], slug=data["slug"], capability=data.get("capability"),
                   outcome=data["outcome"], passport_version=data.get("passportVersion"))


def _findings(items: list[dict[str, str]], severity: str) -> list[Finding]:
    return [Finding(i["path"], i["code"], i["message"], severity) for i in items]


@dataclass(frozen=True)
class PublishResult:
    """``created`` is False when the manifest was identical to the latest version."""

    slug: str
    version: int
    created: bool
    score: int
    content_hash: str
    warnings: list[Finding]

    @classmethod
    def from_json(cls, data: Json) -> PublishResult:
        return cls(slug=data["slug"], version=data["version"], created=data["created"],
                   score=data["score"], content_hash=data["contentHash"],
                   warnings=_findings(data.get("warnings", []), "warning"))


@dataclass(frozen=True)
class ValidationResult:
    valid: bool
    errors: list[Finding]
    warnings: list[Finding]

    @classmethod
    def from_json(cls, data: Json) -> ValidationResult:
        return cls(valid=data["valid"], errors=_findings(data["errors"], "error"),
                   warnings=_findings(data["warnings"], "warning"))


@dataclass(frozen=True)
class Claim:
    """A started claim: put ``token`` where ``instructions`` say, then ``verify_claim``."""

    claim_id: str
    kind: str
    subject: str
    method: str
    token: str
    status: str
    expires_at: str
    instructions: str | None
    raw: Json = field(repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Claim:
        return cls(claim_id=data["claimId"], kind=data["kind"], subject=data["subject"],
                   method=data["method"], token=data["token"], status=data["status"],
                   expires_at=data["expiresAt"], instructions=data.get("instructions"),
                   raw=data)
