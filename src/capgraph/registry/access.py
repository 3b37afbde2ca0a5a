"""API keys: who may write. Only a hash of each secret is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime

from capgraph.core.compose import iso_ms
from capgraph.errors import NotFound, Unauthorized
from capgraph.ports import ApiKeyRecord, PublisherRecord, Store

__all__ = ["Access", "secret_hash"]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Access:
    def __init__(self, *, store: Store, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    def create(self, name: str, *, publisher: str | None = None) -> tuple[str, str]:
        """A new API key: returns (key id, secret). It acts for ``publisher`` (an id, or the
        name of exactly one publisher), or for a new publisher named ``name``."""
        return self._create(name, publisher=publisher)[1:]

    def create_for_domain(self, domain: str) -> tuple[str, str, str]:
        """A new publisher that proved ``domain``, and its first key: (publisher id, key id,
        secret)."""
        return self._create(domain, domain=domain)

    def _create(self, name: str, *, publisher: str | None = None, domain: str | None = None
                ) -> tuple[str, str, str]:
        key_id = "key_" + secrets.token_hex(6)
        secret = "cg_" + secrets.token_urlsafe(32)
        now = iso_ms(self._now())
        with self._store.write() as tx:
            if publisher is None:
                publisher_id = "pub_" + secrets.token_hex(6)
                tx.add_publisher(PublisherRecord(publisher_id, name, now, domain))
            else:
                publisher_id = self._publisher_id(publisher)
            tx.add_api_key(ApiKeyRecord(key_id, name, now, revoked=False,
                                        publisher_id=publisher_id), secret_hash(secret))
        return publisher_id, key_id, secret

    def _publisher_id(self, wanted: str) -> str:
        if self._store.publisher(wanted) is not None:
            return wanted
        named = [p for p in self._store.publishers() if p.name == wanted]
        if len(named) != 1:
            raise NotFound(f"no publisher {wanted!r}" if not named else
                           f"{len(named)} publishers are named {wanted!r}: give its id")
        return named[0].publisher_id

    def publishers(self) -> list[PublisherRecord]:
        return self._store.publishers()

    def keys(self) -> list[ApiKeyRecord]:
        return self._store.api_keys()

    def revoke(self, key_id: str) -> None:
        """Revoke an API key; ``NotFound`` when there is no such key."""
        with self._store.write() as tx:
            found = tx.revoke_api_key(key_id)
        if not found:
            raise NotFound(f"no API key {key_id}")

    def authenticate(self, secret: str | None) -> ApiKeyRecord:
        """The API key a secret belongs to; ``Unauthorized`` when missing, unknown or revoked."""
        if not secret:
            raise Unauthorized("this endpoint needs an API key (Authorization: Bearer <key>)")
        record = self._store.api_key_by_hash(secret_hash(secret))
        if record is None or record.revoked:
            raise Unauthorized("the API key is unknown or revoked")
        return record
