"""Callback tokens: an HMAC bound to a resolve id, an artifact slug and an expiry.

Format ``v1.<expires unix seconds>.<base64url HMAC-SHA256(secret, "v1|resolveId|slug|expires")>``.
Verification is constant-time. Single use is enforced by the feedback store, not here.
A token has exactly one spelling: anything but ``v1.``, a decimal expiry without sign or
leading zeros and 43 base64url characters is malformed (``+EXP`` or ``000EXP`` would otherwise
name the same token twice), and any text, ASCII or not, is refused without an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from capgraph.errors import TokenInvalid

__all__ = ["issue_token", "verify_token"]

_TOKEN = re.compile(r"v1\.([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{43})")


def _mac(secret: bytes, resolve_id: str, slug: str, expires: int) -> str:
    message = f"v1|{resolve_id}|{slug}|{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_token(secret: bytes, *, resolve_id: str, slug: str, expires: int) -> str:
    return f"v1.{expires}.{_mac(secret, resolve_id, slug, expires)}"


def verify_token(secret: bytes, token: str, *, resolve_id: str, slug: str, now: int) -> None:
    """Raise ``TokenInvalid`` unless the token was issued for exactly this resolve and slug
    and has not expired."""
    match = _TOKEN.fullmatch(token)  # ASCII classes only: no other digits or letters pass
    if match is None:
        if re.match(r"v[0-9]+\.", token) and not token.startswith("v1."):
            raise TokenInvalid("unknown callback token version")
        raise TokenInvalid("malformed callback token")
    expires = int(match.group(1))
    expected = _mac(secret, resolve_id, slug, expires).encode()
    if not hmac.compare_digest(match.group(2).encode(), expected):
        raise TokenInvalid("callback token does not match this resolveId and slug")
    if now > expires:
        raise TokenInvalid("callback token has expired")
