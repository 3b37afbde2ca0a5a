"""``Registry``: the one object transports (HTTP, web pages, CLI) call. A thin facade: each
method hands over to the module of its use case. ``bootstrap.py`` builds it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from capgraph.core.checkpoint import Checkpoint, NoteVerifier
from capgraph.core.outcomes import Outcomes
from capgraph.core.signing import SigningKey
from capgraph.errors import CapgraphError, NotFound
from capgraph.ports import (
    ApiKeyRecord,
    ArtifactSummary,
    ClaimRecord,
    Embedder,
    KeyRing,
    OwnershipRecord,
    PublisherRecord,
    StaticSink,
    Store,
    StoredVersion,
)
from capgraph.registry.access import Access
from capgraph.registry.claims import Claims, ClaimStarted, DomainKey
from capgraph.registry.discovery import Discovery, IndexStatus
from capgraph.registry.feedback import FeedbackResult, Reporting
from capgraph.registry.importing import Importing, ImportReport, Progress
from capgraph.registry.mcp_registry import McpRegistry, ServerPage
from capgraph.registry.ownership import Ownership
from capgraph.registry.publishing import Publishing, PublishResult, ValidationReport
from capgraph.registry.reading import Reading
from capgraph.registry.static import StaticExport, SyncReport
from capgraph.registry.translog import TransparencyLog
from capgraph.registry.trust import Trust, VerifyReport
from capgraph.search.engine import SearchEngine
from capgraph.search.keyword import KeywordIndex
from capgraph.search.learning import LearnedIndex
from capgraph.search.resolver import Resolver
from capgraph.search.results import Resolution, SearchResult
from capgraph.search.vectors import VectorIndex

__all__ = ["Registry"]

log = logging.getLogger(__name__)


class Registry:
    """capgraph's use cases. The adapters it holds are public for tests and benchmarks;
    transports use the methods only."""

    def __init__(self, *, store: Store, keys: KeyRing, public_url: str, log: TransparencyLog,
                 reading: Reading, publishing: Publishing, reporting: Reporting,
                 discovery: Discovery, trust: Trust, access: Access, ownership: Ownership,
                 claims: Claims, engine: SearchEngine,
                 resolver: Resolver, keywords: KeywordIndex, vectors: VectorIndex | None,
                 learned: LearnedIndex | None, embedder: Embedder | None,
                 callback_secret: Callable[[], bytes], importing: Importing,
                 mcp: McpRegistry, static: StaticSink | None = None) -> None:
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
        self._ownership = ownership
        self._claims = claims
        self._importing = importing
        self._mcp = mcp
        self._static = self._static_export(static) if static is not None else None

    # -- the static read path (registry/static.py, docs/STATIC.md) ----------------------------
    def _static_export(self, sink: StaticSink) -> StaticExport:
        return StaticExport(sink=sink, store=self.store, log=self._log, reading=self._reading,
                            jwks=self.jwks_bytes)

    def sync_static(self, *, keys_changed: bool = False) -> SyncReport | None:
        """Bring the static files (``CAPGRAPH_STATIC_DIR``) up to the store: after every
        write, from any process. A failure to write them is logged, never raised: the write
        is committed, and ``capgraph static export`` (or the next write) catches up."""
        if self._static is None:
            return None
        try:
            return self._static.sync(keys_changed=keys_changed)
        except (OSError, ValueError, CapgraphError):  # the write stands; its answer too
            log.exception("the static read path could not be updated")
            return None

    def export_static(self, sink: StaticSink) -> SyncReport:
        """Write every static file into ``sink`` again, from the store."""
        return self._static_export(sink).export_all()

    @contextmanager
    def _writing(self, *, keys_changed: bool = False) -> Iterator[None]:
        try:
            yield
        finally:
            self.sync_static(keys_changed=keys_changed)

    # -- publishing ---------------------------------------------------------------------------
    def validate(self, text: str | bytes, *, hint: str | None = None) -> ValidationReport:
        return self._publishing.validate(text, hint=hint)

    def publish(self, text: str | bytes, *, hint: str | None = None,
                publisher_id: str | None = None) -> PublishResult:
        """``publisher_id`` None: the operator (CLI), who may write any artifact."""
        with self._writing():
            return self._publishing.publish(text, hint=hint, publisher_id=publisher_id)

    def import_passport(self, document: Mapping[str, Any], *, summary: str | None = None,
                        publisher_id: str | None = None) -> PublishResult:
        with self._writing():
            return self._publishing.import_passport(document, summary=summary,
                                                    publisher_id=publisher_id)

    # -- importing (importers/) and the MCP Registry API (/v0.1) -------------------------------
    def import_document(self, data: bytes, *, fmt: str | None = None,
                        source_url: str | None = None, publisher_id: str | None = None,
                        progress: Progress | None = None) -> ImportReport:
        """Detect and import every entry of a document (registry/importing.py)."""
        with self._writing():
            return self._importing.import_document(data, fmt=fmt, source_url=source_url,
                                                   publisher_id=publisher_id, progress=progress)

    def import_url(self, url: str, *, fmt: str | None = None, publisher_id: str | None = None,
                   progress: Progress | None = None) -> ImportReport:
        """Fetch a document (the claim proofs' safe-fetch rules) and import it."""
        with self._writing():
            return self._importing.import_url(url, fmt=fmt, publisher_id=publisher_id,
                                              progress=progress)

    def mcp_servers(self, *, base_url: str, cursor: str | None = None, limit: int = 30,
                    search: str | None = None, updated_since: str | None = None,
                    version: str | None = None) -> ServerPage:
        return self._mcp.servers(base_url=base_url, cursor=cursor, limit=limit, search=search,
                                 updated_since=updated_since, version=version)

    def mcp_server_versions(self, name: str, *, base_url: str) -> list[dict[str, Any]]:
        return self._mcp.versions(name, base_url=base_url)

    def mcp_server_version(self, name: str, version: str, *, base_url: str) -> dict[str, Any]:
        return self._mcp.version(name, version, base_url=base_url)

    def publish_server_json(self, document: Any, *, publisher_id: str | None, base_url: str
                            ) -> dict[str, Any]:
        with self._writing():
            return self._mcp.publish(document, publisher_id=publisher_id, base_url=base_url)

    # -- ownership and claims -----------------------------------------------------------------
    def ownership(self, slug: str) -> OwnershipRecord | None:
        return self._ownership.of(slug)

    def add_maintainer(self, slug: str, publisher_id: str, *, actor: str | None
                       ) -> OwnershipRecord:
        with self._writing():
            return self._ownership.add_maintainer(slug, publisher_id, actor=actor)

    def remove_maintainer(self, slug: str, publisher_id: str, *, actor: str | None
                          ) -> OwnershipRecord:
        with self._writing():
            return self._ownership.remove_maintainer(slug, publisher_id, actor=actor)

    def transfer(self, slug: str, publisher_id: str, *, actor: str | None) -> OwnershipRecord:
        """A new owner (``actor`` None: the operator's reassignment). A verification stays
        with who proved it: the passport is re-issued unverified when there was one."""
        with self._writing():
            before = self._ownership.of(slug)
            after = self._ownership.transfer(slug, publisher_id, actor=actor)
            if before is not None and before.verification is not None:
                self._publishing.reissue_verification(slug, None)
            return after

    def start_claim(self, slug: str, method: str, *, publisher_id: str) -> ClaimStarted:
        return self._claims.start(slug, method, publisher_id=publisher_id)

    def start_domain_claim(self, domain: str, method: str) -> ClaimStarted:
        return self._claims.start_domain(domain, method)

    def claim(self, claim_id: str) -> ClaimRecord:
        found = self.store.claim(claim_id)
        if found is None:
            raise NotFound(f"no claim {claim_id!r}")
        return found

    def verify_claim(self, claim_id: str, *, publisher_id: str) -> OwnershipRecord:
        with self._writing():
            return self._claims.verify(claim_id, publisher_id=publisher_id)

    def verify_domain_claim(self, claim_id: str) -> DomainKey:
        with self._writing():
            return self._claims.verify_domain(claim_id)

    def recheck_claims(self) -> list[tuple[str, bool]]:
        with self._writing():
            return self._claims.recheck()

    def publisher(self, publisher_id: str) -> PublisherRecord | None:
        return self.store.publisher(publisher_id)

    def publishers(self) -> list[PublisherRecord]:
        return self._access.publishers()

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

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray | None:
        """Unit vectors of ``texts`` from the search engine's embedding model, one row per
        text; None when the registry runs without one."""
        if self.embedder is None:
            return None
        rows: np.ndarray = np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)
        return rows

    def capability_vectors(self) -> dict[str, np.ndarray]:
        """Per artifact, the vectors the search index holds for its capabilities, scaled to
        unit length, one row each (empty without an embedding model)."""
        if self.vectors is None:
            return {}
        self.vectors.sync()
        rows: dict[str, list[np.ndarray]] = {}
        for slug, _cap_id, row in self.vectors.items():
            rows.setdefault(slug, []).append(np.asarray(row, dtype=np.float32))
        out = {}
        for slug, vectors in rows.items():
            matrix = np.stack(vectors)
            out[slug] = matrix / np.clip(np.linalg.norm(matrix, axis=1, keepdims=True),
                                         1e-12, None)
        return out

    # -- outcomes -----------------------------------------------------------------------------
    def client_ids(self, address: str) -> tuple[str, ...]:
        return self._reporting.client_ids(address)

    def client_id(self, address: str) -> str:
        """A salted hash of a client address (docs/PRIVACY.md)."""
        return self._reporting.client_ids(address)[0]

    def feedback(self, payload: Any, *, client: str, same_client: Sequence[str] = ()
                 ) -> FeedbackResult:
        with self._writing():
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

    def log_tile(self, path: str) -> tuple[bool, bytes]:
        """A C2SP tlog-tiles tile or entry bundle by its path below ``tile/``: (whether it
        is a full one, hence never changes, its bytes); ``NotFound`` when there is none."""
        tile, data = self._log.tile(path)
        return not tile.partial, data

    # -- keys and verification ----------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        return self._trust.jwks()

    def jwks_bytes(self) -> bytes:
        """The JWK Set as served (and as the static file holds it)."""
        return json.dumps(self.jwks()).encode()

    def verify_document(self, document: Any) -> VerifyReport:
        return self._trust.verify_document(document)

    def verify_slug(self, slug: str) -> VerifyReport:
        return self._trust.verify_slug(slug)

    def rotate_signing_key(self) -> SigningKey:
        with self._writing(keys_changed=True):
            return self._trust.rotate_signing_key()

    def revoke_signing_key(self, kid: str) -> None:
        with self._writing(keys_changed=True):
            self._trust.revoke_signing_key(kid)

    def resign_revoked(self) -> list[StoredVersion]:
        """A new version of every artifact whose latest passport was signed with a revoked
        key, signed with the current key (each one logged); the new versions."""
        with self._writing():
            slugs: list[str] = []
            while page := self.artifacts(limit=500, offset=len(slugs)):
                slugs.extend(a.slug for a in page)
            return [v for v in map(self._publishing.resign, slugs) if v is not None]

    # -- API keys -----------------------------------------------------------------------------
    def create_api_key(self, name: str, *, publisher: str | None = None) -> tuple[str, str]:
        return self._access.create(name, publisher=publisher)

    def api_keys(self) -> list[ApiKeyRecord]:
        return self._access.keys()

    def revoke_api_key(self, key_id: str) -> None:
        self._access.revoke(key_id)

    def authenticate(self, secret: str | None) -> ApiKeyRecord:
        return self._access.authenticate(secret)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()
