"""HTTP caching of what the static read path also serves (docs/STATIC.md): a strong ``ETag``
(a SHA-256 of the bytes), ``Cache-Control``, and 304 on a matching ``If-None-Match``.

What never changes (one version's envelope, a full tile) may be kept for a year; what
changes (the latest envelope, the checkpoint, the JWK Set, a partial tile) for a few seconds,
as the tlog-tiles spec asks of the checkpoint.
"""

from __future__ import annotations

import hashlib

__all__ = ["CHANGING", "IMMUTABLE", "etag_matches", "etag_of"]

IMMUTABLE = "public, max-age=31536000, immutable"
CHANGING = "public, max-age=5"


def etag_of(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:40] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` (weak comparison, RFC 9110 section 13.1.2): ``*`` or any listed tag."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags
