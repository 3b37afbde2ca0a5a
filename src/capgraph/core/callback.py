"""Callback tokens: an HMAC bound to a resolve id, an artifact slug and an expiry.

Format ``v1.<expires unix seconds>.<base64url HMAC-SHA256(secret, "v1|resolveId|slug|expires")>``.
Verification is constant-time. Single use is enforced by the feedback store, not here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from capgraph.errors import TokenInvalid

__all__ = ["issue_token", "verify_token"]


def _mac(secret: bytes, resolve_id: str, slug: str, expires: int) -> str:
    message = f"v1|{resolve_id}|{slug}|{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_token(secret: bytes, *, resolve_id: str, slug: str, expires: int) -> str:
    return f"v1.{expires}.{_mac(secret, resolve_id, slug, expires)}"


def verify_token(secret: bytes, token: str, *, resolve_id: str, slug: str, now: int) -> None:
    """Raise ``TokenInvalid`` unless the token was issued for exactly this resolve and slug
    and has not expired."""
    try:
        version, expires_text, mac = token.split(".", 2)
        expires = int(expires_text)
    except ValueError as exc:
        raise TokenInvalid("malformed callback token") from exc
    if version != "v1":
        raise TokenInvalid("unknown callback token version")
    if not hmac.compare_digest(mac, _mac(secret, resolve_id, slug, expires)):
        raise TokenInvalid("callback token does not match this resolveId and slug")
    if now > expires:
        raise TokenInvalid("callback token has expired")
