"""An in-memory ``Store`` for tests and throwaway registries (e.g. ``capgraph eval``).

Dictionaries and lists behind one re-entrant lock; a write transaction holds the lock and
works on a copy-on-write journal, so a block that raises leaves nothing behind.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from capgraph.errors import StorageError
from capgraph.ports import (
    ApiKeyRecord,
    ArtifactCard,
    ArtifactSummary,
    ClaimRecord,
    CountedReport,
    FeedbackChange,
    FeedbackRecord,
    IntentEntry,
    IntentMatch,
    KeywordChange,
    KeywordEntry,
    LogNode,
    MatchRecord,
    OwnershipRecord,
    PublisherRecord,
    ResolveRecord,
    StoredVersion,
    VectorChange,
    VectorEntry,
)
from capgraph.storage import complete_nodes

__all__ = ["MemoryStore"]


@dataclass
class _State:
    """Everything a write transaction can change (copied shallowly when one starts)."""

    versions: dict[str, list[StoredVersion]] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)
    integrations: dict[str, set[str]] = field(default_factory=dict)
    keys: dict[str, tuple[ApiKeyRecord, str]] = field(default_factory=dict)
    keyword_log: list[KeywordChange] = field(default_factory=list)
    vector_log: list[VectorChange] = field(default_factory=list)
    intents: dict[str, list[IntentEntry]] = field(default_factory=dict)
    feedback: list[tuple[FeedbackRecord, bool]] = field(default_factory=list)
    feedback_refs: set[str] = field(default_factory=set)
    leaves: list[bytes] = field(default_factory=list)
    nodes: dict[tuple[int, int], bytes] = field(default_factory=dict)
    publishers: dict[str, PublisherRecord] = field(default_factory=dict)
    ownerships: dict[str, OwnershipRecord] = field(default_factory=dict)
    claims: dict[str, ClaimRecord] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            versions=dict(self.versions), cards=dict(self.cards),
            integrations=dict(self.integrations), keys=dict(self.keys),
            keyword_log=list(self.keyword_log), vector_log=list(self.vector_log),
            intents=dict(self.intents), feedback=list(self.feedback),
            feedback_refs=set(self.feedback_refs),
            leaves=list(self.leaves), nodes=dict(self.nodes),
            publishers=dict(self.publishers), ownerships=dict(self.ownerships),
            claims=dict(self.claims),
        )


class _Transaction:
    """``WriteTransaction`` over a private copy of the state."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.changed = False

    # reads
    def latest(self, slug: str) -> StoredVersion | None:
        history = self.state.versions.get(slug)
        return history[-1] if history else None

    def log_size(self) -> int:
        return len(self.state.leaves)

    def log_node(self, level: int, index: int) -> bytes:
        try:
            return self.state.nodes[(level, index)]
        except KeyError:
            raise StorageError(f"log node ({level}, {index}) is missing") from None

    def counted_feedback(self, slug: str) -> list[CountedReport]:
        return [CountedReport(r.cap_id, r.outcome, r.intent, r.confidence, r.created_at)
                for r, counted in self.state.feedback if counted and r.slug == slug]

    def feedback_exists(self, ref: str) -> bool:
        return ref in self.state.feedback_refs

    def counted_reports_by(self, clients: Sequence[str], slug: str, *, since: str) -> int:
        wanted = set(clients)
        return sum(1 for r, counted in self.state.feedback
                   if counted and r.client in wanted and r.slug == slug
                   and r.created_at >= since)

    # writes
    def put_log_leaf(self, index: int, data: bytes, nodes: Sequence[LogNode]) -> None:
        if index != len(self.state.leaves):
            raise StorageError(f"log leaf {index} is not the next one")
        self.state.leaves.append(data)
        for node in nodes:
            self.state.nodes[(node.level, node.idx)] = node.hash
        self.changed = True

    def put_version(self, stored: StoredVersion, *, card: str,
                    integrations: Sequence[str]) -> None:
        history = self.state.versions.get(stored.slug, [])
        if stored.version != len(history) + 1:
            raise StorageError(f"{stored.slug} version {stored.version} is not the next one")
        self.state.versions[stored.slug] = [*history, stored]
        self.state.cards[stored.slug] = card
        self.state.integrations[stored.slug] = {s for s in integrations if s != stored.slug}
        self.changed = True

    def fill_card(self, slug: str, version: int, card: str) -> None:
        latest = self.latest(slug)
        if latest is not None and latest.version == version and not self.state.cards.get(slug):
            self.state.cards[slug] = card
            self.changed = True

    def replace_intents(self, slug: str, entries: Sequence[IntentEntry]) -> None:
        new = list(dict.fromkeys(entries))
        if new != self.state.intents.get(slug, []):
            self.state.intents[slug] = new
            self.changed = True

    def add_keyword_entries(self, entries: Sequence[KeywordEntry]) -> None:
        log = self.state.keyword_log
        for entry in entries:
            log.append(KeywordChange(len(log) + 1, *entry))
        self.changed |= bool(entries)

    def add_vector_entries(self, entries: Sequence[VectorEntry]) -> None:
        log = self.state.vector_log
        for entry in entries:
            log.append(VectorChange(len(log) + 1, *entry))
        self.changed |= bool(entries)

    def add_feedback(self, record: FeedbackRecord, *, counted: bool) -> None:
        if self.feedback_exists(record.ref):
            raise StorageError(f"a report on {record.ref} is already stored")
        self.state.feedback.append((record, counted))
        self.state.feedback_refs.add(record.ref)
        self.changed = True

    def add_api_key(self, record: ApiKeyRecord, secret_hash: str) -> None:
        if record.key_id in self.state.keys or any(
                h == secret_hash for _, h in self.state.keys.values()):
            raise StorageError(f"API key {record.key_id} is already stored")
        self.state.keys[record.key_id] = (record, secret_hash)
        self.changed = True

    def revoke_api_key(self, key_id: str) -> bool:
        found = self.state.keys.get(key_id)
        if found is None:
            return False
        self.state.keys[key_id] = (replace(found[0], revoked=True), found[1])
        self.changed = True
        return True

    def ownership(self, slug: str) -> OwnershipRecord | None:
        return self.state.ownerships.get(slug)

    def publisher(self, publisher_id: str) -> PublisherRecord | None:
        return self.state.publishers.get(publisher_id)

    def add_publisher(self, record: PublisherRecord) -> None:
        if record.publisher_id in self.state.publishers:
            raise StorageError(f"publisher {record.publisher_id} is already stored")
        self.state.publishers[record.publisher_id] = record
        self.changed = True

    def put_ownership(self, record: OwnershipRecord) -> None:
        self.state.ownerships[record.slug] = record
        self.changed = True

    def add_claim(self, record: ClaimRecord) -> None:
        if record.claim_id in self.state.claims:
            raise StorageError(f"claim {record.claim_id} is already stored")
        self.state.claims[record.claim_id] = record
        self.changed = True

    def set_claim_status(self, claim_id: str, status: str) -> None:
        found = self.state.claims.get(claim_id)
        if found is None:
            raise StorageError(f"no claim {claim_id}")
        self.state.claims[claim_id] = replace(found, status=status)
        self.changed = True


