"""The one place that chooses adapters and wires them into a Registry."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from capgraph.config import Settings
from capgraph.errors import BadRequest
from capgraph.ports import (
    DocumentFetcher,
    Embedder,
    KeyRing,
    ProofChecker,
    SharedLimits,
    StaticSink,
    Store,
)
from capgraph.proofs import NetworkDocumentFetcher, NetworkProofChecker
from capgraph.registry.access import Access
from capgraph.registry.claims import Claims
from capgraph.registry.discovery import Discovery
from capgraph.registry.facade import Registry
from capgraph.registry.feedback import Reporting
from capgraph.registry.importing import Importing
from capgraph.registry.indexing import Indexer
from capgraph.registry.mcp_registry import McpRegistry
from capgraph.registry.ownership import Ownership
from capgraph.registry.publishing import Publishing
from capgraph.registry.reading import Reading
from capgraph.registry.translog import TransparencyLog
from capgraph.registry.trust import Trust
from capgraph.registry.versions import fill_missing_cards
from capgraph.search.embedding import MiniLMEmbedder
from capgraph.search.engine import SearchEngine
from capgraph.search.keyword import KeywordIndex
from capgraph.search.learning import LearnedIndex
from capgraph.search.resolver import Resolver
from capgraph.search.vectors import VectorIndex
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from capgraph.storage.pg_copy import CopyReport, copy_sqlite_to_postgres
from capgraph.storage.postgres import PostgresStore, connect
from capgraph.storage.postgres_schema import LATEST, migrate
from capgraph.storage.redis_limits import RedisLimits
from capgraph.storage.sqlite import SQLiteStore
from capgraph.storage.static_dir import DirectorySink

__all__ = ["CopyOutcome", "assemble_registry", "build_embedder", "build_registry",
           "copy_database", "directory_sink", "migrate_database", "open_store",
           "scratch_registry", "shared_limits"]


def _system_now() -> datetime:
    return datetime.now(UTC)


def build_embedder(settings: Settings) -> Embedder | None:
    """The configured embedding model (loaded once per process), or None."""
    if settings.embedder == "none":
        return None
    return MiniLMEmbedder(threads=1)


def open_store(settings: Settings) -> Store:
    """The configured store: PostgreSQL when ``database_url`` names one (its schema must be
    migrated: ``SchemaOutOfDate`` otherwise), else the SQLite file (migrated on open)."""
    url = settings.postgres_url
    if url is not None:
        return PostgresStore(url, pool_size=settings.database_pool_size,
                             timeout=settings.database_timeout)
    return SQLiteStore(settings.database_path)


def directory_sink(path: Path) -> StaticSink:
    """The static read path's files in a directory (docs/STATIC.md)."""
    return DirectorySink(path)


def shared_limits(settings: Settings) -> SharedLimits | None:
    """Rate-limit buckets shared by every host (Redis), or None: each process counts."""
    if not settings.redis_url:
        return None
    secret = FileKeyStore(settings.keys_dir).secret("ratelimit")
    return RedisLimits(settings.redis_url, secret=secret, prefix=settings.redis_prefix)


def build_registry(settings: Settings, *, embedder: Embedder | None = None) -> Registry:
    """A Registry on the configured store and key directory."""
    # Owner-only, like the keys and database files in it (index files hold intents too).
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.data_dir, 0o700)
    return assemble_registry(
        store=open_store(settings),
        keys=FileKeyStore(settings.keys_dir),
        embedder=embedder if embedder is not None else build_embedder(settings),
        index_dir=settings.index_dir,
        registry_name=settings.registry_name,
        public_url=settings.base_url,
        log_origin=settings.origin,
        checker=NetworkProofChecker(allow_private=settings.claim_allow_private_networks,
                                    nameservers=settings.nameservers or None),
        self_service=settings.self_service_keys,
        fetcher=NetworkDocumentFetcher(allow_private=settings.claim_allow_private_networks,
                                       timeout=settings.import_timeout_seconds,
                                       max_bytes=settings.import_max_bytes),
        import_max_bytes=settings.import_max_bytes,
        static=directory_sink(settings.static_dir) if settings.static_dir else None,
    )


def scratch_registry(*, keys_dir: Path, registry_name: str, public_url: str,
                     embedder: Embedder | None) -> Registry:
    """A throwaway Registry in memory (``capgraph eval``, tuning scripts), signing with keys
    kept in ``keys_dir``."""
    return assemble_registry(store=MemoryStore(), keys=FileKeyStore(keys_dir),
                             registry_name=registry_name, public_url=public_url,
                             embedder=embedder)


