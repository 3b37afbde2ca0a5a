"""What a search returns: artifacts, each with the capabilities that matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArtifactMatch", "CapabilityMatch", "SearchResult"]


@dataclass(frozen=True)
class CapabilityMatch:
    id: str
    uri: str
    name: str
    match_score: float  # 0..1, higher is better

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "uri": self.uri, "name": self.name,
                "matchScore": round(self.match_score, 4)}


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

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": {"slug": self.slug, "name": self.name, "type": self.type,
                         "unfragileRank": self.unfragile_rank, "verified": self.verified,
                         "description": self.description},
            "matchScore": round(self.match_score, 4),
            "capabilities": [c.to_json() for c in self.capabilities],
            "matchRecordId": self.match_record_id,
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    intent: str
    matches: list[ArtifactMatch] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "intent": self.intent,
                "matches": [m.to_json() for m in self.matches]}
