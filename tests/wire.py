"""Test helpers: the registry's typed results as the API's JSON (``http/shapes.py``), and
store writes through the rules every backend shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from capgraph.http.shapes import feedback_json, resolution_json
from capgraph.ports import Store
from capgraph.registry import Registry
from capgraph.registry.indexing import write_index
from capgraph.search.documents import SearchDoc

BASE_URL = "http://registry.test"


def resolve_json(registry: Registry, intent: str, **options: Any) -> dict[str, Any]:
    """``registry.resolve`` as ``POST /api/v1/resolve`` answers it."""
    return resolution_json(registry.resolve(intent, **options), BASE_URL)


def report_json(registry: Registry, payload: Any, **options: Any) -> dict[str, Any]:
    """``registry.feedback`` as ``POST /api/feedback`` answers it."""
    return feedback_json(registry.feedback(payload, **options))


def reindex(store: Store, slug: str, artifact_type: str, docs: Sequence[SearchDoc],
            vectors: Sequence[tuple[str, bytes]] | None) -> None:
    """Replace an artifact's index entries in one write transaction (no new version)."""
    with store.write() as tx:
        write_index(tx, slug, artifact_type, docs, vectors)
