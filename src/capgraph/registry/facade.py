"""``Registry``: the one object transports (HTTP, web pages, CLI) call. A thin facade: each
method hands over to the module of its use case. ``bootstrap.py`` builds it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from capgraph.core.checkpoint import Checkpoint, NoteVerifier
from capgraph.core.outcomes import Outcomes
from capgraph.core.signing import SigningKey
from capgraph.ports import ApiKeyRecord, ArtifactSummary, Embedder, KeyRing, Store, StoredVersion
from capgraph.registry.access import Access
from capgraph.registry.discovery import Discovery, IndexStatus
from capgraph.registry.feedback import FeedbackResult, Reporting
from capgraph.registry.publishing import Publishing, PublishResult, ValidationReport
from capgraph.registry.reading import Reading
from capgraph.registry.translog import TransparencyLog
from capgraph.registry.trust import Trust, VerifyReport
from capgraph.search.engine import SearchEngine
from capgraph.search.keyword import KeywordIndex
from capgraph.search.learning import LearnedIndex
from capgraph.search.resolver import Resolver
from capgraph.search.results import Resolution, SearchResult
from capgraph.search.vectors import VectorIndex

__all__ = ["Registry"]


class Registry:
    """capgraph's use cases. The adapters it holds are public for tests and benchmarks;
    transports use the methods only."""

    def __init__(self, *, store: Store, keys: KeyRing, public_url: str, log: TransparencyLog,
                 reading: Reading, publishing: Publishing, reporting: Reporting,
                 discovery: Discovery, trust: Trust, access: Access, engine: SearchEngine,
                 resolver: Resolver, keywords: KeywordIndex, vectors: VectorIndex | None,
                 learned: LearnedIndex | None, embedder: Embedder | None,
                 callback_secret: Callable[[], bytes]) -> None:
        self.store = store
        self.keys = keys
        self.public_url = public_url
        self.engine = engine
        self.resolver = resolver
        self.keywords = keywords
        self.vectors = vectors
        self.learned = learned
        self.embedder = embedder
        self.callback_secret = callback_secret
        self._log = log
        self._reading = reading
        self._publishing = publishing
        self._reporting = reporting
        self._discovery = discovery
        self._trust = trust
        self._access = access

    # -- publishing ---------------------------------------------------------------------------
    def validate(self, text: str | bytes, *, hint: str | None = None) -> ValidationReport:
        return self._publishing.validate(text, hint=hint)

    def publish(self, text: str | bytes, *, hint: str | None = None) -> PublishResult:
        return self._publishing.publish(text, hint=hint)

    def import_passport(self, document: Mapping[str, Any], *, summary: str | None = None
                        ) -> PublishResult:
        return self._publishing.import_passport(document, summary=summary)

    # -- reading ------------------------------------------------------------------------------
    def passport(self, slug: str, *, version: int | None = None) -> StoredVersion:
        return self._reading.passport(slug, version=version)

    def versions(self, slug: str) -> list[StoredVersion]:
        return self._reading.versions(slug)

    def artifacts(self, *, artifact_type: str | None = None, limit: int = 100, offset: int = 0
                  ) -> list[ArtifactSummary]:
        return self._reading.artifacts(artifact_type=artifact_type, limit=limit, offset=offset)

    def count(self, *, artifact_type: str | None = None) -> int:
        return self._reading.count(artifact_type=artifact_type)

    def generation(self) -> int:
        """Changes whenever any process writes: what per-process caches key on."""
        return self.store.generation()

    def envelope_bytes(self, slug: str, base_url: str, *, version: int | None = None) -> bytes:
        return self._reading.envelope_bytes(slug, base_url, version=version)

    def score_breakdown(self, slug: str, *, version: int | None = None) -> dict[str, Any]:
        return self._reading.score_breakdown(slug, version=version)

    # -- discovery ----------------------------------------------------------------------------
    def search(self, q: str, *, limit: int = 5, artifact_type: str | None = None
               ) -> SearchResult:
        return self._discovery.search(q, limit=limit, artifact_type=artifact_type)

    def resolve(self, intent: str, *, limit: int = 3, artifact_type: str | None = None,
                risk: str = "default", capability: str | None = None) -> Resolution:
        return self._discovery.resolve(intent, limit=limit, artifact_type=artifact_type,
                                       risk=risk, capability=capability)

    def rebuild_index(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        return self._discovery.rebuild(progress=progress)

    def prepare_indexes(self) -> None:
        self._discovery.prepare()

    def index_status(self) -> IndexStatus:
        return self._discovery.status()

    # -- outcomes -----------------------------------------------------------------------------
    def client_ids(self, address: str) -> tuple[str, ...]:
        return self._reporting.client_ids(address)

    def client_id(self, address: str) -> str:
        """A salted hash of a client address (docs/PRIVACY.md)."""
        return self._reporting.client_ids(address)[0]

    def feedback(self, payload: Any, *, client: str, same_client: Sequence[str] = ()
                 ) -> FeedbackResult:
        return self._reporting.report(payload, client=client, same_client=same_client)

    def outcomes(self, slug: str) -> Outcomes:
        return self._reporting.outcomes(slug)

    # -- transparency log ---------------------------------------------------------------------
    def checkpoint(self) -> tuple[Checkpoint, str]:
        return self._log.checkpoint()

    @property
    def log_origin(self) -> str:
        return self._log.origin

    def log_verifier(self) -> NoteVerifier:
        return self._log.verifier()

    def log_proof_for(self, stored: StoredVersion) -> dict[str, Any]:
        return self._log.proof_for(stored)

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        return self._log.inclusion(index, size)

    def consistency(self, old_size: int, size: int) -> dict[str, Any]:
        return self._log.consistency(old_size, size)

    def log_entries(self, start: int, end: int) -> list[bytes]:
        return self._log.entries(start, end)

    # -- keys and verification ----------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        return self._trust.jwks()

    def verify_document(self, document: Any) -> VerifyReport:
        return self._trust.verify_document(document)

    def verify_slug(self, slug: str) -> VerifyReport:
        return self._trust.verify_slug(slug)

    def rotate_signing_key(self) -> SigningKey:
        return self._trust.rotate_signing_key()

    def revoke_signing_key(self, kid: str) -> None:
        self._trust.revoke_signing_key(kid)

    # -- API keys -----------------------------------------------------------------------------
    def create_api_key(self, name: str) -> tuple[str, str]:
        return self._access.create(name)

    def api_keys(self) -> list[ApiKeyRecord]:
        return self._access.keys()

    def revoke_api_key(self, key_id: str) -> None:
        self._access.revoke(key_id)

    def authenticate(self, secret: str | None) -> ApiKeyRecord:
        return self._access.authenticate(secret)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()
