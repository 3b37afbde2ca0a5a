"""The interfaces the registry needs from the outside world, and the records they exchange.

Storage is split into narrow read protocols (versions, the transparency log, index feeds,
events, feedback, API keys), the daily client salts, and one write primitive,
``Store.write()``: a transaction in which every write of one use case happens, all or nothing,
serialised with every other write transaction of every thread and process. Rules that are
the same for every backend (how a log leaf and its nodes are appended, which index rows a
version writes, the per-client feedback cap, card filling) live above the adapters, in
``registry/``; an adapter only translates these calls to its database.

Adapters: ``storage/memory.py`` (tests, throwaway registries), ``storage/sqlite.py`` (the
default) and ``storage/postgres.py`` (several hosts on one database). ``tests/contract/``
runs every behaviour below against each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from capgraph.core.signing import PublicKey, SigningKey
from capgraph.ports.records import (
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
    ProofCheck,
    PublisherRecord,
    ResolveRecord,
    StoredVersion,
    VectorChange,
    VectorEntry,
)

__all__ = [
    "ApiKeyRecord",
    "ApiKeyStore",
    "ArtifactCard",
    "ArtifactSummary",
    "ClaimRecord",
    "ClientSalts",
    "CountedReport",
    "DocumentFetcher",
    "Embedder",
    "EventStore",
    "FeedbackChange",
    "FeedbackRecord",
    "FeedbackStore",
    "FetchedDocument",
    "IndexFeeds",
    "IntentEntry",
    "IntentMatch",
    "KeyRing",
    "KeywordChange",
    "KeywordEntry",
    "LogNode",
    "LogStore",
    "MatchRecord",
    "OwnershipRecord",
    "OwnershipStore",
    "ProofCheck",
    "ProofChecker",
    "PublisherRecord",
    "ResolveRecord",
    "SharedLimits",
    "StaticSink",
    "Store",
    "StoredVersion",
    "VectorChange",
    "VectorEntry",
    "VersionStore",
    "WriteTransaction",
]


# -- reading -------------------------------------------------------------------------------
class VersionStore(Protocol):
    """Artifacts and their immutable versions."""

    def latest(self, slug: str) -> StoredVersion | None: ...

    def version(self, slug: str, number: int) -> StoredVersion | None: ...

    def versions(self, slug: str) -> list[StoredVersion]:
        """Every version of ``slug``, oldest first."""
        ...

    def artifacts(self, *, artifact_type: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[ArtifactSummary]:
        """Artifacts by slug (of one type when given)."""
        ...

    def count(self, *, artifact_type: str | None = None) -> int: ...

    def references_to(self, slug: str) -> int:
        """How many other artifacts name ``slug`` as an integration in their latest version."""
        ...

    def referrers(self, slug: str) -> list[str]:
        """The other artifacts that name ``slug`` as an integration in their latest version,
        by slug."""
        ...

    def existing(self, slugs: Sequence[str]) -> list[str]:
        """The subset of ``slugs`` that are stored artifacts, in the given order."""
        ...

    def latest_cards(self, slugs: Sequence[str]) -> dict[str, ArtifactCard]:
        """The card of each stored artifact among ``slugs``, in one read."""
        ...

    def slugs_without_card(self, *, after: str, limit: int) -> list[str]:
        """Artifacts whose latest version has no card yet, by slug, after ``after``."""
        ...

    def generation(self) -> int:
        """A number that changes whenever any process commits a write (for caches)."""
        ...


class LogStore(Protocol):
    """The transparency log's leaves and complete-subtree hashes."""

    def log_size(self) -> int: ...

    def log_node(self, level: int, index: int) -> bytes:
        """A stored node; ``StorageError`` when it is missing."""
        ...

    def log_entries(self, start: int, end: int) -> list[bytes]:
        """The leaf data of entries [start, end)."""
        ...

    def log_nodes(self, level: int, start: int, end: int) -> list[bytes]:
        """The stored nodes [start, end) of one level, in one read (a hash tile);
        ``StorageError`` when one is missing."""
        ...


class IndexFeeds(Protocol):
    """The append-only logs every process replays into its in-memory indexes."""

    def keyword_changes(self, since: int, *, limit: int) -> list[KeywordChange]: ...

    def vector_changes(self, since: int, *, limit: int) -> list[VectorChange]: ...

    def feedback_changes(self, since: int, *, limit: int) -> list[FeedbackChange]:
        """Counted reports only."""
        ...

    def intent_matches(self, intent: str, *, artifact_type: str | None = None
                       ) -> list[IntentMatch]:
        """Capabilities that declare exactly this normalised intent, sorted."""
        ...

    def generation(self) -> int: ...


