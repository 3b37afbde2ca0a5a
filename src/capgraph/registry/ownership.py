"""Ownership: who may write an artifact, and every change of it on the transparency log.

The first publish of a new slug makes its publisher the owner. An artifact with an owner may
be written by its owner and maintainers only; an artifact without one (imported, demo) by the
operator, by a publisher that proved the artifact's domain, or after a claim
(``registry/claims.py``). Every change of owner, maintainers or verification is appended to
the transparency log as an *ownership entry* (docs/OWNERSHIP.md), in the same transaction as
the change, so the same checkpoints and proofs cover it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from capgraph.core.canonical import canonical_bytes
from capgraph.core.compose import iso_ms
from capgraph.errors import BadRequest, NotFound, NotOwner
from capgraph.ports import OwnershipRecord, Store, WriteTransaction
from capgraph.proofs.hosts import host_of
from capgraph.registry.translog import append_leaf

__all__ = ["OPERATOR", "Ownership", "admit_writer", "entry_bytes", "record_change"]

OPERATOR = "operator"
"""Who acts when no publisher does: the registry's operator, through the CLI."""

EVENTS = ("owner-set", "maintainer-added", "maintainer-removed", "transferred", "reassigned",
          "verified", "unverified")


def entry_bytes(event: str, record: OwnershipRecord, *, by: str) -> bytes:
    """The log entry of an ownership change: RFC 8785 bytes of a JSON object whose ``kind``
    is ``"ownership"`` (a passport entry has no ``kind``)."""
    data: dict[str, Any] = {
        "kind": "ownership",
        "event": event,
        "slug": record.slug,
        "owner": record.owner,
        "maintainers": list(record.maintainers),
        "verification": record.verification,
        "by": by,
        "at": record.updated_at,
    }
    return canonical_bytes(data)


def record_change(tx: WriteTransaction, event: str, record: OwnershipRecord, *, by: str
                  ) -> None:
    """Store the new ownership and log it, inside ``tx``."""
    if event not in EVENTS:
        raise ValueError(f"unknown ownership event {event!r}")
    tx.put_ownership(record)
    append_leaf(tx, entry_bytes(event, record, by=by))


def within(host: str, domain: str) -> bool:
    return bool(host) and (host == domain or host.endswith("." + domain))


def admit_writer(tx: WriteTransaction, slug: str, publisher_id: str | None, *,
                 exists: bool, url: str | None, at: str) -> OwnershipRecord | None:
    """May ``publisher_id`` (None: the operator) write ``slug``? Raises ``NotOwner``; records
    the owner of a new slug (or of an unowned one its publisher proved the domain of).
    Returns the artifact's ownership after the write."""
    owned = tx.ownership(slug)
    if publisher_id is None:
        return owned
    if owned is not None:
        if publisher_id == owned.owner or publisher_id in owned.maintainers:
            return owned
        raise NotOwner(f"{slug!r} belongs to another publisher; ask its owner to add you as a "
                       "maintainer", slug=slug)
    publisher = tx.publisher(publisher_id)
    domain = publisher.domain if publisher else None
    if exists and not (domain and within(host_of(url or ""), domain)):
        raise NotOwner(f"{slug!r} is in the registry without an owner: claim it first "
                       f"(POST /api/v1/claims with slug {slug!r})", slug=slug)
    record = OwnershipRecord(slug=slug, owner=publisher_id, updated_at=at)
    record_change(tx, "owner-set", record, by=publisher_id)
    return record


class Ownership:
    """Owners and maintainers: reading them, and the changes owners and the operator make."""

    def __init__(self, *, store: Store, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    def of(self, slug: str) -> OwnershipRecord | None:
        """Who owns ``slug`` (None: nobody yet); ``NotFound`` for an unknown artifact."""
        if self._store.latest(slug) is None:
            raise NotFound(f"artifact {slug!r} is not in the registry", slug=slug)
        return self._store.ownership(slug)

    def _change(self, slug: str, actor: str | None,
                change: Callable[[OwnershipRecord | None], tuple[str, OwnershipRecord]]
                ) -> OwnershipRecord:
        if self._store.latest(slug) is None:
            raise NotFound(f"artifact {slug!r} is not in the registry", slug=slug)
        with self._store.write() as tx:
            owned = tx.ownership(slug)
            if actor is not None and (owned is None or owned.owner != actor):
                raise NotOwner(f"only the owner of {slug!r} may change who maintains it",
                               slug=slug)
            event, record = change(owned)
            record_change(tx, event, replace(record, updated_at=iso_ms(self._now())),
                          by=actor or OPERATOR)
        return record

    def _publisher(self, publisher_id: str) -> None:
        if self._store.publisher(publisher_id) is None:
            raise BadRequest(f"no publisher {publisher_id!r}")

    def add_maintainer(self, slug: str, publisher_id: str, *, actor: str | None
                       ) -> OwnershipRecord:
        """Let another publisher publish ``slug`` too (``actor`` None: the operator)."""
        self._publisher(publisher_id)

        def change(owned: OwnershipRecord | None) -> tuple[str, OwnershipRecord]:
            if owned is None:
                raise BadRequest(f"{slug!r} has no owner to add maintainers for")
            if publisher_id == owned.owner or publisher_id in owned.maintainers:
                raise BadRequest(f"{publisher_id!r} may already publish {slug!r}")
            return "maintainer-added", replace(
                owned, maintainers=(*owned.maintainers, publisher_id))

        return self._change(slug, actor, change)

    def remove_maintainer(self, slug: str, publisher_id: str, *, actor: str | None
                          ) -> OwnershipRecord:
        def change(owned: OwnershipRecord | None) -> tuple[str, OwnershipRecord]:
            if owned is None or publisher_id not in owned.maintainers:
                raise NotFound(f"{publisher_id!r} is not a maintainer of {slug!r}")
            return "maintainer-removed", replace(
                owned, maintainers=tuple(m for m in owned.maintainers if m != publisher_id))

        return self._change(slug, actor, change)

    def transfer(self, slug: str, publisher_id: str, *, actor: str | None) -> OwnershipRecord:
        """Make another publisher the owner (the operator's is recorded as a reassignment).
        A verification belongs to who proved it: it does not move with the artifact."""
        self._publisher(publisher_id)

        def change(owned: OwnershipRecord | None) -> tuple[str, OwnershipRecord]:
            event = "reassigned" if actor is None else "transferred"
            if owned is not None and owned.owner == publisher_id:
                raise BadRequest(f"{publisher_id!r} already owns {slug!r}")
            return event, OwnershipRecord(slug=slug, owner=publisher_id,
                                          maintainers=owned.maintainers if owned else ())

        return self._change(slug, actor, change)
