"""Reading a claim out of what was fetched: the ``unfragile-claim`` value of a JSON object, a
YAML mapping or a TXT record, compared with the token, and described without leaking secrets.

A claim found where a token was expected but not matching it may be another claim's secret, so
no more than its first 8 characters are ever repeated in a detail.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import yaml

__all__ = ["CLAIM_KEY", "claim_in_json", "claim_in_yaml", "match_claim", "preview"]

CLAIM_KEY = "unfragile-claim"
_PREVIEW = 8
_LISTED = 3  # non-matching values named in a detail at most


def preview(value: str) -> str:
    """At most the first 8 characters of ``value``, quoted, with an ellipsis when cut and any
    unprintable character replaced."""
    shown = "".join(c if c.isprintable() else "?" for c in value[:_PREVIEW])
    return f"'{shown}…'" if len(value) > _PREVIEW else f"'{shown}'"


def _same(found: str, token: str) -> bool:
    return hmac.compare_digest(found.encode("utf-8", "replace"), token.encode("utf-8", "replace"))


def match_claim(value: Any, token: str, *, where: str) -> tuple[bool, str]:
    """Whether a claim value (a string or a list of strings) holds ``token``, and a detail for
    people: ``where`` names the thing that holds the value ("the file")."""
    if isinstance(value, str):
        if _same(value, token):
            return True, f"{where} holds {CLAIM_KEY} with this token"
        return False, f"{where} holds {CLAIM_KEY} {preview(value)}, not this token"
    if isinstance(value, list):
        texts = [item for item in value if isinstance(item, str)]
        if any(_same(item, token) for item in texts):
            return True, f"{where} lists this token in {CLAIM_KEY}"
        if not texts:
            return False, f"{where} holds an {CLAIM_KEY} list with no string in it"
        shown = ", ".join(preview(item) for item in texts[:_LISTED])
        more = f" and {len(texts) - _LISTED} more" if len(texts) > _LISTED else ""
        return False, f"{where} lists {CLAIM_KEY} {shown}{more}, none of them this token"
    if value is None:
        return False, f"{where} has no {CLAIM_KEY}"
    return False, f"{where} holds {CLAIM_KEY} as {type(value).__name__}, not a string or a list"


def claim_in_json(body: bytes, token: str, *, where: str) -> tuple[bool, str]:
    """Look for the token in a JSON object's ``unfragile-claim``."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, f"{where} is not JSON"
    if not isinstance(document, dict):
        return False, f"{where} is JSON but not an object"
    return match_claim(document.get(CLAIM_KEY), token, where=where)


def claim_in_yaml(body: bytes, token: str, *, where: str) -> tuple[bool, str]:
    """Look for the token in a YAML mapping's top-level ``unfragile-claim`` (``safe_load``)."""
    try:
        document = yaml.safe_load(body.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, ValueError, RecursionError):
        return False, f"{where} is not YAML"
    if not isinstance(document, dict):
        return False, f"{where} is YAML but not a mapping"
    return match_claim(document.get(CLAIM_KEY), token, where=where)
