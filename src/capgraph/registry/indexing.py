"""What the search indexes hold for a version, and writing it: the same for every store.

A version replaces its artifact's index entries: its declared intents, its keyword
documents (after a reset marker in the keyword log) and, with an embedder, its vectors
(after a reset marker in the vector log). Every process replays those logs into its own
in-memory indexes (``search/keyword.py``, ``search/vectors.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from capgraph.ports import (
    Embedder,
    IntentEntry,
    KeywordEntry,
    Store,
    VectorEntry,
    WriteTransaction,
)
from capgraph.search.documents import SearchDoc, documents_for

__all__ = ["Indexer", "write_index"]

log = logging.getLogger(__name__)

_EMBED_BATCH = 32

Vectors = dict[str, bytes]
"""Dense unit vectors (float16 bytes) by the text they embed."""


def write_index(tx: WriteTransaction, slug: str, artifact_type: str, docs: Sequence[SearchDoc],
                vectors: Sequence[tuple[str, bytes]] | None) -> None:
    """Replace an artifact's index entries inside ``tx``. ``vectors`` None leaves the vector
    log alone (no embedder is configured)."""
    tx.replace_intents(slug, [IntentEntry(intent, slug, d.cap_id, artifact_type)
                              for d in docs for intent in d.declared_intents if intent])
    tx.add_keyword_entries([
        KeywordEntry(slug, "", artifact_type),
        *(KeywordEntry(slug, d.cap_id, artifact_type, d.name, d.intents, d.body, d.artifact)
          for d in docs),
    ])
    if vectors is not None:
        tx.add_vector_entries([
            VectorEntry(slug, "", artifact_type, None),
            *(VectorEntry(slug, cap_id, artifact_type, vec) for cap_id, vec in vectors),
        ])


def summary_of(source_kind: str, source: str) -> str | None:
    """The artifact's own description, which a manifest carries and a passport body does
    not."""
    if source_kind != "manifest":
        return None
    description = json.loads(source).get("artifact", {}).get("description")
    return description if isinstance(description, str) else None


class Indexer:
    """Search documents and their embeddings (computed outside any write transaction)."""

    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder

    def embed(self, docs: Sequence[SearchDoc]) -> Vectors:
        """The embedding of each view of each document (``SearchDoc.views``) as float16
        bytes, keyed by its text; empty without an embedder."""
        if self.embedder is None or not docs:
            return {}
        texts = list(dict.fromkeys(text for d in docs for _, text in d.views()))
        vectors: Vectors = {}
        for start in range(0, len(texts), _EMBED_BATCH):
            batch = texts[start:start + _EMBED_BATCH]
            for text, row in zip(batch, self.embedder.embed(batch), strict=True):
                vectors[text] = row.astype("float16").tobytes()
        return vectors

    def vectors_for(self, docs: Sequence[SearchDoc], known: Vectors | None = None
                    ) -> list[tuple[str, bytes]] | None:
        """(vector key, vector) per view of each document, embedding what ``known`` lacks;
        None without an embedder."""
        if self.embedder is None:
            return None
        have = dict(known or {})
        have.update(self.embed([d for d in docs
                                if any(text not in have for _, text in d.views())]))
        return [(key, have[text]) for d in docs for key, text in d.views()]

    def embed_intent(self, intent: str) -> bytes | None:
        """A report's intent as float16 bytes, for the learned ranking."""
        if self.embedder is None or not intent:
            return None
        vector: bytes = self.embedder.embed([intent])[0].astype("float16").tobytes()
        return vector

    def rebuild(self, store: Store, *, progress: Callable[[int, int], None] | None = None,
                page: int = 500) -> int:
        """Re-derive every artifact's index entries from its latest version (after a model
        or text change). Returns the number of artifacts reindexed."""
        total = store.count()
        done = offset = 0
        while rows := store.artifacts(limit=page, offset=offset):
            offset += len(rows)
            for row in rows:
                stored = store.latest(row.slug)
                if stored is None:
                    continue
                body = stored.body()
                docs = documents_for(body, summary=summary_of(stored.source_kind,
                                                              stored.source))
                vectors = self.vectors_for(docs)
                with store.write() as tx:
                    write_index(tx, row.slug, row.artifact_type, docs, vectors)
                done += 1
                if progress is not None:
                    progress(done, total)
        return done
