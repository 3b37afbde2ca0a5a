"""The one place that wires adapters into a Registry, from Settings."""

from __future__ import annotations

from capgraph.config import Settings
from capgraph.ports import Embedder
from capgraph.search.embedding import MiniLMEmbedder
from capgraph.service import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.sqlite import SQLiteStore

__all__ = ["build_registry"]


def build_embedder(settings: Settings) -> Embedder | None:
    """The configured embedding model (loaded once per process), or None."""
    if settings.embedder == "none":
        return None
    return MiniLMEmbedder(threads=1)


def build_registry(settings: Settings, *, embedder: Embedder | None = None) -> Registry:
    """A Registry on the configured SQLite file and key directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Registry(
        embedder=embedder if embedder is not None else build_embedder(settings),
        index_dir=settings.index_dir,
        store=SQLiteStore(settings.database_path),
        keys=FileKeyStore(settings.keys_dir),
        registry_name=settings.registry_name,
        public_url=settings.base_url,
        log_origin=settings.origin,
    )
