"""A per-process summary of every artifact's latest passport, rebuilt when the store changes.

The home listing (verified badges, capability names) and the closest-alternatives search
need a little of every passport. Reading them all on each request would not be "a few store
reads", so the summaries are kept until the store's generation counter moves (any write, by
any process), then rebuilt once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from capgraph.http.web.similarity import Candidate, tokens
from capgraph.registry import Registry

__all__ = ["Catalog", "Profile"]

_PAGE = 500


@dataclass(frozen=True)
class Profile:
    """What the listing and the similarity search know about an artifact."""

    slug: str
    name: str
    type: str
    score: int
    verified: bool
    status: str
    capability_names: list[str]
    categories: frozenset[str]
    summary: str

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.slug, self.categories, tokens(" ".join(self.capability_names)))


def _summary(text: str, limit: int = 180) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


class Catalog:
    """Profiles of the latest version of every artifact, best UnfragileRank first."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._profiles: list[Profile] = []
        self._by_slug: dict[str, Profile] = {}

    def profiles(self) -> list[Profile]:
        generation = self._registry.generation()
        if generation != self._generation:
            with self._lock:
                if generation != self._generation:
                    self._rebuild(generation)
        return self._profiles

    def get(self, slug: str) -> Profile | None:
        self.profiles()
        return self._by_slug.get(slug)

    def _rebuild(self, generation: int) -> None:
        profiles: list[Profile] = []
        offset = 0
        while True:
            rows = self._registry.artifacts(limit=_PAGE, offset=offset)
            for row in rows:
                body = self._registry.passport(row.slug).body()
                caps = body["capabilities"]
                profiles.append(Profile(
                    slug=row.slug, name=body["artifact"]["name"], type=body["artifact"]["type"],
                    score=int(body["trust"]["score"]), verified=bool(body["trust"]["verified"]),
                    status=body["artifact"]["status"],
                    capability_names=[c["name"] for c in caps],
                    categories=frozenset(cat for c in caps for cat in c["categories"]),
                    summary=_summary(caps[0]["description"]) if caps else "",
                ))
            if len(rows) < _PAGE:
                break
            offset += _PAGE
        profiles.sort(key=lambda p: (-p.score, p.slug))
        self._profiles = profiles
        self._by_slug = {p.slug: p for p in profiles}
        self._generation = generation
