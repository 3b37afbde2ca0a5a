"""The tools' structured output: pydantic models over the HTTP API's JSON (http/shapes.py).

Each model names the top-level fields an agent can rely on and allows the rest, so the
structured content of a tool is exactly the JSON body the matching HTTP endpoint answers;
the models only give the tools an output schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CompareOutput",
    "FeedbackOutput",
    "PassportOutput",
    "ResolveOutput",
    "SearchOutput",
    "VerifyOutput",
]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class SearchOutput(_Shape):
    """GET /api/v1/search."""

    query: str
    intent: str | None = Field(description="the intent the query was read as, if any")
    matches: list[dict[str, Any]] = Field(
        description="artifacts, best first: artifact {slug, name, type, unfragileRank, "
                    "verified, description}, matchScore, capabilities, matchRecordId")


class ResolveOutput(_Shape):
    """POST /api/v1/resolve. With no confident answer there are also ``message``,
    ``matchConfidence`` and ``alternatives``."""

    intent: str
    resolved: list[dict[str, Any]] = Field(
        description="answers, best first: artifact, capability, invocation, trust, "
                    "alternatives, matchConfidence, lastVerified, feedbackUrl, callbackToken")
    resolvedAt: str
    resolveId: str = Field(description="pass it to report_outcome with the callbackToken")
    resolverVersion: str
    risk: str


class PassportOutput(_Shape):
    """GET /api/v1/passport/{slug}: the signed passport envelope."""

    passport: dict[str, Any] = Field(
        description="the signed passport: unfragile (body), signature, keyId, version, ...")


class CompareOutput(_Shape):
    artifacts: list[dict[str, Any]] = Field(
        description="per slug, in the order asked: slug, name, type, unfragileRank, version, "
                    "verified, capabilities, components {name: {value, weight, contribution}}")
    leaders: dict[str, str] = Field(
        description="per score component: the slug with the highest contribution, or 'tie'")


class FeedbackOutput(_Shape):
    """POST /api/feedback."""

    accepted: bool
    counted: bool = Field(description="false when this client's cap on the artifact is reached")
    slug: str
    capability: str | None
    outcome: str
    passportVersion: int | None


class VerifyOutput(_Shape):
    """GET or POST /api/v1/verify."""

    valid: bool
    slug: str | None
    version: int | None
    keyId: str | None
    signedAt: str | None
    reasons: list[str]
