"""Discovery: search and resolve over the indexes, remembering what was answered so that a
later report can be checked against it; and keeping the indexes themselves."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from capgraph.core.compose import iso_ms
from capgraph.ports import Embedder, MatchRecord, ResolveRecord, Store
from capgraph.registry.indexing import Indexer
from capgraph.search.engine import SearchEngine
from capgraph.search.keyword import KeywordIndex
from capgraph.search.resolver import Resolver
from capgraph.search.results import Resolution, SearchResult
from capgraph.search.vectors import VectorIndex

__all__ = ["Discovery", "IndexStatus"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStatus:
    artifacts: int
    keyword_documents: int
    vectors: int | None  # None: no embedder is configured
    model: str


class Discovery:
    def __init__(self, *, store: Store, indexer: Indexer, engine: SearchEngine,
                 resolver: Resolver, keywords: KeywordIndex, vectors: VectorIndex | None,
                 embedder: Embedder | None, now: Callable[[], datetime]) -> None:
        self._store = store
        self._indexer = indexer
        self._engine = engine
        self._resolver = resolver
        self._keywords = keywords
        self._vectors = vectors
        self._embedder = embedder
        self._now = now

    def search(self, q: str, *, limit: int = 5, artifact_type: str | None = None
               ) -> SearchResult:
        """Artifacts whose capabilities match a query, best first (``search/engine.py``).
        Each match is remembered under its ``matchRecordId`` so it can be reported on."""
        result = self._engine.search(q, limit=limit, artifact_type=artifact_type)
        now = iso_ms(self._now())
        records = [MatchRecord(m.match_record_id, m.slug,
                               m.capabilities[0].id if m.capabilities else "", result.query,
                               m.match_score, now) for m in result.matches]
        if records:
            self._store.record_matches(records)
        return result

    def resolve(self, intent: str, *, limit: int = 3, artifact_type: str | None = None,
                risk: str = "default", capability: str | None = None) -> Resolution:
        """The best capability for an intent (``search/resolver.py``)."""
        result = self._resolver.resolve(intent, limit=limit, artifact_type=artifact_type,
                                        risk=risk, capability=capability)
        records = [ResolveRecord(result.resolve_id, a.artifact.slug, a.capability.id,
                                 result.intent, a.match_confidence, result.resolved_at)
                   for a in result.resolved]
        if records:
            self._store.record_resolves(records)
        return result

    def keywords_changed(self, slug: str) -> None:
        """After a write: the writer brings the shared keyword index up to date, not a
        reader."""
        try:
            self._keywords.sync()
        except Exception:  # the version is stored: the next search applies it instead
            log.exception("keyword index update after writing %s failed", slug)

    def rebuild(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-derive every artifact's keyword, intent and vector entries from its latest
        version (after a model or text change), then save the vector snapshot. Returns the
        number of artifacts reindexed."""
        done = self._indexer.rebuild(self._store, progress=progress)
        self._keywords.rebuild()
        if self._vectors is not None:
            self._vectors.sync()
            self._vectors.save_snapshot()
        return done

    def prepare(self) -> None:
        """Bring the shared indexes up to date (before server workers start reading them):
        the keyword index, and a fresh vector snapshot so workers need no full replay. An
        index written before capabilities had a vector per view (an upgrade) is first
        rebuilt from the stored versions."""
        if self._vectors is not None and self._vectors.legacy_count():
            log.warning("the vector index predates per-view vectors: rebuilding it from the "
                        "stored versions")
            self.rebuild()
            return
        self._keywords.sync()
        if self._vectors is not None:
            self._vectors.sync()
            self._vectors.save_snapshot()

    def status(self) -> IndexStatus:
        """What the indexes hold."""
        vectors = None
        if self._vectors is not None:
            self._vectors.sync()
            vectors = len(self._vectors)
        return IndexStatus(artifacts=self._store.count(), keyword_documents=len(self._keywords),
                           vectors=vectors,
                           model=self._embedder.name if self._embedder else "")
