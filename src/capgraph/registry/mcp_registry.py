"""The MCP Registry API's use cases (``/v0.1``): every artifact of type ``mcp`` as a server,
listed with cursor pagination and filters, its versions, one version, and publishing a
``server.json`` (through ``importing.py``: the same ownership rules as any publish).

A server version is a run of passport versions sharing one published content (its content
hash): re-issues after feedback or a claim add passport versions, not server versions. Its
version string is the server.json's ``version``, or, for an artifact published from a
manifest, the number of the passport version where that content first appeared.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from capgraph.core.server_detail import NAMESPACE, ServerVersion, server_name, server_response
from capgraph.errors import BadRequest, Conflict, NotFound
from capgraph.importers.entries import IMPORT_KEY, Unreadable
from capgraph.importers.server_json import FORMAT, map_server_json, slug_for_server
from capgraph.ports import Store, StoredVersion
from capgraph.registry.importing import Importing, imported_original

__all__ = ["MAX_LIMIT", "McpRegistry", "ServerPage"]

MAX_LIMIT = 100
_PAGE = 500


@dataclass(frozen=True)
class ServerPage:
    """One page of ``GET /v0.1/servers``: ``ServerResponse`` objects and the next cursor."""

    servers: list[dict[str, Any]]
    next_cursor: str | None


def _manifest(stored: StoredVersion) -> dict[str, Any] | None:
    if stored.source_kind != "manifest":
        return None
    data = json.loads(stored.source)
    return data if isinstance(data, dict) else None


def _group(history: list[StoredVersion]) -> list[ServerVersion]:
    """Server versions of an artifact, oldest first (a repeated label keeps its newest)."""
    runs: dict[str, list[StoredVersion]] = {}
    for stored in history:
        runs.setdefault(stored.content_hash, []).append(stored)
    latest = history[-1]
    out: dict[str, ServerVersion] = {}
    for run in sorted(runs.values(), key=lambda r: r[-1].version):
        first, last = run[0], run[-1]
        original = imported_original(last)
        label = str(original["version"]) if original and "version" in original \
            else str(first.version)
        out.pop(label, None)
        out[label] = ServerVersion(
            slug=last.slug, label=label, passport_version=last.version,
            passport=json.loads(last.passport), original=original, manifest=_manifest(last),
            published_at=first.created_at, updated_at=last.created_at,
            is_latest=last.version == latest.version)
    return list(out.values())


def _moment(text: str, *, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{what} must be an RFC 3339 date-time, not {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cursor(name: str, label: str) -> str:
    raw = json.dumps([name, label], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) for x in data):
            return data[0], data[1]
    except (ValueError, binascii.Error):
        pass
    raise BadRequest("cursor is not one this registry gave out: use metadata.nextCursor as is")


class McpRegistry:
    """Servers for the ``/v0.1`` API, from the store; publishes through ``Importing``."""

    def __init__(self, *, store: Store, importing: Importing) -> None:
        self._store = store
        self._importing = importing

    def _mcp_slugs(self) -> Iterator[str]:
        offset = 0
        while rows := self._store.artifacts(artifact_type="mcp", limit=_PAGE, offset=offset):
            yield from (r.slug for r in rows)
            offset += len(rows)

    def _versions_of(self, slug: str) -> list[ServerVersion]:
        history = self._store.versions(slug)
        return _group(history) if history and history[-1].artifact_type == "mcp" else []

    def servers(self, *, base_url: str, cursor: str | None = None, limit: int = 30,
                search: str | None = None, updated_since: str | None = None,
                version: str | None = None) -> ServerPage:
        """Server versions by name then version, after ``cursor``; ``search``: a substring
        of the name (any case); ``updated_since``: updated at or after (RFC 3339);
        ``version``: ``latest`` or one version string."""
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
        since = _moment(updated_since, what="updated_since") if updated_since else None
        after = _after(cursor) if cursor else None
        needle = (search or "").lower()
        found: list[tuple[str, int, ServerVersion]] = []
        for slug in self._mcp_slugs():
            for ordinal, item in enumerate(self._versions_of(slug)):
                name = server_name(slug, item.original)
                if needle and needle not in name.lower():
                    continue
                if version == "latest" and not item.is_latest:
                    continue
                if version not in (None, "latest") and item.label != version:
                    continue
                if since and _moment(item.updated_at, what="updatedAt") < since:
                    continue
                found.append((name, ordinal, item))
        found.sort(key=lambda f: (f[0], f[1]))
        if after is not None:
            keys = [(f[0], f[2].label) for f in found]
            start = keys.index(after) + 1 if after in keys else next(
                (i for i, f in enumerate(found) if f[0] > after[0]), len(found))
            found = found[start:]
        page = found[:limit]
        more = len(found) > limit
        return ServerPage(
            [server_response(f[2], base_url=base_url) for f in page],
            _cursor(page[-1][0], page[-1][2].label) if more and page else None)

    def _named(self, name: str) -> tuple[str, list[ServerVersion]]:
        if name.startswith(f"{NAMESPACE}/"):
            slug = name[len(NAMESPACE) + 1:]
        else:
            try:
                slug = slug_for_server(name)
            except Unreadable:
                slug = ""
        versions = self._versions_of(slug) if slug else []
        if not versions or server_name(slug, versions[-1].original) != name:
            raise NotFound(f"no MCP server named {name!r}")
        return slug, versions

    def versions(self, name: str, *, base_url: str) -> list[dict[str, Any]]:
        """Every version of the server ``name``, newest first. Raises ``NotFound``."""
        _, versions = self._named(name)
        return [server_response(v, base_url=base_url) for v in reversed(versions)]

    def version(self, name: str, version: str, *, base_url: str) -> dict[str, Any]:
        """One version (``latest``: the newest), with the signed passport under our
        ``_meta`` key. Raises ``NotFound``."""
        _, versions = self._named(name)
        for item in reversed(versions):
            if item.label == version or (version == "latest" and item.is_latest):
                return server_response(item, base_url=base_url, signed=True)
        raise NotFound(f"MCP server {name!r} has no version {version!r}")

    def publish(self, document: Any, *, publisher_id: str | None, base_url: str
                ) -> dict[str, Any]:
        """Store a ``server.json`` as a signed passport version (same content again: stored
        once). Raises ``BadRequest`` for a document off the schema, ``Conflict`` for a
        version already published with other content, ``InvalidManifest`` and ``NotOwner``
        as any publish."""
        try:
            mapped = map_server_json(document)
        except Unreadable as exc:
            raise BadRequest(f"not a valid server.json: {exc}") from exc
        original = mapped.manifest[IMPORT_KEY]["original"]
        label = str(original["version"])
        slug = mapped.manifest["artifact"]["slug"]
        for item in self._versions_of(slug):
            if item.label == label and item.original is not None \
                    and item.original != original:
                raise Conflict(f"version {label} of {mapped.name} is already published with "
                               "other content; publish it under a new version", slug=slug)
        self._importing.import_mapped(mapped, fmt=FORMAT, source_url=None,
                                      publisher_id=publisher_id)
        return self.version(mapped.name, label, base_url=base_url)
