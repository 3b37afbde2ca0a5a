"""Keys and verification: the published JWK Set, checking passports against it, and the
operator's signing-key rotation and revocation."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from capgraph.core.signing import SigningKey, verify_passport
from capgraph.errors import BadRequest, SignatureInvalid
from capgraph.ports import KeyRing
from capgraph.registry.reading import Reading
from capgraph.registry.translog import TransparencyLog

__all__ = ["Trust", "VerifyReport"]


@dataclass(frozen=True)
class VerifyReport:
    valid: bool
    key_id: str | None
    reasons: list[str] = field(default_factory=list)
    slug: str | None = None
    version: int | None = None
    signed_at: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Trust:
    def __init__(self, *, keys: KeyRing, log: TransparencyLog, reading: Reading,
                 now: Callable[[], datetime]) -> None:
        self._keys = keys
        self._log = log
        self._reading = reading
        self._now = now

    def jwks(self) -> dict[str, Any]:
        """The JWK Set of every signing key, with status and validity window, and the log's
        checkpoint key."""
        self._keys.signing_key(self._now())
        keys = [k.to_jwk() for k in self._keys.public_keys().values()]
        log_jwk = self._log.signing_key.public.to_jwk()
        log_jwk.update({"purpose": "checkpoint", "verifierKey": self._log.verifier().encode()})
        return {"keys": [*keys, log_jwk]}

    def verify_document(self, document: Any) -> VerifyReport:
        """Verify a posted envelope or passport object against this registry's keys."""
        if not isinstance(document, Mapping):
            raise BadRequest("expected a JSON object: a passport envelope or passport object")
        inner = document.get("passport", document)
        if not isinstance(inner, Mapping):
            raise BadRequest("'passport' must be an object")
        return self._verify(inner)

    def verify_slug(self, slug: str) -> VerifyReport:
        """Verify what the registry serves now for ``slug``."""
        return self._verify(json.loads(self._reading.passport(slug).passport))

    def _verify(self, passport: Mapping[str, Any]) -> VerifyReport:
        body = passport.get("unfragile")
        slug = None
        if isinstance(body, Mapping) and isinstance(body.get("artifact"), Mapping):
            slug = body["artifact"].get("slug")
        version = passport.get("version")
        report = VerifyReport(valid=False, key_id=_text(passport.get("keyId")),
                              slug=_text(slug),
                              version=version if isinstance(version, int) else None,
                              signed_at=_text(passport.get("signedAt")))
        try:
            key = verify_passport(passport, self._keys.public_keys())
        except SignatureInvalid as exc:
            return replace(report, reasons=exc.reasons)
        return replace(report, valid=True, key_id=key.kid)

    def rotate_signing_key(self) -> SigningKey:
        """Retire the signing key and start a new one (old passports keep verifying)."""
        return self._keys.rotate(self._now())

    def revoke_signing_key(self, kid: str) -> None:
        """Revoke a signing key: every passport it signed then fails verification."""
        self._keys.revoke(kid, self._now())
