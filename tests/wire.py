"""Test helpers: the registry's typed results as the API's JSON (``http/shapes.py``), and
store writes through the rules every backend shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from capgraph.http.shapes import feedback_json, resolution_json
from capgraph.ports import ProofCheck, Store
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


class ProofEverywhere:
    """A ``ProofChecker`` that finds every token: for tests of what verification changes,
    not of how proofs are looked up (``tests/integration/test_ownership.py`` does that)."""

    def _found(self, url: str, token: str) -> ProofCheck:
        return ProofCheck(True, url, f"unfragile-claim={token}")

    check_http = check_dns = check_repository = _found


def verify_builder(registry: Registry, slug: str, *, publisher: str = "builder") -> None:
    """Claim ``slug`` for a new publisher and verify it (the registry's checker must be a
    ``ProofEverywhere``): its passport is re-issued as verified."""
    key_id, _ = registry.create_api_key(publisher)
    publisher_id = next(k.publisher_id for k in registry.api_keys() if k.key_id == key_id)
    started = registry.start_claim(slug, "dns", publisher_id=publisher_id)
    registry.verify_claim(started.claim.claim_id, publisher_id=publisher_id)
