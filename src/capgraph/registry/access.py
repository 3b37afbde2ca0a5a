"""API keys: who may write. Only a hash of each secret is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime

from capgraph.core.compose import iso_ms
from capgraph.errors import NotFound, Unauthorized
from capgraph.ports import ApiKeyRecord, Store

__all__ = ["Access", "secret_hash"]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Access:
    def __init__(self, *, store: Store, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    def create(self, name: str) -> tuple[str, str]:
        """A new API key: returns (key id, secret)."""
        key_id = "key_" + secrets.token_hex(6)
        secret = "cg_" + secrets.token_urlsafe(32)
        record = ApiKeyRecord(key_id, name, iso_ms(self._now()), revoked=False)
        with self._store.write() as tx:
            tx.add_api_key(record, secret_hash(secret))
        return key_id, secret

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
