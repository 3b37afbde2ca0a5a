"""The interfaces the service needs from the outside world: storage and the clock.

Adapters in ``storage/`` implement ``Store`` (memory for tests, SQLite by default, PostgreSQL
later). The service depends only on these Protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from capgraph.core.signing import PublicKey, SigningKey
from capgraph.search.documents import SearchDoc

__all__ = [
    "ApiKeyRecord",
    "ArtifactSummary",
    "Clock",
    "Embedder",
    "FeedbackRecord",
    "KeyRing",
    "NewVersion",
    "Store",
    "StoredVersion",
    "VersionBuilder",
]


@dataclass(frozen=True)
class NewVersion:
    """A version about to be appended. ``passport`` is the signed passport object's JSON bytes."""

    slug: str
    name: str
    artifact_type: str
    score: int
    content_hash: str
    source_kind: str  # "manifest" | "import"
    source: str  # the manifest or imported passport body, as canonical JSON text
    passport: bytes
    key_id: str
    created_at: str
    capability_numbers: dict[str, int] = field(default_factory=dict)
    integrations: list[str] = field(default_factory=list)
    log_leaf: bytes = b""
    """The transparency log entry: RFC 8785 bytes of the whole signed passport object."""
    search_docs: list[SearchDoc] = field(default_factory=list)
    """What the keyword index holds for this artifact from now on (replaces the old)."""
    vectors: list[tuple[str, bytes]] | None = None
    """(capability id, float16 embedding bytes) replacing the artifact's old vectors; None
    when no embedder is configured (the vector log is then left alone)."""
    card: str = ""
    """The compact card of this version (``search/cards.py``: JSON text): what ranking and
    the risk gates read instead of the passport. Empty: readers fall back to the passport."""


@dataclass(frozen=True)
class StoredVersion:
    """One immutable stored version of an artifact's passport."""

    slug: str
    version: int
    name: str
    artifact_type: str
    score: int
    content_hash: str
    source_kind: str
    source: str
    passport: bytes
    key_id: str
    created_at: str
    capability_numbers: dict[str, int]
    log_index: int


@dataclass(frozen=True)
class ArtifactSummary:
    slug: str
    name: str
    artifact_type: str
    score: int
    latest_version: int
    updated_at: str


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    created_at: str
    revoked: bool


@dataclass(frozen=True)
class FeedbackRecord:
    """One outcome report, as stored (the client is a salted hash, never an address)."""

    ref: str  # what it reports on: "resolve:<resolveId>:<slug>" or "match:<matchRecordId>"
    kind: str  # "resolve" | "match"
    slug: str
    cap_id: str
    intent: str
    outcome: str  # "success" | "failure"
    clicked: bool | None
    source: str | None
    comment: str | None
    confidence: float
    client: str
    created_at: str
    intent_vec: bytes | None = None


VersionBuilder = Callable[[StoredVersion | None, int], NewVersion | None]
"""Given the latest stored version (or None) and the number the new one would get, return the
version to append, or None when there is nothing new to store."""


