"""The records the ports exchange: frozen dataclasses, and named tuples for rows read in bulk
(index feeds), which unpack like the tuples they replace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "ApiKeyRecord",
    "ArtifactCard",
    "ArtifactSummary",
    "ClaimRecord",
    "CountedReport",
    "FeedbackChange",
    "FeedbackRecord",
    "IntentEntry",
    "IntentMatch",
    "KeywordChange",
    "KeywordEntry",
    "LogNode",
    "MatchRecord",
    "OwnershipRecord",
    "ProofCheck",
    "PublisherRecord",
    "ResolveRecord",
    "StoredVersion",
    "VectorChange",
    "VectorEntry",
]


# -- artifacts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredVersion:
    """One immutable stored version of an artifact's passport."""

    slug: str
    version: int
    name: str
    artifact_type: str
    score: int
    content_hash: str
    source_kind: str  # "manifest" | "import"
    source: str  # the manifest or imported passport body, as canonical JSON text
    passport: bytes  # the signed passport object's JSON bytes, served as they are
    key_id: str
    created_at: str
    capability_numbers: dict[str, int]
    log_index: int

    def body(self) -> dict[str, Any]:
        """The passport body (its ``unfragile`` object), parsed from the stored bytes."""
        body: dict[str, Any] = json.loads(self.passport)["unfragile"]
        return body


@dataclass(frozen=True)
class ArtifactSummary:
    slug: str
    name: str
    artifact_type: str
    score: int
    latest_version: int
    updated_at: str


class ArtifactCard(NamedTuple):
    """What ranking needs of an artifact without loading its passport."""

    version: int  # the latest version
    score: int  # its UnfragileRank
    card: str  # its compact card (``search/cards.py``, JSON text); "" when it has none


class LogNode(NamedTuple):
    """A stored complete-subtree hash of the transparency log (``core/translog.py``)."""

    level: int
    idx: int
    hash: bytes


class KeywordEntry(NamedTuple):
    """A keyword-log row to write. An empty ``cap_id`` is a reset marker: the artifact's
    earlier documents are gone (``search/keyword.py``)."""

    slug: str
    cap_id: str
    type: str
    name: str = ""
    intents: str = ""
    body: str = ""
    artifact: str = ""


class KeywordChange(NamedTuple):
    """A keyword-log row as read back, with its sequence number."""

    seq: int
    slug: str
    cap_id: str
    type: str
    name: str
    intents: str
    body: str
    artifact: str


class VectorEntry(NamedTuple):
    """A vector-log row to write; ``vec`` None (with an empty ``cap_id``) is a reset marker."""

    slug: str
    cap_id: str
    type: str
    vec: bytes | None  # float16 embedding bytes


class VectorChange(NamedTuple):
    seq: int
    slug: str
    cap_id: str
    type: str
    vec: bytes | None


class IntentEntry(NamedTuple):
    """A normalised intent a capability declares."""

    intent: str
    slug: str
    cap_id: str
    type: str


class IntentMatch(NamedTuple):
    slug: str
    cap_id: str


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    created_at: str
    revoked: bool
    publisher_id: str = ""  # the publisher the key acts for


@dataclass(frozen=True)
class PublisherRecord:
    """Who publishes: every API key belongs to one. ``domain`` is set for a publisher that
    proved a domain to get its key (it may take that domain's unowned artifacts)."""

    publisher_id: str
    name: str
    created_at: str
    domain: str | None = None


@dataclass(frozen=True)
class OwnershipRecord:
    """Who owns an artifact, who else may publish it, and how its builder was verified
    (``core/verification.py``'s JSON, or None)."""

    slug: str
    owner: str  # a publisher id
    maintainers: tuple[str, ...] = ()
    verification: dict[str, str] | None = None
    updated_at: str = ""


@dataclass(frozen=True)
class ClaimRecord:
    """A started proof: of an artifact (``subject`` a slug) or of a domain (``subject`` a host,
    for a publisher key). ``status``: pending, verified or failed."""

    claim_id: str
    kind: str  # "artifact" | "domain"
    subject: str
    method: str  # "http" | "dns" | "repository"
    token: str
    publisher_id: str  # "" for a domain claim made without a key
    created_at: str
    expires_at: str
    status: str = "pending"


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


class CountedReport(NamedTuple):
    """A counted report, as the passport's evidence reads it."""

    cap_id: str
    outcome: str
    intent: str
    confidence: float
    created_at: str


class FeedbackChange(NamedTuple):
    """A counted report after a sequence number, for the learned ranking."""

    seq: int
    slug: str
    cap_id: str
    intent_vec: bytes | None
    outcome: str


class ResolveRecord(NamedTuple):
    """What a resolve answered for one artifact."""

    resolve_id: str
    slug: str
    cap_id: str
    intent: str
    confidence: float
    created_at: str


class MatchRecord(NamedTuple):
    """A search match that may be reported on."""

    match_id: str
    slug: str
    cap_id: str
    query: str
    confidence: float
    created_at: str


@dataclass(frozen=True)
class ProofCheck:
    """What a claim proof look-up saw: whether the token was there, what was looked up (a URL
    or a DNS name) and what was found there (or why nothing could be read)."""

    found: bool
    looked_up: str
    detail: str
