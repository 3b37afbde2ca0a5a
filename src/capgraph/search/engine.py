"""Retrieval: candidates for a query, scored by text match with the trust score as a prior.

Ranking of one artifact for a query: ``relevance + PRIOR_WEIGHT x UnfragileRank / 100``, where
relevance is the best capability's BM25 score divided by the best score of the whole query
(so 1.0 for the top keyword hit). The prior only reorders near-ties: trust never lifts an
artifact that does not match.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from capgraph.errors import BadRequest
from capgraph.ports import Store
from capgraph.search.documents import query_terms
from capgraph.search.results import ArtifactMatch, CapabilityMatch, SearchResult

__all__ = ["PRIOR_WEIGHT", "Candidate", "Card", "SearchEngine", "check_query"]

PRIOR_WEIGHT = 0.05
CANDIDATES = 200
CAPS_PER_ARTIFACT = 3


@dataclass(frozen=True)
class Card:
    """What ranking and answers need of an artifact's latest version, parsed once."""

    slug: str
    version: int
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["artifact"]["name"])

    @property
    def type(self) -> str:
        return str(self.body["artifact"]["type"])

    @property
    def score(self) -> int:
        return int(self.body["trust"]["score"])

    @property
    def verified(self) -> bool:
        return bool(self.body["trust"]["verified"])

    @property
    def description(self) -> str:
        caps = self.body["capabilities"]
        return str(caps[0]["description"]) if caps else ""

    def capability(self, cap_id: str) -> dict[str, Any] | None:
        for cap in self.body["capabilities"]:
            if cap["id"] == cap_id:
                return dict(cap)
        return None


@dataclass(frozen=True)
class Candidate:
    """An artifact and its matching capabilities (best first) for one query."""

    card: Card
    caps: list[tuple[str, float]]  # (capability id, relevance 0..1)
    relevance: float
    rank_score: float
    raw: float  # the best capability's raw BM25 score


def check_query(text: str, *, field: str = "q") -> str:
    text = text.strip()
    if not 2 <= len(text) <= 500:
        raise BadRequest(f"{field} must be 2 to 500 characters")
    return text


class SearchEngine:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cards: dict[tuple[str, int], Card] = {}

    def card(self, slug: str) -> Card | None:
        stored = self.store.latest(slug)
        if stored is None:
            return None
        key = (slug, stored.version)
        card = self._cards.get(key)
        if card is None:
            card = Card(slug, stored.version, json.loads(stored.passport)["unfragile"])
            if len(self._cards) > 100_000:
                self._cards.clear()
            self._cards[key] = card
        return card

    def candidates(self, text: str, *, artifact_type: str | None = None) -> list[Candidate]:
        """Every artifact with a matching capability, best first."""
        terms = query_terms(text)
        hits = self.store.keyword_search(terms, limit=CANDIDATES, artifact_type=artifact_type)
        if not hits:
            return []
        top = hits[0][2] or 1.0
        per_artifact: dict[str, list[tuple[str, float]]] = defaultdict(list)
        raw: dict[str, float] = {}
        for slug, cap_id, score in hits:
            per_artifact[slug].append((cap_id, score / top))
            raw.setdefault(slug, score)
        out = []
        for slug, caps in per_artifact.items():
            card = self.card(slug)
            if card is None:
                continue
            relevance = caps[0][1]
            out.append(Candidate(card, caps, relevance,
                                 relevance + PRIOR_WEIGHT * card.score / 100, raw[slug]))
        out.sort(key=lambda c: (-c.rank_score, c.card.slug))
        return out

    def search(self, query: str, *, limit: int = 5, artifact_type: str | None = None
               ) -> SearchResult:
        """The ``limit`` best artifacts for a query, each with its matching capabilities."""
        text = check_query(query)
        if not 1 <= limit <= 20:
            raise BadRequest("limit must be between 1 and 20")
        matches = []
        for cand in self.candidates(text, artifact_type=artifact_type)[:limit]:
            card = cand.card
            capabilities = []
            for cap_id, rel in cand.caps[:CAPS_PER_ARTIFACT]:
                cap = card.capability(cap_id)
                if cap is not None:
                    capabilities.append(CapabilityMatch(cap_id, cap["uri"], cap["name"], rel))
            matches.append(ArtifactMatch(
                slug=card.slug, name=card.name, type=card.type, unfragile_rank=card.score,
                verified=card.verified, description=card.description,
                match_score=min(1.0, cand.rank_score), capabilities=capabilities,
                match_record_id="m_" + secrets.token_urlsafe(12),
            ))
        return SearchResult(query=text, intent=" ".join(query_terms(text)), matches=matches)
