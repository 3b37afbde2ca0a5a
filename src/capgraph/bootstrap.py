"""The one place that wires adapters into a Registry, from Settings."""

from __future__ import annotations

from capgraph.config import Settings
from capgraph.service import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.sqlite import SQLiteStore

__all__ = ["build_registry"]


def build_registry(settings: Settings) -> Registry:
    """A Registry on the configured SQLite file and key directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Registry(
        store=SQLiteStore(settings.database_path),
        keys=FileKeyStore(settings.keys_dir),
        registry_name=settings.registry_name,
        public_url=settings.base_url,
        log_origin=settings.origin,
    )
