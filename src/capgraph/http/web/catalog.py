"""A per-process summary of every artifact's latest passport, rebuilt when the store changes.

The home listing (verified badges, capability names) and the closest-alternatives search
need a little of every passport. Reading them all on each request would not be "a few store
reads", so the summaries are kept until the store's generation counter moves (any write, by
any process), then rebuilt once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from capgraph.http.web.similarity import Candidate, CapabilitySpace, tokens
from capgraph.registry import Registry

__all__ = ["Catalog", "Profile"]

_PAGE = 500
_TEXT_CACHE = 4_096  # capability texts whose vectors are kept (the compare pages reuse them)


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
        self._space = CapabilitySpace({})
        self._space_generation: int | None = None
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()
        self._texts_lock = threading.Lock()

    def capability_space(self) -> CapabilitySpace:
        """Every artifact's capability vectors in the search index, as of the catalog's
        generation; empty without an embedding model. Built on first use after a change
        (only the alternatives need it), not on every rebuild."""
        self.profiles()
        with self._lock:
            if self._space_generation != self._generation:
                self._space = CapabilitySpace(self._registry.capability_vectors())
                self._space_generation = self._generation
            return self._space

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray | None:
        """The search model's unit vectors of ``texts`` (one row each), the most recent
        kept; None without an embedding model."""
        with self._texts_lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._texts))
        if todo:
            rows = self._registry.embed_texts(todo)
            if rows is None:
                return None
            with self._texts_lock:
                for text, row in zip(todo, rows, strict=True):
                    self._texts[text] = row
                while len(self._texts) > _TEXT_CACHE:
                    self._texts.popitem(last=False)
        with self._texts_lock:
            known = [self._texts.get(t) for t in texts]
        if any(v is None for v in known):  # pushed out by a concurrent request: embed again
            return self._registry.embed_texts(list(texts))
        return np.stack([v for v in known if v is not None]) if known else \
            np.zeros((0, 1), dtype=np.float32)

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
