"""Signing keys on disk: one PEM file per key (owner-only), and a key ring listing them.

Layout under ``<data dir>/keys/`` (directory mode 0700, files 0600)::

    keyring.json      [{kid, created_at, not_after, status}], oldest first
    <kid>.pem         PKCS#8 private key

The newest ``active`` key signs. Retired keys keep verifying what they signed inside their
validity window; revoked keys make everything they signed fail. Key material is never logged.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from capgraph.core.compose import iso_ms
from capgraph.core.signing import PublicKey, SigningKey
from capgraph.errors import NotFound

__all__ = ["FileKeyStore"]

log = logging.getLogger(__name__)

# Secrets every host of one registry must hold alike (rate-limit buckets in a shared Redis,
# resolve callback tokens redeemed on any host): made with the log key, so a key ring copied
# to other hosts after the first passport (docs/SCALING.md) carries them.
SHARED_SECRETS = ("ratelimit", "callback")


class FileKeyStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ring_path = directory / "keyring.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _ring(self) -> list[dict[str, Any]]:
        if not self._ring_path.exists():
            return []
        ring: list[dict[str, Any]] = json.loads(self._ring_path.read_text())
        return ring

    def _write_private(self, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def _save_ring(self, ring: list[dict[str, Any]]) -> None:
        self._write_private(self._ring_path, json.dumps(ring, indent=2).encode())

    def _new_key(self, ring: list[dict[str, Any]], now: datetime) -> SigningKey:
        key = SigningKey.generate(created_at=iso_ms(now))
        self._write_private(self.directory / f"{key.kid}.pem", key.to_pem())
        ring.append({"kid": key.kid, "created_at": key.created_at, "not_after": None,
                     "status": "active"})
        log.info("generated signing key %s", key.kid)
        return key

    def signing_key(self, now: datetime) -> SigningKey:
        """The current signing key, generated (and stored) on first use."""
        with self._locked():
            ring = self._ring()
            active = [entry for entry in ring if entry["status"] == "active"]
            if not active:
                key = self._new_key(ring, now)
                self._save_ring(ring)
                return key
            entry = active[-1]
            pem = (self.directory / f"{entry['kid']}.pem").read_bytes()
            return SigningKey.from_pem(pem, created_at=entry["created_at"])

    def public_keys(self) -> dict[str, PublicKey]:
        """Every key ever used, by kid, with its status and validity window."""
        out: dict[str, PublicKey] = {}
        for entry in self._ring():
            pem = (self.directory / f"{entry['kid']}.pem").read_bytes()
            key = SigningKey.from_pem(pem, created_at=entry["created_at"])
            out[key.kid] = PublicKey(
                raw=key.public.raw, created_at=entry["created_at"],
                not_after=entry.get("not_after"), status=entry["status"],
            )
        return out

    def log_key(self, now: datetime, origin: str) -> tuple[SigningKey, str]:
        """The transparency log's checkpoint key (separate from passport keys) and the log's
        origin line, both fixed when the log is first used: a log keeps one name for life."""
        path = self.directory / "log.pem"
        meta = self.directory / "log.json"
        with self._locked():
            if path.exists():
                info = json.loads(meta.read_text())
                key = SigningKey.from_pem(path.read_bytes(), created_at=info["created_at"])
                return key, str(info["origin"])
            key = SigningKey.generate(created_at=iso_ms(now))
            self._write_private(path, key.to_pem())
            info = {"created_at": key.created_at, "origin": origin}
            self._write_private(meta, json.dumps(info).encode())
            for name in SHARED_SECRETS:
                self._made_secret(name)
            log.info("generated log key %s for origin %s", key.kid, origin)
            return key, origin

    def _made_secret(self, name: str) -> Path:
        """The file of a named secret, made (32 random bytes) if missing; under the lock."""
        path = self.directory / f"{name}.secret"
        if not path.exists():
            self._write_private(path, os.urandom(32))
        return path

    def secret(self, name: str) -> bytes:
        """A named 32-byte random secret (e.g. for callback-token HMACs), made on first use."""
        with self._locked():
            return self._made_secret(name).read_bytes()

    def prune_secrets(self, prefix: str, *, keep: int) -> None:
        """Delete all but the ``keep`` newest secrets whose name starts with ``prefix``
        (names sort by date)."""
        names = sorted(p.name for p in self.directory.glob(f"{prefix}*.secret"))
        for name in names[:-keep] if keep > 0 else names:
            (self.directory / name).unlink(missing_ok=True)

    def rotate(self, now: datetime) -> SigningKey:
        """Retire the active key (its window closes now) and start a new one."""
        with self._locked():
            ring = self._ring()
            stamp = iso_ms(now)
            for entry in ring:
                if entry["status"] == "active":
                    entry["status"] = "retired"
                    entry["not_after"] = stamp
            key = self._new_key(ring, now)
            self._save_ring(ring)
            return key

    def revoke(self, kid: str, now: datetime) -> None:
        """Mark a key revoked: everything it signed stops verifying."""
        with self._locked():
            ring = self._ring()
            for entry in ring:
                if entry["kid"] == kid:
                    entry["status"] = "revoked"
                    entry["not_after"] = entry.get("not_after") or iso_ms(now)
                    self._save_ring(ring)
                    return
            raise NotFound(f"no signing key {kid}")
