"""Search: keyword retrieval over capability documents, grouped by artifact, with the trust
score as a small prior.

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

from capgraph.errors import BadRequest
from capgraph.ports import Store
from capgraph.search.documents import query_terms
from capgraph.search.results import ArtifactMatch, CapabilityMatch, SearchResult

__all__ = ["PRIOR_WEIGHT", "SearchEngine"]

PRIOR_WEIGHT = 0.05
CANDIDATES = 200
CAPS_PER_ARTIFACT = 3


@dataclass(frozen=True)
class _Card:
    name: str
    type: str
    score: int
    verified: bool
    description: str
    caps: dict[str, tuple[str, str]]  # id -> (uri, name)


class SearchEngine:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cards: dict[tuple[str, int], _Card] = {}

    def _card(self, slug: str) -> _Card | None:
        stored = self.store.latest(slug)
        if stored is None:
            return None
        key = (slug, stored.version)
        card = self._cards.get(key)
        if card is None:
            body = json.loads(stored.passport)["unfragile"]
            caps = body["capabilities"]
            card = _Card(
                name=body["artifact"]["name"], type=body["artifact"]["type"],
                score=body["trust"]["score"], verified=body["trust"]["verified"],
                description=caps[0]["description"] if caps else "",
                caps={c["id"]: (c["uri"], c["name"]) for c in caps},
            )
            if len(self._cards) > 100_000:
                self._cards.clear()
            self._cards[key] = card
        return card

    def search(self, query: str, *, limit: int = 5, artifact_type: str | None = None
               ) -> SearchResult:
        """The ``limit`` best artifacts for a query, each with its matching capabilities."""
        text = query.strip()
        if not 2 <= len(text) <= 500:
            raise BadRequest("q must be 2 to 500 characters")
        if not 1 <= limit <= 20:
            raise BadRequest("limit must be between 1 and 20")
        terms = query_terms(text)
        hits = self.store.keyword_search(terms, limit=CANDIDATES, artifact_type=artifact_type)
        intent = " ".join(terms)
        if not hits:
            return SearchResult(query=text, intent=intent, matches=[])
        top = hits[0][2] or 1.0
        per_artifact: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for slug, cap_id, score in hits:
            per_artifact[slug].append((cap_id, score / top))
        ranked: list[tuple[float, str]] = []
        cards: dict[str, _Card] = {}
        for slug, caps in per_artifact.items():
            card = self._card(slug)
            if card is None:
                continue
            cards[slug] = card
            ranked.append((caps[0][1] + PRIOR_WEIGHT * card.score / 100, slug))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        matches = []
        for value, slug in ranked[:limit]:
            card = cards[slug]
            capabilities = [
                CapabilityMatch(id=cid, uri=card.caps[cid][0], name=card.caps[cid][1],
                                match_score=rel)
                for cid, rel in per_artifact[slug][:CAPS_PER_ARTIFACT] if cid in card.caps
            ]
            matches.append(ArtifactMatch(
                slug=slug, name=card.name, type=card.type, unfragile_rank=card.score,
                verified=card.verified, description=card.description,
                match_score=min(1.0, value), capabilities=capabilities,
                match_record_id="m_" + secrets.token_urlsafe(12),
            ))
        return SearchResult(query=text, intent=intent, matches=matches)
