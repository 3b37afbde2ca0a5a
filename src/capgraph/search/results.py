"""What a search and a resolve return, as typed records (``http/shapes.py`` turns them into
the API's JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from capgraph.core.invocation import Invocation

__all__ = [
    "Alternative",
    "Answer",
    "ArtifactMatch",
    "CapabilityMatch",
    "Resolution",
    "ResolvedArtifact",
    "ResolvedCapability",
    "SearchResult",
]


@dataclass(frozen=True)
class CapabilityMatch:
    id: str
    uri: str
    name: str
    match_score: float  # 0..1, higher is better


@dataclass(frozen=True)
class ArtifactMatch:
    slug: str
    name: str
    type: str
    unfragile_rank: int
    verified: bool
    description: str
    match_score: float
    capabilities: list[CapabilityMatch]
    match_record_id: str


@dataclass(frozen=True)
class SearchResult:
    query: str
    intent: str
    matches: list[ArtifactMatch] = field(default_factory=list)


@dataclass(frozen=True)
class ResolvedArtifact:
    name: str
    slug: str
    type: str
    url: str | None


@dataclass(frozen=True)
class ResolvedCapability:
    id: str
    uri: str
    name: str
    intent: str
    description: str
    why_this_matches: list[str]
    vs_alternatives: str
    best_for: list[str]
    limitations: list[str]


@dataclass(frozen=True)
class Alternative:
    slug: str
    name: str
    capability: str  # its URI
    why: str


@dataclass(frozen=True)
class Answer:
    """One resolved capability, with what an agent needs to call it and to trust it."""

    artifact: ResolvedArtifact
    capability: ResolvedCapability
    invocation: Invocation
    trust: dict[str, Any]  # the signed passport object, exactly as stored
    alternatives: list[Alternative]
    match_confidence: float
    last_verified: str | None
    callback_token: str


@dataclass(frozen=True)
class Resolution:
    """A resolve: the answers when one is confident, else the confidence and alternatives."""

    intent: str
    risk: str
    resolve_id: str
    resolved_at: str
    resolver_version: str
    resolved: list[Answer] = field(default_factory=list)
    match_confidence: float = 0.0  # of the best candidate (the answers carry their own)
    alternatives: list[Alternative] = field(default_factory=list)  # when none is confident

    @property
    def confident(self) -> bool:
        return bool(self.resolved)