class EventStore(Protocol):
    """What resolves and searches answered, so a later report can be checked against it.
    One record per request: these may be written without the durability of a version (a
    lost record only means a late report about it is refused)."""

    def record_resolves(self, records: Sequence[ResolveRecord]) -> None:
        """Keep the first record of each (resolve id, slug)."""
        ...

    def resolve_record(self, resolve_id: str, slug: str) -> ResolveRecord | None: ...

    def record_matches(self, records: Sequence[MatchRecord]) -> None:
        """Keep the first record of each match id."""
        ...

    def match_record(self, match_id: str) -> MatchRecord | None: ...


class FeedbackStore(Protocol):
    def counted_feedback(self, slug: str) -> list[CountedReport]:
        """Counted reports of an artifact, in the order they were stored."""
        ...


class ClientSalts(Protocol):
    """The daily random salts client addresses are hashed with (docs/PRIVACY.md), kept in the
    database so that every host sharing it hashes an address to the same id."""

    def daily_salt(self, day: str) -> bytes:
        """The salt of ``day`` (``YYYYMMDD``, UTC): 32 random bytes stored on first use, the
        stored ones after, whichever host or process asks (the first insert wins)."""
        ...

    def existing_salt(self, day: str) -> bytes | None:
        """The salt of ``day`` if one is stored (never made here)."""
        ...

    def prune_salts(self, *, before: str) -> int:
        """Delete the salts of days before ``before``; how many were deleted."""
        ...


class ApiKeyStore(Protocol):
    def api_key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None: ...

    def api_keys(self) -> list[ApiKeyRecord]:
        """Every key, oldest first."""
        ...


class OwnershipStore(Protocol):
    """Publishers, who owns what, and started claims."""

    def publisher(self, publisher_id: str) -> PublisherRecord | None: ...

    def publishers(self) -> list[PublisherRecord]:
        """Every publisher, oldest first."""
        ...

    def ownership(self, slug: str) -> OwnershipRecord | None: ...

    def verified_ownerships(self) -> list[OwnershipRecord]:
        """Every ownership with a verification, by slug (for rechecks)."""
        ...

    def claim(self, claim_id: str) -> ClaimRecord | None: ...

    def verified_claim(self, slug: str, publisher_id: str) -> ClaimRecord | None:
        """The newest verified artifact claim of ``slug`` by ``publisher_id``."""
        ...


# -- writing -------------------------------------------------------------------------------
class WriteTransaction(Protocol):
    """The writes of one use case, inside ``Store.write()``. Its reads see its own writes."""

    def latest(self, slug: str) -> StoredVersion | None: ...

    def log_size(self) -> int: ...

    def log_node(self, level: int, index: int) -> bytes: ...

    def counted_feedback(self, slug: str) -> list[CountedReport]: ...

    def feedback_exists(self, ref: str) -> bool: ...

    def counted_reports_by(self, clients: Sequence[str], slug: str, *, since: str) -> int:
        """Counted reports on ``slug`` by any of ``clients`` created at or after ``since``."""
        ...

    def put_log_leaf(self, index: int, data: bytes, nodes: Sequence[LogNode]) -> None:
        """Store leaf ``index`` (it must be the next one) and the nodes it completes."""
        ...

    def put_version(self, stored: StoredVersion, *, card: str,
                    integrations: Sequence[str]) -> None:
        """Store a new version; it becomes the artifact's latest, with this card and these
        integrations (replacing the artifact's earlier ones)."""
        ...

    def fill_card(self, slug: str, version: int, card: str) -> None:
        """Give version ``version`` of ``slug`` this card if it is still the latest and has
        none (a publish in between has written its own)."""
        ...

    def replace_intents(self, slug: str, entries: Sequence[IntentEntry]) -> None: ...

    def add_keyword_entries(self, entries: Sequence[KeywordEntry]) -> None: ...

    def add_vector_entries(self, entries: Sequence[VectorEntry]) -> None: ...

    def add_feedback(self, record: FeedbackRecord, *, counted: bool) -> None:
        """Store a report; its ``ref`` must be new."""
        ...

    def add_api_key(self, record: ApiKeyRecord, secret_hash: str) -> None: ...

    def revoke_api_key(self, key_id: str) -> bool:
        """Mark a key revoked; False when there is no such key."""
        ...

    def ownership(self, slug: str) -> OwnershipRecord | None: ...

    def publisher(self, publisher_id: str) -> PublisherRecord | None: ...

    def add_publisher(self, record: PublisherRecord) -> None:
        """Store a new publisher; its id must be new."""
        ...

    def put_ownership(self, record: OwnershipRecord) -> None:
        """Create or replace the ownership of ``record.slug``."""
        ...

    def add_claim(self, record: ClaimRecord) -> None: ...

    def set_claim_status(self, claim_id: str, status: str) -> None: ...


