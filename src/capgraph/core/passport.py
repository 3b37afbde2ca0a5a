"""The trust passport: body models in the seeds' exact key order, and the signed envelope.

``PassportBody`` is the ``unfragile`` object; ``Passport`` is the signed ``passport`` object
around it. Models check their invariants when built, parse with ``from_json`` and write with
``to_json``; the JSON they write has the seeds' key order and number forms (an integral float
such as ``0.0`` is written ``0``, as the seeds and RFC 8785 write it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from capgraph.core.taxonomy import ARTIFACT_TYPES
from capgraph.errors import InvalidPassport

__all__ = [
    "COMPONENTS",
    "ArtifactInfo",
    "Capability",
    "Community",
    "Declared",
    "DeclaredExecution",
    "Distribution",
    "Maintenance",
    "ObservedOutcomes",
    "Passport",
    "PassportBody",
    "Pricing",
    "RankBreakdown",
    "Trust",
    "Weights",
    "links_for",
]

COMPONENTS = ("adoption", "quality", "ecosystem", "match_graph", "freshness")


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


Ratio = Annotated[float, Field(ge=0.0, le=1.0), PlainSerializer(_number, return_type=Any)]
ArtifactType = Literal[ARTIFACT_TYPES]  # type: ignore[valid-type]


class _Model(BaseModel):
    # strict: a passport is checked, never coerced ("25" is not a score, "false" not a bool),
    # so a body that round-trips is exactly the body that was given.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)

    def to_json(self) -> dict[str, Any]:
        """The model as JSON-ready data, in the protocol's key order."""
        return self.model_dump(mode="json", by_alias=True)


class Pricing(_Model):
    model: str
    free: bool
    starting_price: str | None


class ArtifactInfo(_Model):
    id: str = Field(min_length=1)
    slug: str = Field(min_length=1)
    name: str = Field(min_length=1)
    type: ArtifactType
    url: str
    page_url: str
    categories: list[str]
    tags: list[str]
    pricing: Pricing
    status: Literal["active", "deprecated", "archived"]
    verified: bool


class Capability(_Model):
    id: str = Field(min_length=1)
    uri: str = Field(pattern=r"^capability://")
    name: str
    description: str
    intents: list[str]
    best_for: list[str]
    limitations: list[str]
    requires: list[str]
    input_types: list[str]
    output_types: list[str]
    categories: list[str] = Field(min_length=1)
    confidence: Ratio
    matches: int = Field(ge=0)
    success_rate: Ratio


class Weights(_Model):
    adoption: Ratio
    quality: Ratio
    ecosystem: Ratio
    match_graph: Ratio
    freshness: Ratio


class RankBreakdown(_Model):
    adoption: Ratio
    quality: Ratio
    ecosystem: Ratio
    match_graph: Ratio
    freshness: Ratio
    weights: Weights

    def components(self) -> dict[str, float]:
        return {c: float(getattr(self, c)) for c in COMPONENTS}


class ObservedOutcomes(_Model):
    matches: int = Field(ge=0)
    success_rate: Ratio
    avg_confidence: Ratio
    top_intents: list[str]
    last_matched_at: str | None


class Maintenance(_Model):
    status: str
    updated_at: str | None
    last_scraped_at: str | None
    last_commit: str | None


class Community(_Model):
    stars: int | None = None
    forks: int | None = None
    weekly_downloads: int | None = None
    model_downloads: int | None = None
    model_likes: int | None = None


class Trust(_Model):
    score: int = Field(ge=0, le=100)
    verified: bool
    data_access_risk: Literal["low", "moderate", "high"]
    permissions: list[str]
    failure_modes: list[str]
    rank_breakdown: RankBreakdown
    observed_outcomes: ObservedOutcomes
    maintenance: Maintenance
    community: Community


class Distribution(_Model):
    claim_url: str
    compare_url: str


