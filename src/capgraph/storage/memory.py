"""An in-memory ``Store`` for tests and throwaway registries (e.g. ``capgraph eval``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

from capgraph.core import translog
from capgraph.ports import (
    ApiKeyRecord,
    ArtifactSummary,
    FeedbackRecord,
    StoredVersion,
    VersionBuilder,
)
from capgraph.search.documents import SearchDoc

__all__ = ["MemoryStore"]


class MemoryStore:
    """Dictionaries behind one lock; the same contract as the SQLite store."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._versions: dict[str, list[StoredVersion]] = {}
        self._cards: dict[str, str] = {}  # slug -> the latest version's compact card
        self._integrations: dict[str, set[str]] = {}
        self._keys: dict[str, tuple[ApiKeyRecord, str]] = {}
        self._generation = 0
        self._keyword_log: list[tuple[int, str, str, str, str, str, str, str]] = []
        self._vector_log: list[tuple[int, str, str, str, bytes | None]] = []
        self._resolves: dict[tuple[str, str], tuple[str, str, float]] = {}
        self._matches: dict[str, tuple[str, str, str, float]] = {}
        self._feedback: list[tuple[FeedbackRecord, bool]] = []
        self._intents: dict[str, list[tuple[str, str, str]]] = {}  # slug -> (intent, cap, type)
        self._leaves: list[bytes] = []
        self._nodes: dict[tuple[int, int], bytes] = {}

    def append(self, slug: str, build: VersionBuilder) -> tuple[StoredVersion, bool]:
        with self._lock:
            history = self._versions.get(slug, [])
            latest = history[-1] if history else None
            new = build(latest, len(history) + 1)
            if new is None:
                assert latest is not None, "a builder may only decline when a version exists"
                return latest, False
            log_index = len(self._leaves)
            for level, index, digest in translog.new_nodes(
                log_index, translog.leaf_hash(new.log_leaf), self.log_node
            ):
                self._nodes[(level, index)] = digest
            self._leaves.append(new.log_leaf)
            self._index(slug, new.artifact_type, new.search_docs, new.vectors)
            stored = StoredVersion(
                slug=slug, version=len(history) + 1, name=new.name,
                artifact_type=new.artifact_type, score=new.score,
                content_hash=new.content_hash, source_kind=new.source_kind, source=new.source,
                passport=new.passport, key_id=new.key_id, created_at=new.created_at,
                capability_numbers=dict(new.capability_numbers), log_index=log_index,
            )
            self._versions[slug] = [*history, stored]
            self._cards[slug] = new.card
            self._integrations[slug] = {s for s in new.integrations if s != slug}
            self._generation += 1
            return stored, True

    def _index(self, slug: str, artifact_type: str, docs: list[SearchDoc],
               vectors: list[tuple[str, bytes]] | None) -> None:
        if vectors is not None:
            rows: list[tuple[str, bytes | None]] = [("", None), *vectors]
            for cap_id, vec in rows:
                seq = len(self._vector_log) + 1
                self._vector_log.append((seq, slug, cap_id, artifact_type, vec))
        self._intents[slug] = [(i, d.cap_id, artifact_type) for d in docs
                               for i in d.declared_intents if i]
        texts = [(slug, "", artifact_type, "", "", "", "")]
        texts += [(slug, d.cap_id, artifact_type, d.name, d.intents, d.body, d.artifact)
                  for d in docs]
        for text in texts:
            self._keyword_log.append((len(self._keyword_log) + 1, *text))

    def reindex(self, slug: str, artifact_type: str, docs: list[SearchDoc],
                vectors: list[tuple[str, bytes]] | None) -> None:
        with self._lock:
            self._index(slug, artifact_type, docs, vectors)
            self._generation += 1

    def latest(self, slug: str) -> StoredVersion | None:
        with self._lock:
            history = self._versions.get(slug)
            return history[-1] if history else None

    def version(self, slug: str, number: int) -> StoredVersion | None:
        with self._lock:
            history = self._versions.get(slug, [])
            return history[number - 1] if 1 <= number <= len(history) else None

    def versions(self, slug: str) -> list[StoredVersion]:
        with self._lock:
            return list(self._versions.get(slug, []))

    def artifacts(
        self, *, artifact_type: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ArtifactSummary]:
        with self._lock:
            rows = [
                ArtifactSummary(h[-1].slug, h[-1].name, h[-1].artifact_type, h[-1].score,
                                h[-1].version, h[-1].created_at)
                for h in self._versions.values()
                if artifact_type is None or h[-1].artifact_type == artifact_type
            ]
        rows.sort(key=lambda r: r.slug)
        return rows[offset : offset + limit]

    def count(self) -> int:
        with self._lock:
            return len(self._versions)

    def references_to(self, slug: str) -> int:
        with self._lock:
            return sum(slug in targets for src, targets in self._integrations.items()
                       if src != slug)

    def existing(self, slugs: list[str]) -> list[str]:
        with self._lock:
            return [s for s in slugs if s in self._versions]

    def generation(self) -> int:
        return self._generation

    def latest_cards(self, slugs: list[str]) -> dict[str, tuple[int, int, str]]:
        with self._lock:
            return {s: (self._versions[s][-1].version, self._versions[s][-1].score,
                        self._cards.get(s, "")) for s in slugs if s in self._versions}

    def keyword_changes(
        self, since: int, *, limit: int
    ) -> list[tuple[int, str, str, str, str, str, str, str]]:
        with self._lock:
            return self._keyword_log[since : since + limit]

    def intent_matches(self, intent: str, *, artifact_type: str | None = None
                       ) -> list[tuple[str, str]]:
        with self._lock:
            return sorted({(slug, cap) for slug, rows in self._intents.items()
                           for i, cap, kind in rows
                           if i == intent and artifact_type in (None, kind)})

    # -- outcomes ------------------------------------------------------------------------------
    def record_resolve(self, resolve_id: str, intent: str, created_at: str,
                       items: list[tuple[str, str, float]]) -> None:
        with self._lock:
            for slug, cap, conf in items:
                self._resolves.setdefault((resolve_id, slug), (cap, intent, conf))

    def resolve_record(self, resolve_id: str, slug: str) -> tuple[str, str, float] | None:
        with self._lock:
            return self._resolves.get((resolve_id, slug))

    def record_matches(self, rows: list[tuple[str, str, str, str, float, str]]) -> None:
        with self._lock:
            for match_id, slug, cap, query, conf, _ in rows:
                self._matches.setdefault(match_id, (slug, cap, query, conf))

    def match_record(self, match_id: str) -> tuple[str, str, str, float] | None:
        with self._lock:
            return self._matches.get(match_id)

    def add_feedback(self, record: FeedbackRecord, *, per_client_cap: int, since: str,
                     same_client: Sequence[str] = ()) -> tuple[bool, bool]:
        clients = {record.client, *same_client}
        with self._lock:
            if any(r.ref == record.ref for r, _ in self._feedback):
                return False, False
            used = sum(1 for r, counted in self._feedback
                       if counted and r.client in clients and r.slug == record.slug
                       and r.created_at >= since)
            counted = used < per_client_cap
            self._feedback.append((record, counted))
            self._generation += 1
            return True, counted

    def counted_feedback(self, slug: str) -> list[tuple[str, str, str, float, str]]:
        with self._lock:
            return [(r.cap_id, r.outcome, r.intent, r.confidence, r.created_at)
                    for r, counted in self._feedback if counted and r.slug == slug]

    def feedback_changes(self, since: int, *, limit: int
                         ) -> list[tuple[int, str, str, bytes | None, str]]:
        with self._lock:
            rows = [(seq, r.slug, r.cap_id, r.intent_vec, r.outcome)
                    for seq, (r, counted) in enumerate(self._feedback, start=1)
                    if counted and seq > since]
        return rows[:limit]

    def vector_changes(
        self, since: int, *, limit: int
    ) -> list[tuple[int, str, str, str, bytes | None]]:
        with self._lock:
            return self._vector_log[since : since + limit]

    def log_size(self) -> int:
        return len(self._leaves)

    def log_node(self, level: int, index: int) -> bytes:
        return self._nodes[(level, index)]

    def log_entries(self, start: int, end: int) -> list[bytes]:
        with self._lock:
            return self._leaves[start:end]

    def add_api_key(self, key_id: str, name: str, secret_hash: str, created_at: str) -> None:
        with self._lock:
            self._keys[key_id] = (ApiKeyRecord(key_id, name, created_at, False), secret_hash)
            self._generation += 1

    def api_key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        with self._lock:
            for record, stored in self._keys.values():
                if stored == secret_hash:
                    return record
        return None

    def api_keys(self) -> list[ApiKeyRecord]:
        with self._lock:
            return [record for record, _ in self._keys.values()]

    def revoke_api_key(self, key_id: str) -> bool:
        with self._lock:
            if key_id not in self._keys:
                return False
            record, secret = self._keys[key_id]
            self._keys[key_id] = (replace(record, revoked=True), secret)
            self._generation += 1
            return True

    def close(self) -> None:
        """Nothing to release: everything lives in this object."""