def assemble_registry(
    *, store: Store, keys: KeyRing, registry_name: str, public_url: str,
    clock: Callable[[], datetime] | None = None, log_origin: str | None = None,
    embedder: Embedder | None = None, index_dir: Path | None = None,
    checker: ProofChecker | None = None, self_service: bool = True,
    fetcher: DocumentFetcher | None = None, import_max_bytes: int = 4_194_304,
    static: StaticSink | None = None,
) -> Registry:
    """A Registry over a store and key ring: the search indexes (in memory, or under
    ``index_dir``) and every use case wired together. Fills cards a store written before
    cards were kept lacks."""
    now = clock or _system_now
    public_url = public_url.rstrip("/")
    fill_missing_cards(store)
    vectors = (VectorIndex(store, dim=embedder.dim,
                           snapshot=index_dir / "vectors.npz" if index_dir else None)
               if embedder is not None else None)
    learned = LearnedIndex(store, dim=embedder.dim) if embedder is not None else None
    keywords = KeywordIndex(store, path=index_dir / "keyword" if index_dir else None)
    engine = SearchEngine(store, keywords=keywords, embedder=embedder, vectors=vectors,
                          learned=learned)
    callback_secret = functools.cache(lambda: keys.secret("callback"))
    resolver = Resolver(engine=engine, secret=callback_secret, now=now)
    indexer = Indexer(embedder)
    log = TransparencyLog(store=store, keys=keys,
                          origin=log_origin or f"{urlparse(public_url).netloc}/log", now=now)
    reading = Reading(store=store, log=log, public_url=public_url)
    discovery = Discovery(store=store, indexer=indexer, engine=engine, resolver=resolver,
                          keywords=keywords, vectors=vectors, embedder=embedder, now=now)
    publishing = Publishing(store=store, keys=keys, indexer=indexer,
                            registry_name=registry_name, public_url=public_url, now=now,
                            after_write=discovery.keywords_changed)
    access = Access(store=store, now=now)
    importing = Importing(
        store=store, publishing=publishing, indexer=indexer,
        fetcher=fetcher or NetworkDocumentFetcher(allow_private=False, timeout=10.0,
                                                  max_bytes=import_max_bytes),
        public_url=public_url, now=now, after_write=discovery.keywords_changed,
        max_bytes=import_max_bytes)
    return Registry(
        store=store, keys=keys, public_url=public_url, log=log, reading=reading,
        publishing=publishing,
        reporting=Reporting(store=store, keys=keys, indexer=indexer, publishing=publishing,
                            callback_secret=callback_secret, now=now),
        discovery=discovery, trust=Trust(keys=keys, log=log, reading=reading, now=now),
        access=access, ownership=Ownership(store=store, now=now),
        claims=Claims(store=store, checker=checker or NetworkProofChecker(),
                      publishing=publishing, access=access, now=now,
                      self_service=self_service),
        engine=engine, resolver=resolver,
        keywords=keywords, vectors=vectors, learned=learned, embedder=embedder,
        callback_secret=callback_secret, importing=importing,
        mcp=McpRegistry(store=store, importing=importing), static=static,
    )


def migrate_database(settings: Settings) -> tuple[str, list[int], int]:
    """Bring the configured database's schema up to date: (backend, the migrations applied
    now, the schema version it is at). SQLite migrates whenever it is opened."""
    url = settings.postgres_url
    if url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        SQLiteStore(settings.database_path).close()
        return "sqlite", [], 0
    conn = connect(url, timeout=settings.database_timeout)
    try:
        return "postgresql", migrate(conn), LATEST
    finally:
        conn.close()


@dataclass(frozen=True)
class CopyOutcome:
    report: CopyReport
    source_checkpoint: str  # the signed checkpoint of each side (same key): equal notes
    target_checkpoint: str  # prove the same log at the same size


def copy_database(settings: Settings, source: str, target: str) -> CopyOutcome:
    """Copy the embedded registry at ``source`` (``sqlite:///path``) into the empty
    PostgreSQL database at ``target``, and sign a checkpoint of each side with the log key
    of ``settings``' key directory."""
    if not source.startswith("sqlite:///"):
        raise BadRequest(f"--from must be sqlite:///path, not {source!r}")
    if not target.startswith(("postgresql://", "postgres://")):
        raise BadRequest(f"--to must be a postgresql:// URL, not {target!r}")
    path = Path(source.removeprefix("sqlite:///"))  # sqlite:////abs or sqlite:///relative
    if not path.is_file():
        raise BadRequest(f"no SQLite database at {path}")
    SQLiteStore(path).close()  # brings an older file's schema up to date first
    report = copy_sqlite_to_postgres(path, target)
    notes = []
    keys = FileKeyStore(settings.keys_dir)
    for store in (SQLiteStore(path), PostgresStore(target, pool_size=1,
                                                   timeout=settings.database_timeout)):
        try:
            log = TransparencyLog(store=store, keys=keys, origin=settings.origin,
                                  now=_system_now)
            notes.append(log.checkpoint()[1] if report.log_size else "")
        finally:
            store.close()
    return CopyOutcome(report, notes[0], notes[1])
