"""What a search and a resolve return, as typed records (``http/shapes.py`` turns them into
the API's JSON)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from capgraph.core.invocation import Invocation

__all__ = [
    "Alternative",
    "Answer",
    "ArtifactMatch",
    "CapabilityMatch",
    "Filtered",
    "Resolution",
    "ResolvedArtifact",
    "ResolvedCapability",
    "SearchResult",
    "match_score",
]


def match_score(relevance: float) -> float:
    """The one match-score scale of search, resolve and pages: ``tanh`` of the ranking's
    relevance (for an artifact, its rank score: best capability plus the trust prior), so
    it lies in [0, 1), keeps every order the ranking made (no ties at a cap) and is close to
    the relevance itself for ordinary values (docs/RESOLVE.md, "Match scores")."""
    return math.tanh(max(0.0, relevance))


@dataclass(frozen=True)
class CapabilityMatch:
    id: str
    uri: str
    name: str
    match_score: float  # match_score(relevance): in [0, 1), higher is better


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
class Filtered:
    """A candidate that matched but that the risk posture removed, and the gates it failed."""

    slug: str
    name: str
    capability: str  # its URI
    match_score: float
    gates: list[str]


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
    filtered: list[Filtered] = field(default_factory=list)  # matches the posture removed
    # What the confidence model saw (capgraph eval records it for bench/calibrate.py); not
    # part of the answer's wire shape.
    features: dict[str, float] = field(default_factory=dict)

    @property
    def confident(self) -> bool:
        return bool(self.resolved)