class Store(Protocol):
    """Durable storage of artifacts, their versions, and API keys."""

    def append(self, slug: str, build: VersionBuilder) -> tuple[StoredVersion, bool]:
        """Atomically read the latest version of ``slug``, call ``build``, and append what it
        returns. Returns the stored version and whether it is new. Concurrent appends to the
        same slug are serialised, so version numbers never repeat or skip."""
        ...

    def latest(self, slug: str) -> StoredVersion | None: ...

    def version(self, slug: str, number: int) -> StoredVersion | None: ...

    def versions(self, slug: str) -> list[StoredVersion]: ...

    def artifacts(
        self, *, artifact_type: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ArtifactSummary]: ...

    def count(self) -> int: ...

    def references_to(self, slug: str) -> int:
        """How many other artifacts name ``slug`` as an integration in their latest version."""
        ...

    def existing(self, slugs: list[str]) -> list[str]:
        """The subset of ``slugs`` that are stored artifacts."""
        ...

    def generation(self) -> int:
        """A number that changes whenever any process commits a write (for caches)."""
        ...

    def latest_cards(self, slugs: list[str]) -> dict[str, tuple[int, int, str]]:
        """(latest version, UnfragileRank, compact card JSON or "") of each stored artifact
        among ``slugs``, in one read: what ranking needs of a candidate without loading its
        passport."""
        ...

    def keyword_changes(
        self, since: int, *, limit: int
    ) -> list[tuple[int, str, str, str, str, str, str, str]]:
        """Keyword-log rows after sequence ``since``: (seq, slug, capability id, artifact
        type, name, intents, body, artifact text); an empty capability id means "drop this
        artifact's documents" (see ``search/keyword.py``)."""
        ...

    def intent_matches(self, intent: str, *, artifact_type: str | None = None
                       ) -> list[tuple[str, str]]:
        """Capabilities (slug, capability id) that declare exactly this normalised intent."""
        ...

    def reindex(self, slug: str, artifact_type: str, docs: list[SearchDoc],
                vectors: list[tuple[str, bytes]] | None) -> None:
        """Replace an artifact's keyword, intent and vector index entries (no new version)."""
        ...

    def record_resolve(self, resolve_id: str, intent: str, created_at: str,
                       items: list[tuple[str, str, float]]) -> None:
        """Remember what a resolve answered: (slug, capability id, confidence) per entry."""
        ...

    def resolve_record(self, resolve_id: str, slug: str) -> tuple[str, str, float] | None:
        """(capability id, intent, confidence) a resolve answered for ``slug``."""
        ...

    def record_matches(self, rows: list[tuple[str, str, str, str, float, str]]) -> None:
        """Remember search matches: (match id, slug, capability id, query, score, time)."""
        ...

    def match_record(self, match_id: str) -> tuple[str, str, str, float] | None:
        """(slug, capability id, query, score) of a search match."""
        ...

    def add_feedback(self, record: FeedbackRecord, *, per_client_cap: int, since: str,
                     same_client: Sequence[str] = ()) -> tuple[bool, bool]:
        """Store a report once per ``ref``. Returns (stored, counted): not stored when the ref
        was reported before; not counted when its client (``record.client``, or any of the
        ids in ``same_client`` that name the same client) already has ``per_client_cap``
        counted reports on this artifact since ``since``."""
        ...

    def counted_feedback(self, slug: str) -> list[tuple[str, str, str, float, str]]:
        """Counted reports of an artifact: (capability id, outcome, intent, confidence, time)."""
        ...

    def feedback_changes(self, since: int, *, limit: int
                         ) -> list[tuple[int, str, str, bytes | None, str]]:
        """Counted reports after sequence ``since``: (seq, slug, capability id, intent
        vector, outcome), for the learned ranking."""
        ...

    def vector_changes(
        self, since: int, *, limit: int
    ) -> list[tuple[int, str, str, str, bytes | None]]:
        """Vector-log rows after sequence ``since``: (seq, slug, capability id, artifact type,
        float16 vector bytes, or None for "drop this artifact's vectors")."""
        ...

    def log_size(self) -> int:
        """Entries in the transparency log. Each append adds its version's entry in the same
        transaction, so the log and the versions can never disagree."""
        ...

    def log_node(self, level: int, index: int) -> bytes:
        """A stored complete subtree hash (see ``core/translog.py``)."""
        ...

    def log_entries(self, start: int, end: int) -> list[bytes]:
        """The leaf data of entries [start, end)."""
        ...

    def add_api_key(self, key_id: str, name: str, secret_hash: str, created_at: str) -> None: ...

    def api_key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None: ...

    def api_keys(self) -> list[ApiKeyRecord]: ...

    def revoke_api_key(self, key_id: str) -> bool: ...

    def close(self) -> None: ...


class Embedder(Protocol):
    """Turns texts into unit-length vectors (``search/embedding.py``)."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> Any:
        """A float32 array of shape (len(texts), dim), each row of unit length."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class KeyRing(Protocol):
    """Where signing keys live (``storage/keystore.py`` keeps them in owner-only files)."""

    def signing_key(self, now: datetime) -> SigningKey:
        """The key that signs now, created on first use."""
        ...

    def public_keys(self) -> dict[str, PublicKey]:
        """Every key ever used, by kid, with its status and validity window."""
        ...

    def secret(self, name: str) -> bytes:
        """A named random secret kept with the keys (owner-only), made on first use."""
        ...

    def existing_secret(self, name: str) -> bytes | None:
        """A named secret if it exists (never made here)."""
        ...

    def prune_secrets(self, prefix: str, *, keep: int) -> None:
        """Delete all but the ``keep`` newest secrets named ``prefix*``."""
        ...

    def log_key(self, now: datetime, origin: str) -> tuple[SigningKey, str]:
        """The key that signs transparency log checkpoints and the log's origin, created (with
        ``origin``) on first use and fixed after."""
        ...