class DeclaredExecution(_Model):
    """How to run or call the artifact, as its manifest's ``execution`` block says."""

    protocol: str
    auth_method: str | None
    endpoint: str | None
    command: str | None
    install: str | None
    # The call a snippet shows (docs/MANIFEST.md); absent unless declared.
    method: str | None = None
    path: str | None = None
    auth_header: str | None = None
    headers: list[str] | None = None

    @model_serializer(mode="wrap")
    def _omit_undeclared(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for key in ("method", "path", "auth_header", "headers"):
            if out.get(key) is None:
                out.pop(key, None)
        return out


class Declared(_Model):
    """What the builder declared that the seeds' shape has no key for (PROTOCOL.md B.12):
    the artifact's own description, who maintains it, its licence and addresses, the access
    scopes it declares (``trust.permissions`` holds the capabilities' requirements, as in the
    seeds) and its execution block. Absent from passports that were not built from a
    manifest, so those keep the seeds' shape."""

    description: str | None
    maintainer: str | None
    license: str | None
    repository: str | None
    homepage: str | None
    permissions: list[str]
    execution: DeclaredExecution | None


class PassportBody(_Model):
    """The ``unfragile`` object of a passport (PROTOCOL.md A.2)."""

    at_version: Literal["1.0"] = Field(alias="@version")
    version: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")  # not \d: that takes any Unicode digit
    artifact: ArtifactInfo
    capabilities: list[Capability]
    trust: Trust
    distribution: Distribution
    declared: Declared | None = None  # extension, after the seeds' keys (B.12)

    def to_json(self) -> dict[str, Any]:
        """As ``_Model.to_json``, without ``declared`` when there is none: such a body has
        exactly the seeds' keys."""
        out = super().to_json()
        if out.get("declared") is None:
            out.pop("declared", None)
        return out

    @classmethod
    def from_json(cls, data: Any) -> PassportBody:
        """Build from parsed JSON; raises ``InvalidPassport`` naming every bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]
            )
            raise InvalidPassport(f"passport body does not match the protocol: {problems}") from exc


@dataclass(frozen=True)
class Passport:
    """The signed ``passport`` object: body, signature and what the signature covers.

    ``provenance`` records, per field path, whether the value was ``declared`` by the publisher
    or ``derived`` by the registry (PROTOCOL.md B.6); it is signed with everything else.
    """

    unfragile: dict[str, Any]
    signature: str
    signed_at: str
    signed_by: str
    version: int
    key_id: str | None = None
    provenance: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "unfragile": self.unfragile,
            "signature": self.signature,
            "signedAt": self.signed_at,
            "signedBy": self.signed_by,
            "version": self.version,
        }
        if self.key_id is not None:
            out["keyId"] = self.key_id
        if self.provenance:
            out["provenance"] = self.provenance
        return out

    def to_bytes(self) -> bytes:
        """Compact JSON bytes as stored and served (not the signed bytes: see signing.py)."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Passport:
        """Read a ``passport`` object; the body is checked against the protocol's shape."""
        if not isinstance(data, Mapping) or "unfragile" not in data:
            raise InvalidPassport("expected an object with an 'unfragile' member")
        body = PassportBody.from_json(data["unfragile"]).to_json()
        version = data.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidPassport("passport.version must be a positive integer")
        provenance = data.get("provenance") or {}
        if not isinstance(provenance, Mapping):
            raise InvalidPassport("passport.provenance must be an object")
        return cls(
            unfragile=body,
            signature=str(data.get("signature", "")),
            signed_at=str(data.get("signedAt", "")),
            signed_by=str(data.get("signedBy", "")),
            version=version,
            key_id=data.get("keyId"),
            provenance={str(k): str(v) for k, v in provenance.items()},
        )


def links_for(base_url: str, slug: str) -> dict[str, str]:
    """The ``_links`` block of an envelope, pointing at the serving registry's own base URL."""
    base = base_url.rstrip("/")
    return {
        "self": f"{base}/api/v1/passport/{slug}",
        "artifact": f"{base}/{slug}",
        "verify": f"{base}/api/v1/verify?slug={slug}",
        "publicKey": f"{base}/api/v1/trust-passport-public-key",
        "spec": f"{base}/trust",
        "schema": f"{base}/schema.json",
        "docs": f"{base}/docs",
    }
