"""Which format a document is in, and the document read into entries, one per artifact.

Formats (``FORMATS``): ``mcp-server-json``, ``a2a-agent-card``, ``hf-model-card``,
``openrouter-models`` and ``capgraph-passport``. A JSON array is read entry by entry, each
detected on its own. Nothing here raises for bad input: an unreadable document is one
``Refusal``, an unreadable entry of a list is one ``Refusal`` among the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capgraph.core.manifest import parse_manifest_text
from capgraph.errors import ParseError
from capgraph.importers import agent_card, model_card, model_catalog, server_json
from capgraph.importers.entries import Mapped, PassportEntry, Refusal, Unreadable, kind_of

__all__ = ["FORMATS", "PASSPORT", "Document", "Entry", "read_document"]

PASSPORT = "capgraph-passport"
FORMATS = (server_json.FORMAT, agent_card.FORMAT, model_card.FORMAT, model_catalog.FORMAT,
           PASSPORT)
Entry = Mapped | PassportEntry | Refusal


@dataclass(frozen=True)
class Document:
    """A document read: its format ("unknown" when none fits) and its entries in order."""

    format: str
    entries: list[Entry]


def _detect(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if "passport" in data or "unfragile" in data:
        return PASSPORT
    if isinstance(data.get("data"), list):
        return model_catalog.FORMAT
    if isinstance(data.get("server"), dict) or "packages" in data or "remotes" in data or \
            "server.schema.json" in str(data.get("$schema", "")):
        return server_json.FORMAT
    if "skills" in data or "protocolVersion" in data or "defaultInputModes" in data:
        return agent_card.FORMAT
    if isinstance(data.get("name"), str) and server_json.NAME_PATTERN.match(data["name"]) \
            and "version" in data:
        return server_json.FORMAT
    if "id" in data and ("pricing" in data or "context_length" in data):
        return model_catalog.FORMAT
    return None


def _named(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("name", "id"):
            if isinstance(data.get(key), str):
                return str(data[key])[:200]
    return None


def _one(data: Any, fmt: str, source_url: str | None) -> Entry:
    try:
        if fmt == PASSPORT:
            if not isinstance(data, dict):
                raise Unreadable(f"a passport is a JSON object, not {kind_of(data)}")
            inner = data.get("passport", data)
            body = inner.get("unfragile") if isinstance(inner, dict) else None
            artifact = body.get("artifact") if isinstance(body, dict) else None
            slug = artifact.get("slug") if isinstance(artifact, dict) else None
            return PassportEntry(slug if isinstance(slug, str) else None, data)
        mapper: Callable[[Any], Mapped] = {
            server_json.FORMAT: server_json.map_server_json,
            agent_card.FORMAT: agent_card.map_agent_card,
            model_catalog.FORMAT: lambda d: model_catalog.map_catalog_entry(
                d, source_url=source_url),
        }[fmt]
        return mapper(data)
    except Unreadable as exc:
        return Refusal(_named(data), (str(exc),))


def _entries(data: Any, fmt: str | None, source_url: str | None) -> Document:
    if fmt == model_catalog.FORMAT or (fmt is None and _detect(data) == model_catalog.FORMAT):
        items = data.get("data") if isinstance(data, dict) and "data" in data else data
        items = items if isinstance(items, list) else [items]
        return Document(model_catalog.FORMAT,
                        [_one(item, model_catalog.FORMAT, source_url) for item in items])
    if isinstance(data, list):
        kinds = {fmt or _detect(item) or "unknown" for item in data}
        out: list[Entry] = []
        for item in data:
            kind = fmt or _detect(item)
            out.append(_one(item, kind, source_url) if kind and kind != model_card.FORMAT
                       else Refusal(_named(item), ("not a format capgraph imports: expected "
                                                   "one of " + ", ".join(FORMATS),)))
        return Document(kinds.pop() if len(kinds) == 1 else "mixed", out)
    kind = fmt or _detect(data)
    if kind is None or kind == model_card.FORMAT:
        return Document("unknown", [Refusal(_named(data), (
            "not a format capgraph imports: expected an MCP server.json, an A2A agent card, "
            "a Hugging Face model card, an OpenRouter-style model list or a capgraph "
            "passport",))])
    return Document(kind, [_one(data, kind, source_url)])


def _not_empty(document: Document) -> Document:
    if document.entries:
        return document
    return Document(document.format, [Refusal(None, ("the document lists no entries",))])


def read_document(data: bytes, *, fmt: str | None = None, source_url: str | None = None
                  ) -> Document:
    """Detect ``data``'s format (or take ``fmt``, one of ``FORMATS``) and read its entries.
    ``source_url``: where the document came from, when known (names model cards, roots a
    catalog's links)."""
    if fmt is not None and fmt not in FORMATS:
        return Document("unknown", [Refusal(None, (
            f"format {fmt!r} is not one of {', '.join(FORMATS)}",))])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        error = ParseError(f"input is not UTF-8 (byte {exc.start})")
        return Document(fmt or "unknown", [Refusal(None, (error.message,), error)])
    stripped = text.lstrip("\ufeff \t\r\n")
    if fmt == model_card.FORMAT or (fmt is None and stripped.startswith("---")):
        try:
            return Document(model_card.FORMAT,
                            [model_card.map_model_card(text, source_url=source_url)])
        except Unreadable as exc:
            return Document(model_card.FORMAT, [Refusal(None, (str(exc),))])
    try:
        parsed = parse_manifest_text(stripped, hint="json")
    except ParseError as exc:
        return Document(fmt or "unknown", [Refusal(None, (exc.diagnostics(),), exc)])
    return _not_empty(_entries(parsed, fmt, source_url))
