"""Appending a version: the rule every store shares. In one write transaction: read the
latest version, let the caller build the next one from it, append its passport to the
transparency log, store it with its card and integrations, and replace its index entries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from capgraph.ports import Store, StoredVersion, WriteTransaction
from capgraph.registry.indexing import write_index
from capgraph.registry.translog import append_leaf
from capgraph.search.cards import card_json
from capgraph.search.documents import SearchDoc

__all__ = ["NewVersion", "VersionBuilder", "append_version", "fill_missing_cards"]

log = logging.getLogger(__name__)

CARD_PAGE = 2_000


@dataclass(frozen=True)
class NewVersion:
    """A version about to be appended. ``passport`` is the signed passport object's JSON bytes."""

    name: str
    artifact_type: str
    score: int
    content_hash: str
    source_kind: str  # "manifest" | "import"
    source: str  # the manifest or imported passport body, as canonical JSON text
    passport: bytes
    key_id: str
    created_at: str
    log_leaf: bytes
    """The transparency log entry: RFC 8785 bytes of the whole signed passport object."""
    capability_numbers: dict[str, int] = field(default_factory=dict)
    integrations: list[str] = field(default_factory=list)
    search_docs: list[SearchDoc] | None = field(default_factory=list)
    """What the search indexes hold for this artifact from now on (replaces the old); None
    leaves its entries as they are (a re-issue whose indexed text did not change)."""
    vectors: list[tuple[str, bytes]] | None = None
    """(capability id, float16 embedding bytes) replacing the artifact's old vectors; None
    leaves them alone (no embedder, or ``search_docs`` None)."""
    card: str = ""
    """The compact card of this version (``search/cards.py``)."""


VersionBuilder = Callable[[WriteTransaction, StoredVersion | None, int], NewVersion | None]
"""Given the open transaction (to read what must be read inside it), the latest stored version
(or None) and the number the new one would get, return the version to append, or None when
there is nothing new to store (only when one exists)."""


def append_version(store: Store, slug: str, build: VersionBuilder) -> tuple[StoredVersion, bool]:
    """Append what ``build`` returns as the next version of ``slug``; return the stored
    version and whether it is new. Nothing is written when ``build`` declines or raises."""
    with store.write() as tx:
        latest = tx.latest(slug)
        number = latest.version + 1 if latest else 1
        new = build(tx, latest, number)
        if new is None:
            if latest is None:
                raise ValueError("a builder may only decline when a version exists")
            return latest, False
        stored = StoredVersion(
            slug=slug, version=number, name=new.name, artifact_type=new.artifact_type,
            score=new.score, content_hash=new.content_hash, source_kind=new.source_kind,
            source=new.source, passport=new.passport, key_id=new.key_id,
            created_at=new.created_at, capability_numbers=dict(new.capability_numbers),
            log_index=append_leaf(tx, new.log_leaf),
        )
        tx.put_version(stored, card=new.card, integrations=new.integrations)
        if new.search_docs is not None:
            write_index(tx, slug, new.artifact_type, new.search_docs, new.vectors)
    return stored, True


def fill_missing_cards(store: Store) -> int:
    """Give every artifact whose latest version has no card one, from its passport (stores
    written before cards were kept), a page at a time. A passport that cannot be read keeps
    no card: readers then use the passport itself. Returns how many cards it offered (a
    version published meanwhile keeps its own card)."""
    filled = 0
    after = ""
    while slugs := store.slugs_without_card(after=after, limit=CARD_PAGE):
        cards: list[tuple[str, int, str]] = []
        for slug in slugs:
            stored = store.latest(slug)
            if stored is None:
                continue
            try:
                signed = json.loads(stored.passport)
                cards.append((slug, stored.version,
                              card_json(signed["unfragile"], signed.get("provenance"))))
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                log.warning("no compact card for %s: %r", slug, exc)
        with store.write() as tx:
            for slug, version, card in cards:
                tx.fill_card(slug, version, card)
        filled += len(cards)
        after = slugs[-1]
    return filled
