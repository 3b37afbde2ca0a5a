"""An index written before capabilities had a vector per view (issue 16) is detected and
rebuilt from the stored versions: a vector log of averaged two-view vectors under bare
capability ids, and a vector snapshot of the older format, as the previous release left them
on disk. After ``prepare_indexes`` (what ``capgraph serve`` runs before its workers start)
every capability has one unit vector per view, each artifact one of its own, and the snapshot
on disk is of the current format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from capgraph.ports import VectorEntry
from capgraph.search import vector_snapshot
from capgraph.search.documents import ARTIFACT_DOC, documents_for, split_key
from tests.searchkit import copy_demo, demo_registry, embedder, seed_documents
from tests.wire import resolve_json


def _downgrade(data: Path) -> tuple[str, str]:
    """Rewrite one seed's vectors as the previous release wrote them (the mean of its two
    views' embeddings under the bare capability id, no artifact vector), and mark the
    snapshot as the previous format. Returns the seed's (slug, capability id)."""
    body = seed_documents()[0]["passport"]["unfragile"]
    slug, kind = body["artifact"]["slug"], body["artifact"]["type"]
    registry = demo_registry(data)
    try:
        entries = [VectorEntry(slug, "", kind, None)]
        for doc in documents_for(body):
            views = [text for _, text in doc.views()]
            if doc.cap_id == ARTIFACT_DOC:
                continue
            pair = embedder().embed(views if len(views) == 2 else views * 2)
            entries.append(VectorEntry(slug, doc.cap_id, kind,
                                       ((pair[0] + pair[1]) / 2).astype(np.float16).tobytes()))
        with registry.store.write() as tx:
            tx.add_vector_entries(entries)
        assert registry.vectors is not None
        registry.vectors.sync()
        registry.vectors.save_snapshot()
    finally:
        registry.store.close()
    snapshot = data / "index" / "vectors.npz"
    with np.load(snapshot, allow_pickle=False) as old:
        members = {k: old[k] for k in old.files}
    members["format"] = np.array(vector_snapshot.FORMAT - 1)
    np.savez(snapshot, **members)
    return slug, body["capabilities"][0]["id"]


def test_an_index_from_before_views_is_detected_and_rebuilt(tmp_path: Path) -> None:
    data = copy_demo(tmp_path / "data")
    slug, cap_id = _downgrade(data)
    snapshot = data / "index" / "vectors.npz"
    assert vector_snapshot.read_snapshot(snapshot, dim=embedder().dim) is None  # old format

    registry = demo_registry(data)
    try:
        vectors = registry.vectors
        assert vectors is not None
        stale = vectors.legacy_count()
        assert stale == len(seed_documents()[0]["passport"]["unfragile"]["capabilities"])
        registry.prepare_indexes()
        assert vectors.legacy_count() == 0
        keys = {key for s, key, _ in vectors.items() if s == slug}
        assert ARTIFACT_DOC in keys
        assert {split_key(k)[0] for k in keys} >= {cap_id}
        assert all(split_key(k)[1] in ("p", "c") for k in keys
                   if not k.startswith(ARTIFACT_DOC))
        for _, _, row in vectors.items():  # every stored vector is a unit vector
            assert abs(float(np.linalg.norm(row.astype(np.float32))) - 1) < 0.01
        intent = seed_documents()[0]["passport"]["unfragile"]["capabilities"][0]["intents"][0]
        answer = resolve_json(registry, intent, limit=1)
        assert answer["resolved"][0]["capability"]["id"] == cap_id
    finally:
        registry.store.close()
    loaded = vector_snapshot.read_snapshot(snapshot, dim=embedder().dim)
    assert loaded is not None  # saved again, in the current format
    assert ARTIFACT_DOC in loaded.labels.cap_ids(np.flatnonzero(loaded.alive))
