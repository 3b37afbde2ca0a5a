"""What an importer makes of one entry of a document, and the helpers every format shares.

An importer is pure: it reads parsed data (no I/O) and returns, per entry, either a
``Mapped`` manifest (``unfragile.yml`` data, validated later by ``core/validation.py``) with
the numbers it read from the source, a ``PassportEntry`` (our own format, imported as it is),
or a ``Refusal`` with the reasons, so one bad entry never stops the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from capgraph.core.manifest_shape import MAX_ITEM, MAX_LIST, MIN_DESCRIPTION
from capgraph.errors import CapgraphError

__all__ = [
    "IMPORT_KEY",
    "Mapped",
    "PassportEntry",
    "Refusal",
    "Unreadable",
    "cap_id",
    "describe",
    "kind_of",
    "short",
    "slugify",
    "strings",
    "text",
]

# The manifest key an importer keeps its source format (and, for server.json, the original
# document) under. Validation warns about unknown top-level keys; the importing use case drops
# that one warning.
IMPORT_KEY = "x-import"
_NON_SLUG = re.compile(r"[^a-z0-9._-]+")
_NON_CAP_ID = re.compile(r"[^A-Za-z0-9._-]+")


class Unreadable(ValueError):
    """An entry an importer cannot map; the message says why, for people."""


@dataclass(frozen=True)
class Mapped:
    """One entry mapped to a manifest.

    ``name``: what the source calls it; ``manifest``: ``unfragile.yml`` data;
    ``sourced``: community counts read from the source (``model_downloads``, ...);
    ``sourced_fields``: passport fields whose values the source gave (pricing, ...)."""

    name: str
    manifest: dict[str, Any]
    sourced: dict[str, int] = field(default_factory=dict)
    sourced_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class PassportEntry:
    """A passport in capgraph's own format, imported as ``Publishing.import_passport`` does."""

    name: str | None
    document: dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """An entry that cannot be imported: its name when one was read, and why not; ``error``:
    the error a one-entry document answers with (a ``ParseError``), when there is one."""

    name: str | None
    reasons: tuple[str, ...]
    error: CapgraphError | None = field(default=None, compare=False)


def kind_of(value: Any) -> str:
    """``an object``, ``a list``, ...: for messages about wrong shapes."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), "a value")


def text(data: dict[str, Any], key: str, *, where: str, required: bool = False,
         limit: int = 5000) -> str | None:
    """``data[key]`` as stripped text, None when absent. Raises ``Unreadable`` when it is
    required and absent or empty, or when it is not a string."""
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Unreadable(f"{where}{key} is required")
        return None
    if not isinstance(value, str):
        raise Unreadable(f"{where}{key} must be a string, not {kind_of(value)}")
    return short(value.strip(), limit)


def strings(value: Any, *, where: str, limit: int = MAX_LIST) -> list[str]:
    """A list of non-empty strings (other items dropped), at most ``limit``. Raises
    ``Unreadable`` when ``value`` is there but not a list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreadable(f"{where} must be a list, not {kind_of(value)}")
    out: list[str] = []
    for item in value:
        if isinstance(item, str) and item.strip() and item.strip() not in out:
            out.append(short(item.strip(), MAX_ITEM))
    return out[:limit]


def short(value: str, limit: int) -> str:
    """``value`` cut to at most ``limit`` characters, at a word when one is near."""
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:.") + "…"


def slugify(value: str) -> str:
    """A slug (``SLUG_PATTERN``) from any name: lower case, ``/`` and spaces as ``-``."""
    slug = _NON_SLUG.sub("-", value.lower().replace("/", "-")).strip("._-")
    slug = slug[:100].rstrip("._-")
    if not slug:
        raise Unreadable(f"{value!r} gives no usable slug (letters or digits are needed)")
    return slug


def cap_id(value: str) -> str:
    """A capability id (letters, digits, ``.``, ``_``, ``-``; at most 64) from any text."""
    out = _NON_CAP_ID.sub("-", value).strip("._-")[:64].rstrip("._-")
    return out or "capability"


def describe(*parts: str | None, source: str) -> str:
    """A capability description from the source's own sentences, at least
    ``MIN_DESCRIPTION`` characters: when the source says less, a sentence saying where the
    text came from (and that nothing more is known) is added, never invented detail."""
    body = " ".join(p.strip().rstrip(".") + "." for p in parts if p and p.strip())
    if len(body) < MIN_DESCRIPTION:
        body = (f"{body} Imported from {source}; the source describes it in no more detail, so "
                "its limits and side effects are not known to this registry.").strip()
    return short(body, 5000)
