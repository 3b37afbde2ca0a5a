"""The manifest's shape, written once: every block, its keys, their kinds and limits.

``validation.py`` reads the known keys of every block from here (an unknown key anywhere is a
warning, with a "did you mean" when a known key is close), and ``manifest_schema`` turns the
same shape into the JSON Schema served at ``/manifest.schema.json``, so the two cannot drift.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from capgraph.core.taxonomy import (
    ARTIFACT_TYPES,
    AUTH_METHODS,
    CAPABILITY_CATEGORIES,
    EXECUTION_PROTOCOLS,
    FAILURE_FREQUENCIES,
    HTTP_METHODS,
    PRICING_MODELS,
    RISK_LEVELS,
    STATUSES,
)

__all__ = ["BLOCKS", "CODES", "MANIFEST", "MAX_CAPABILITIES", "MAX_ITEM", "MAX_LIST", "Key",
           "close_key", "manifest_schema"]

MIN_DESCRIPTION = 100
MAX_TEXT = 5000
MAX_ITEM = 1000
MAX_LIST = 50
MAX_CAPABILITIES = 200
SLUG = r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$"
CAP_ID = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$"
# Execution facts a snippet quotes in a shell: no quote, backslash, $, backtick or ! in them.
HTTP_PATH = r"^/[A-Za-z0-9._~%&'()*+,;=:@/?{}-]*$"
HEADER_NAME = r"^[A-Za-z0-9#%&'*+.^_|~-]+$"
HEADER_LINE = r"^[A-Za-z0-9#%&'*+.^_|~-]+: ?[^\r\n]*$"

# Every code a validation finding can carry: (severity, when it is given). docs/MANIFEST.md
# lists the same codes (a test compares them with each other and with validation.py).
CODES: dict[str, tuple[str, str]] = {
    "not-an-object": ("error", "the manifest is empty or is not an object"),
    "required": ("error", "a required field is missing"),
    "type": ("error", "a value has the wrong type, is not finite, or is nested too deeply"),
    "empty": ("error", "a text or list that must hold something is empty"),
    "too-short": ("error", "a text is shorter than its minimum (capability descriptions: 100)"),
    "too-long": ("error", "a text, list or number of capabilities is over its limit"),
    "enum": ("error", "a value is not one of the allowed values"),
    "slug": ("error", "a slug or capability id is malformed or reserved"),
    "format": ("error", "an execution path, header name or header line is malformed"),
    "url": ("error", "a URL is not an http(s) URL"),
    "duplicate-id": ("error", "two capabilities share an id"),
    "unknown-field": ("warning", "a key no block defines; ignored, with a \"did you mean\""),
    "unknown-permission": ("warning", "a permission scope outside the known list"),
    "no-failure-modes": ("warning", "no failure modes are declared"),
    "few-capabilities": ("warning", "fewer than 3 capabilities"),
    "no-execution": ("warning", "no execution block"),
}


@dataclass(frozen=True)
class Key:
    """One key of a block. ``kind``: text, url, date, strings, bool, count, object (with
    ``block``), objects (a list of ``block``), or open (any object)."""

    kind: str
    doc: str
    required: bool = False
    enum: tuple[str, ...] = ()
    min_len: int = 1
    max_len: int = MAX_TEXT
    pattern: str | None = None
    block: str | None = None
    max_items: int = MAX_LIST
    item_enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    name: str
    doc: str
    keys: dict[str, Key] = field(default_factory=dict)


_ARTIFACT = Block("artifact", "What the artifact is and who maintains it.", {
    "name": Key("text", "display name", required=True, max_len=200),
    "slug": Key("text", "unique identifier in the registry", required=True, max_len=100,
                pattern=SLUG),
    "type": Key("text", "artifact type", required=True, enum=ARTIFACT_TYPES),
    "maintainer": Key("text", "who maintains it", required=True, max_len=200),
    "repository": Key("url", "source repository URL"),
    "homepage": Key("url", "homepage URL; one of repository and homepage is required"),
    "license": Key("text", "licence name or SPDX id", max_len=100),
    "description": Key("text", "one paragraph about the artifact"),
    "tags": Key("strings", "free tags"),
    "categories": Key("strings", "artifact-level categories; inferred when absent"),
    "status": Key("text", "lifecycle status (default active)", enum=STATUSES),
    "updated_at": Key("date", "ISO date of the last release", max_len=40),
    "integrations": Key("strings", "slugs of registry artifacts it works with"),
})
_CONDITIONS = Block("conditions", "When the capability fits.", {
    "bestFor": Key("strings", "who or when it is best for"),
    "limitations": Key("strings", "honest limits; they become passport failure modes"),
    "requires": Key("strings", "what it needs; the passport lists them as requirements"),
})
_CAPABILITY = Block("capability", "One thing the artifact does.", {
    "id": Key("text", "unique in the manifest", required=True, max_len=64, pattern=CAP_ID),
    "name": Key("text", "short name", required=True, max_len=200),
    "description": Key("text", "how it works", required=True, min_len=MIN_DESCRIPTION),
    "intents_served": Key("strings", "what an agent would ask for", required=True),
    "conditions": Key("object", "best for, limitations, requirements", block="conditions"),
    "unique_aspect": Key("text", "what sets it apart"),
    "categories": Key("strings", "capability categories, first is primary",
                      item_enum=CAPABILITY_CATEGORIES),
    "input_types": Key("strings", "what it takes"),
    "output_types": Key("strings", "what it gives"),
})
_PRICING = Block("pricing", "What it costs.", {
    "model": Key("text", "pricing model", enum=PRICING_MODELS),
    "free": Key("bool", "whether it can be used for free"),
    "starting_price": Key("text", "e.g. \"$0.15 per 1M input tokens\"", max_len=200),
})
_FAILURE_MODE = Block("failure_mode", "One way it breaks.", {
    "mode": Key("text", "what goes wrong", required=True, max_len=MAX_ITEM),
    "frequency": Key("text", "how often", enum=FAILURE_FREQUENCIES),
    "mitigation": Key("text", "what to do about it", max_len=MAX_ITEM),
})
_EXECUTION = Block("execution", "How to run or call it.", {
    "protocol": Key("text", "transport", required=True, enum=EXECUTION_PROTOCOLS),
    "auth_method": Key("text", "authentication scheme", enum=AUTH_METHODS),
    "endpoint": Key("url", "base URL of an HTTP API (or the whole URL of its call)"),
    "command": Key("text", "how to start it", max_len=MAX_ITEM),
    "install": Key("text", "install line", max_len=MAX_ITEM),
    "method": Key("text", "HTTP method of the call a snippet shows", enum=HTTP_METHODS),
    "path": Key("text", "path of that call under the endpoint; {name} marks a parameter",
                max_len=MAX_ITEM, pattern=HTTP_PATH),
    "auth_header": Key("text", "header that carries the key (auth_method api_key)",
                       max_len=100, pattern=HEADER_NAME),
    "headers": Key("strings", "fixed headers of the call, as \"Name: value\""),
})
_TRUST = Block("trust", "What the publisher declares about trust.", {
    "data_access_risk": Key("text", "low, moderate or high (derived when absent)",
                            enum=RISK_LEVELS),
})
_COMMUNITY = Block("community", "Self-declared adoption counts.", {
    name: Key("count", f"{name.replace('_', ' ')} (integer >= 0)")
    for name in ("stars", "forks", "weekly_downloads", "model_downloads", "model_likes")
})
MANIFEST = Block("manifest", "An unfragile.yml manifest (Unfragile Capability Protocol v1.0).", {
    "unfragile_version": Key("version", "must be \"1.0\"", required=True),
    "artifact": Key("object", "the artifact", required=True, block="artifact"),
    "capabilities": Key("objects", "what it does", required=True, block="capability",
                        max_items=MAX_CAPABILITIES),
    "pricing": Key("object", "what it costs", block="pricing"),
    "failure_modes": Key("objects", "how it breaks (recommended)", block="failure_mode"),
    "execution": Key("object", "how to run it (recommended)", block="execution"),
    "trust": Key("object", "declared trust facts", block="trust"),
    "permissions": Key("strings", "declared access scopes"),
    "compliance": Key("open", "free-form compliance statements"),
    "community": Key("object", "self-declared adoption counts", block="community"),
})
BLOCKS: dict[str, Block] = {b.name: b for b in (
    MANIFEST, _ARTIFACT, _CONDITIONS, _CAPABILITY, _PRICING, _FAILURE_MODE, _EXECUTION, _TRUST,
    _COMMUNITY,
)}


def _plain(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def close_key(key: str, known: dict[str, Key]) -> str | None:
    """The known key an unknown one most likely meant: the same letters in another spelling
    (``best_for`` for ``bestFor``), a known key it ends or starts with (``github_stars``),
    else the closest by edit similarity (``comand``, ``mitigaton``); None when nothing is
    close."""
    plain = _plain(key)
    by_plain = {_plain(k): k for k in known}
    if plain in by_plain:
        return by_plain[plain]
    for p, k in by_plain.items():
        if len(p) >= 4 and (plain.endswith(p) or plain.startswith(p)):
            return k
    found = difflib.get_close_matches(plain, list(by_plain), n=1, cutoff=0.75)
    return by_plain[found[0]] if found else None


def _key_schema(key: Key) -> dict[str, Any]:
    out: dict[str, Any]
    if key.kind in ("text", "url", "date"):
        out = {"type": "string", "minLength": key.min_len, "maxLength": key.max_len}
        if key.kind == "url":
            out.update(format="uri", pattern="^https?://", maxLength=2000)
        if key.kind == "date":
            out["description"] = "ISO 8601 date or date-time"
        if key.pattern:
            out["pattern"] = key.pattern
        if key.enum:
            out = {"type": "string", "enum": list(key.enum)}
    elif key.kind == "strings":
        item: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_ITEM}
        if key.item_enum:
            item = {"type": "string", "enum": list(key.item_enum)}
        out = {"type": "array", "items": item, "maxItems": key.max_items}
    elif key.kind == "version":
        out = {"enum": ["1.0", "1", 1]}
    elif key.kind == "bool":
        out = {"type": "boolean"}
    elif key.kind == "count":
        out = {"type": ["integer", "null"], "minimum": 0, "maximum": 2**53 - 1}
    elif key.kind == "object":
        out = {"$ref": f"#/$defs/{key.block}"}
    elif key.kind == "objects":
        out = {"type": "array", "items": {"$ref": f"#/$defs/{key.block}"},
               "maxItems": key.max_items}
    else:
        out = {"type": "object"}
    if key.required and key.kind in ("strings", "objects"):
        out["minItems"] = 1
    if not key.required:  # the validator reads null as absent
        out = _nullable(out)
    return {"description": key.doc, **out}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _block_schema(block: Block) -> dict[str, Any]:
    return {
        "type": "object",
        "description": block.doc,
        "properties": {name: _key_schema(key) for name, key in block.keys.items()},
        "required": [name for name, key in block.keys.items() if key.required],
        # Unknown keys are accepted with a warning by the validator; the schema says so.
        "additionalProperties": True,
    }


def manifest_schema(base_url: str) -> dict[str, Any]:
    """The JSON Schema of a manifest, with ``$id`` at the registry's ``/manifest.schema.json``.
    Unknown keys are allowed (the validator warns about them, it does not refuse them)."""
    root = _block_schema(MANIFEST)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url.rstrip('/')}/manifest.schema.json",
        "title": "unfragile.yml manifest",
        **root,
        "$defs": {name: _block_schema(b) for name, b in BLOCKS.items() if b is not MANIFEST},
    }