class Store(VersionStore, LogStore, IndexFeeds, EventStore, FeedbackStore, ClientSalts,
            ApiKeyStore, OwnershipStore, Protocol):
    """Durable storage: every read protocol, and the write transaction."""

    def write(self) -> AbstractContextManager[WriteTransaction]:
        """A write transaction: committed when the block ends, rolled back when it raises.
        Write transactions are serialised with each other across threads and processes, and
        ``generation()`` moves when one that wrote anything commits."""
        ...

    def close(self) -> None: ...


# -- other ports ---------------------------------------------------------------------------
class ProofChecker(Protocol):
    """Looks for a claim token where a builder was told to put it (``proofs/``)."""

    def check_http(self, url: str, token: str) -> ProofCheck:
        """``GET {origin of url}/.well-known/unfragile.json``: a JSON object whose
        ``"unfragile-claim"`` is the token or a list holding it."""
        ...

    def check_dns(self, url: str, token: str) -> ProofCheck:
        """A TXT record at ``_unfragile.{host of url}`` holding ``unfragile-claim={token}``."""
        ...

    def check_repository(self, url: str, token: str) -> ProofCheck:
        """For an artifact on a shared host (GitHub, Hugging Face): the repository's own
        ``unfragile.yml`` at its default branch holds ``unfragile-claim: {token}``."""
        ...



@dataclass(frozen=True)
class FetchedDocument:
    """What a document fetch read: the body (None when nothing was accepted), the URL it
    finally came from, and why nothing was accepted ("" when a body was)."""

    url: str
    body: bytes | None
    problem: str = ""


class DocumentFetcher(Protocol):
    """One bounded GET of a document to import (``proofs/documents.py``): the claim-proof
    rules (https only, same-host redirects, one deadline, a byte cap, public addresses)."""

    def fetch(self, url: str) -> FetchedDocument:
        """Never raises for network trouble: the result's ``problem`` says what went wrong."""
class SharedLimits(Protocol):
    """Token buckets every host shares (``storage/redis_limits.py``), for rate limits that
    hold across hosts."""

    async def take(self, client: str, capacity: float) -> float | None:
        """Take one token from ``client``'s bucket of ``capacity`` tokens a minute: 0 when the
        request may go, else seconds until it may; None when the shared store cannot answer
        now (the caller then counts on its own)."""
        ...


class StaticSink(Protocol):
    """Where the static read path's files go (``storage/static_dir.py``: a directory nginx
    or a CDN serves; an object store would implement the same four calls). Paths are
    relative, '/'-separated URL paths without a leading slash."""

    def put(self, path: str, data: bytes, *, immutable: bool) -> None:
        """Store ``data`` at ``path`` so a reader sees the old bytes or the new, never a part.
        ``immutable``: the bytes never change once written (a store may skip a rewrite, and
        says so to caches)."""
        ...

    def get(self, path: str) -> bytes | None:
        """The bytes at ``path``, or None."""
        ...

    def delete(self, path: str) -> None:
        """Remove ``path`` when it is there."""
        ...

    def lock(self) -> AbstractContextManager[None]:
        """Held while one process brings the files up to date, so two hosts' updates never
        interleave (an older checkpoint never lands over a newer one)."""
        ...


class Embedder(Protocol):
    """Turns texts into unit-length vectors (``search/embedding.py``)."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> Any:
        """A float32 array of shape (len(texts), dim), each row of unit length."""
        ...


class KeyRing(Protocol):
    """Where signing keys live (``storage/keystore.py`` keeps them in owner-only files)."""

    def signing_key(self, now: datetime) -> SigningKey:
        """The key that signs now, created on first use."""
        ...

    def public_keys(self) -> dict[str, PublicKey]:
        """Every key ever used, by kid, with its status and validity window."""
        ...

    def rotate(self, now: datetime) -> SigningKey:
        """Retire the signing key and start a new one."""
        ...

    def revoke(self, kid: str, now: datetime) -> None:
        """Revoke a signing key; ``NotFound`` when there is none with that kid."""
        ...

    def secret(self, name: str) -> bytes:
        """A named random secret kept with the keys (owner-only), made on first use."""
        ...

    def prune_secrets(self, prefix: str, *, keep: int) -> None:
        """Delete all but the ``keep`` newest secrets named ``prefix*``."""
        ...

    def log_key(self, now: datetime, origin: str) -> tuple[SigningKey, str]:
        """The key that signs log checkpoints and the log's origin, created (with ``origin``)
        on first use and fixed after."""
        ...