class MemoryStore:
    """The same contract as the SQLite store, in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = _State()
        self._generation = 0
        self._resolves: dict[tuple[str, str], ResolveRecord] = {}
        self._matches: dict[str, MatchRecord] = {}
        self._salts: dict[str, bytes] = {}

    @contextmanager
    def write(self) -> Iterator[_Transaction]:
        with self._lock:
            tx = _Transaction(self._state.copy())
            yield tx
            if tx.changed:
                self._state = tx.state
                self._generation += 1

    # -- versions ----------------------------------------------------------------------------
    def latest(self, slug: str) -> StoredVersion | None:
        history = self._state.versions.get(slug)
        return history[-1] if history else None

    def version(self, slug: str, number: int) -> StoredVersion | None:
        history = self._state.versions.get(slug, [])
        return history[number - 1] if 1 <= number <= len(history) else None

    def versions(self, slug: str) -> list[StoredVersion]:
        return list(self._state.versions.get(slug, []))

    def artifacts(self, *, artifact_type: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[ArtifactSummary]:
        rows = [
            ArtifactSummary(h[-1].slug, h[-1].name, h[-1].artifact_type, h[-1].score,
                            h[-1].version, h[-1].created_at)
            for h in self._state.versions.values()
            if artifact_type is None or h[-1].artifact_type == artifact_type
        ]
        rows.sort(key=lambda r: r.slug)
        return rows[offset : offset + limit]

    def count(self, *, artifact_type: str | None = None) -> int:
        return sum(1 for h in self._state.versions.values()
                   if artifact_type is None or h[-1].artifact_type == artifact_type)

    def references_to(self, slug: str) -> int:
        return sum(slug in targets for src, targets in self._state.integrations.items()
                   if src != slug)

    def referrers(self, slug: str) -> list[str]:
        return sorted(src for src, targets in self._state.integrations.items()
                      if src != slug and slug in targets)

    def existing(self, slugs: Sequence[str]) -> list[str]:
        return [s for s in slugs if s in self._state.versions]

    def latest_cards(self, slugs: Sequence[str]) -> dict[str, ArtifactCard]:
        state = self._state
        return {s: ArtifactCard(state.versions[s][-1].version, state.versions[s][-1].score,
                                state.cards.get(s, ""))
                for s in slugs if s in state.versions}

    def slugs_without_card(self, *, after: str, limit: int) -> list[str]:
        state = self._state
        return sorted(s for s in state.versions
                      if s > after and not state.cards.get(s))[:limit]

    def generation(self) -> int:
        return self._generation

    # -- transparency log --------------------------------------------------------------------
    def log_size(self) -> int:
        return len(self._state.leaves)

    def log_node(self, level: int, index: int) -> bytes:
        return _Transaction(self._state).log_node(level, index)

    def log_entries(self, start: int, end: int) -> list[bytes]:
        return self._state.leaves[start:end]

    def log_nodes(self, level: int, start: int, end: int) -> list[bytes]:
        nodes = self._state.nodes
        return complete_nodes([nodes[(level, i)] for i in range(start, end)
                               if (level, i) in nodes], level, start, end)

    # -- index feeds -------------------------------------------------------------------------
    def keyword_changes(self, since: int, *, limit: int) -> list[KeywordChange]:
        return self._state.keyword_log[since : since + limit]

    def vector_changes(self, since: int, *, limit: int) -> list[VectorChange]:
        return self._state.vector_log[since : since + limit]

    def feedback_changes(self, since: int, *, limit: int) -> list[FeedbackChange]:
        rows = (FeedbackChange(seq, r.slug, r.cap_id, r.intent_vec, r.outcome)
                for seq, (r, counted) in enumerate(self._state.feedback[since:],
                                                   start=since + 1)
                if counted)
        return list(itertools.islice(rows, limit))

    def intent_matches(self, intent: str, *, artifact_type: str | None = None
                       ) -> list[IntentMatch]:
        return sorted({IntentMatch(e.slug, e.cap_id)
                       for entries in self._state.intents.values() for e in entries
                       if e.intent == intent and artifact_type in (None, e.type)})

    # -- events and feedback -----------------------------------------------------------------
    def record_resolves(self, records: Sequence[ResolveRecord]) -> None:
        with self._lock:
            for r in records:
                self._resolves.setdefault((r.resolve_id, r.slug), r)

    def resolve_record(self, resolve_id: str, slug: str) -> ResolveRecord | None:
        return self._resolves.get((resolve_id, slug))

    def record_matches(self, records: Sequence[MatchRecord]) -> None:
        with self._lock:
            for r in records:
                self._matches.setdefault(r.match_id, r)

    def match_record(self, match_id: str) -> MatchRecord | None:
        return self._matches.get(match_id)

    def counted_feedback(self, slug: str) -> list[CountedReport]:
        return _Transaction(self._state).counted_feedback(slug)

    # -- client salts ------------------------------------------------------------------------
    def daily_salt(self, day: str) -> bytes:
        with self._lock:
            return self._salts.setdefault(day, os.urandom(32))

    def existing_salt(self, day: str) -> bytes | None:
        return self._salts.get(day)

    def prune_salts(self, *, before: str) -> int:
        with self._lock:
            old = [day for day in self._salts if day < before]
            for day in old:
                del self._salts[day]
            return len(old)

    # -- API keys ----------------------------------------------------------------------------
    def api_key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        for record, stored in self._state.keys.values():
            if stored == secret_hash:
                return record
        return None

    def api_keys(self) -> list[ApiKeyRecord]:
        # Oldest first, as stored when two are equally old (SQLite: created_at, rowid).
        return sorted((record for record, _ in self._state.keys.values()),
                      key=lambda r: r.created_at)

    # -- ownership ---------------------------------------------------------------------------
    def publisher(self, publisher_id: str) -> PublisherRecord | None:
        return self._state.publishers.get(publisher_id)

    def publishers(self) -> list[PublisherRecord]:
        return sorted(self._state.publishers.values(), key=lambda p: p.created_at)

    def ownership(self, slug: str) -> OwnershipRecord | None:
        return self._state.ownerships.get(slug)

    def verified_ownerships(self) -> list[OwnershipRecord]:
        return sorted((o for o in self._state.ownerships.values() if o.verification),
                      key=lambda o: o.slug)

    def claim(self, claim_id: str) -> ClaimRecord | None:
        return self._state.claims.get(claim_id)

    def verified_claim(self, slug: str, publisher_id: str) -> ClaimRecord | None:
        found = [c for c in self._state.claims.values()
                 if c.kind == "artifact" and c.subject == slug
                 and c.publisher_id == publisher_id and c.status == "verified"]
        return found[-1] if found else None

    def close(self) -> None:
        """Nothing to release: everything lives in this object."""
