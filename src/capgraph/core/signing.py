"""Ed25519 signatures over canonical passport bytes, and the JWK Set that publishes the keys.

What is signed (PROTOCOL.md B.1): the RFC 8785 canonical bytes of the ``passport`` object with
its ``signature`` member removed, so ``unfragile``, ``signedAt``, ``signedBy``, ``version``,
``keyId`` and ``provenance`` are all covered. ``keyId`` is the RFC 7638 thumbprint of the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from capgraph.core.canonical import canonical_bytes
from capgraph.errors import SignatureInvalid, UnknownKey

__all__ = [
    "KeyStatus",
    "PublicKey",
    "SigningKey",
    "passport_keys",
    "signed_bytes",
    "thumbprint",
    "verify_passport",
]

KeyStatus = str  # "active" | "retired" | "revoked"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(raw_public_key: bytes) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw_public_key)}
    return _b64url(hashlib.sha256(canonical_bytes(members)).digest())


def signed_bytes(passport: Mapping[str, Any]) -> bytes:
    """The exact bytes a passport signature covers: canonical JSON without ``signature``."""
    return canonical_bytes({k: v for k, v in passport.items() if k != "signature"})


@dataclass(frozen=True)
class PublicKey:
    """A published verification key with its validity window and status."""

    raw: bytes
    created_at: str
    not_after: str | None = None
    status: KeyStatus = "active"

    @property
    def kid(self) -> str:
        return thumbprint(self.raw)

    def to_jwk(self) -> dict[str, Any]:
        """The key as a JWK with capgraph's validity-window members."""
        jwk: dict[str, Any] = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.raw),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
            "status": self.status,
            "nbf": self.created_at,
        }
        if self.not_after is not None:
            jwk["exp"] = self.not_after
        return jwk

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> PublicKey:
        """Read one JWK; raises ``UnknownKey`` if it is not an Ed25519 OKP key."""
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "x" not in jwk:
            raise UnknownKey(f"not an Ed25519 JWK: kid={jwk.get('kid')!r}")
        try:
            raw = _b64url_decode(str(jwk["x"]))
        except (binascii.Error, ValueError) as exc:
            raise UnknownKey(f"JWK has a malformed x member: {exc}") from exc
        if len(raw) != 32:
            raise UnknownKey("JWK x member is not a 32-byte Ed25519 key")
        if not isinstance(jwk.get("exp", ""), str | None):
            raise UnknownKey("JWK exp member must be an ISO-8601 timestamp string")
        key = cls(
            raw=raw,
            created_at=str(jwk.get("nbf", "")),
            not_after=jwk.get("exp"),
            status=str(jwk.get("status", "active")),
        )
        if "kid" in jwk and jwk["kid"] != key.kid:
            raise UnknownKey(f"JWK kid {jwk['kid']!r} does not match its key thumbprint")
        return key


class SigningKey:
    """An Ed25519 private key. Its repr never shows key material."""

    def __init__(self, private: Ed25519PrivateKey, *, created_at: str) -> None:
        self._private = private
        self.created_at = created_at
        self.public = PublicKey(raw=self._raw_public(), created_at=created_at)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    @classmethod
    def generate(cls, *, created_at: str) -> SigningKey:
        return cls(Ed25519PrivateKey.generate(), created_at=created_at)

    @classmethod
    def from_pem(cls, pem: bytes, *, created_at: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise UnknownKey("stored signing key is not Ed25519")
        return cls(key, created_at=created_at)

    def to_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def _raw_public(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def kid(self) -> str:
        return self.public.kid

    def sign_bytes(self, data: bytes) -> str:
        """Sign raw bytes (used for checkpoint notes): base64 of the 64-byte signature."""
        return base64.b64encode(self._private.sign(data)).decode("ascii")

    def sign(self, passport: Mapping[str, Any]) -> str:
        """Sign a passport object (its ``signature`` member, if any, is ignored): base64."""
        return base64.b64encode(self._private.sign(signed_bytes(passport))).decode("ascii")


def passport_keys(jwks: Mapping[str, Any]) -> dict[str, PublicKey]:
    """The passport-signing keys of a JWK Set, by kid (checkpoint keys are left out: they
    sign log checkpoints, never passports)."""
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list) or not all(isinstance(j, Mapping) for j in entries):
        # A key file is user input (`capgraph verify --keys`): refuse it, never crash on it.
        raise UnknownKey("a JWK Set is an object whose 'keys' member is a list of JWK objects")
    keys = [PublicKey.from_jwk(j) for j in entries if j.get("purpose") != "checkpoint"]
    return {k.kid: k for k in keys}


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    # A timestamp without an offset is read as UTC: comparing it with an aware one would raise.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def verify_passport(passport: Mapping[str, Any], keys: Mapping[str, PublicKey]) -> PublicKey:
    """Verify a passport object against a key set indexed by kid; return the key that signed.

    Raises ``SignatureInvalid`` with every reason found (unknown or revoked key, signing time
    outside the key's validity window, malformed or wrong signature). Never returns a bool.
    """
    reasons: list[str] = []
    kid = passport.get("keyId")
    signature = passport.get("signature")
    signer = str(passport.get("signedBy") or "") or "an unnamed signer"
    if not isinstance(kid, str) or not kid:
        # The seeds are like this: signed by another registry, which names no key id.
        reason = (f"signed by {signer}, whose key is not known here (the passport names no "
                  "key id)")
        raise SignatureInvalid(reason, reasons=[reason])
    key = keys.get(kid)
    if key is None:
        reason = f"signed by {signer}, whose key {kid} is not known here"
        raise SignatureInvalid(reason, reasons=[reason])
    if key.status == "revoked":
        reasons.append(f"signed with a revoked key: {signer} has revoked key {kid}")
    signed_at = _parse_time(str(passport.get("signedAt", "")))
    if signed_at is None:
        reasons.append("signedAt is not an ISO-8601 timestamp")
    else:
        start = _parse_time(key.created_at)
        end = _parse_time(key.not_after) if key.not_after else None
        if start is not None and signed_at < start:
            reasons.append("signedAt is before the key's validity window")
        if end is not None and signed_at > end:
            reasons.append("signedAt is after the key's validity window")
    if not isinstance(signature, str):
        reasons.append("signature is missing")
    else:
        try:
            raw_sig = base64.b64decode(signature, validate=True)
            Ed25519PublicKey.from_public_bytes(key.raw).verify(raw_sig, signed_bytes(passport))
        except (binascii.Error, ValueError):
            reasons.append("signature is not valid base64 or not canonicalisable")
        except InvalidSignature:
            reasons.append("signature does not match the signed bytes")
    if reasons:
        raise SignatureInvalid("; ".join(reasons), reasons=reasons)
    return key
