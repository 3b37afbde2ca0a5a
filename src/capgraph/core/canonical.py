"""RFC 8785 (JSON Canonicalization Scheme) bytes: the only bytes capgraph ever signs or hashes."""

from __future__ import annotations

from typing import Any

import rfc8785

__all__ = ["canonical_bytes"]


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of a JSON-compatible value.

    Raises ``ValueError`` for values JSON cannot carry exactly (NaN, infinities, integers
    beyond the IEEE-754 safe range), so an unsignable document never gets a signature.
    """
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise ValueError(f"value cannot be canonicalised: {exc}") from exc
