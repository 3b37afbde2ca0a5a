"""MCP ``server.json`` (the official MCP Registry's server description, 2025-12-11 schema)
to a manifest: one artifact of type ``mcp`` with one capability, started from its first
package (stdio) or reached at its first remote (streamable HTTP or SSE).

The document is also kept as it came (under ``x-import.original``), so the ``/v0.1`` API
serves back exactly what was published.
"""

from __future__ import annotations

import re
from typing import Any

from capgraph.importers.entries import (
    IMPORT_KEY,
    Mapped,
    Unreadable,
    describe,
    kind_of,
    short,
    slugify,
    text,
)

__all__ = ["FORMAT", "NAME_PATTERN", "OUR_META_PREFIX", "map_server_json", "slug_for_server"]

FORMAT = "mcp-server-json"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$")
# Keys of ``_meta`` this registry writes (``core/server_json.py``): never taken from input.
OUR_META_PREFIX = "dev.capgraph/"
_PACKAGE_PAGES = {
    "npm": "https://www.npmjs.com/package/{id}",
    "pypi": "https://pypi.org/project/{id}/",
    "cargo": "https://crates.io/crates/{id}",
    "nuget": "https://www.nuget.org/packages/{id}",
}
_COMMANDS = {
    "npm": "npx -y {id}{at}",
    "pypi": "uvx {id}{at}",
    "oci": "docker run -i --rm {id}{tag}",
    "nuget": "dnx {id}{at}",
}


def slug_for_server(name: str) -> str:
    """The artifact slug a server name is stored under: ``io.github.user/weather`` ->
    ``io.github.user-weather``."""
    return slugify(name)


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and " " not in value:
        return value
    return None


def _package_line(package: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """(command, page URL, a sentence) for a package entry."""
    kind = str(package.get("registryType") or "")
    ident = package.get("identifier")
    if not isinstance(ident, str) or not ident.strip():
        raise Unreadable("packages[0].identifier is required")
    version = package.get("version") if isinstance(package.get("version"), str) else None
    at = f"@{version}" if version else ""
    template = _COMMANDS.get(kind)
    command = template.format(id=ident, at=at, tag=f":{version}" if version else "") \
        if template else None
    page = _PACKAGE_PAGES[kind].format(id=ident) if kind in _PACKAGE_PAGES else _url(ident)
    sentence = f"Runs locally from the {kind or 'unknown'} package {ident}{at} over stdio"
    return command, page, sentence


def _secret_inputs(items: Any) -> bool:
    return isinstance(items, list) and any(
        isinstance(i, dict) and i.get("isSecret") for i in items)


def map_server_json(data: Any) -> Mapped:
    """One ``server.json`` (or a ``/v0.1`` ``ServerResponse`` holding one) as a manifest.
    Raises ``Unreadable`` for a document off the schema's required fields."""
    if not isinstance(data, dict):
        raise Unreadable(f"a server.json is a JSON object, not {kind_of(data)}")
    if isinstance(data.get("server"), dict):
        data = data["server"]
    name = text(data, "name", where="", required=True, limit=200)
    assert name is not None
    if not NAME_PATTERN.match(name):
        raise Unreadable(f"name {name!r} must be a reverse-DNS namespace, one '/', and a name "
                         "(such as io.github.user/weather)")
    summary = text(data, "description", where="", required=True)
    version = text(data, "version", where="", required=True, limit=255)
    assert summary is not None and version is not None
    title = text(data, "title", where="", limit=100)
    repository = data.get("repository")
    repo_url = _url(repository.get("url")) if isinstance(repository, dict) else None
    website = _url(data.get("websiteUrl"))
    packages = data.get("packages") or []
    remotes = data.get("remotes") or []
    if not isinstance(packages, list) or not isinstance(remotes, list):
        raise Unreadable("packages and remotes must be lists")
    execution: dict[str, Any] | None = None
    how: list[str] = []
    requires: list[str] = []
    page = None
    first_package = next((p for p in packages if isinstance(p, dict)), None)
    first_remote = next((r for r in remotes if isinstance(r, dict)), None)
    if first_package is not None:
        command, page, sentence = _package_line(first_package)
        how.append(sentence)
        execution = {"protocol": "stdio", "auth_method": "none"}
        if command:
            execution["command"] = command
        if _secret_inputs(first_package.get("environmentVariables")):
            requires.append("credentials")
            execution["auth_method"] = "api_key"
    if first_remote is not None:
        endpoint = _url(first_remote.get("url"))
        kind = first_remote.get("type", "streamable-http")
        how.append(f"Reachable remotely over {kind}" + (f" at {endpoint}" if endpoint else ""))
        requires.append("network")
        secret = _secret_inputs(first_remote.get("headers"))
        if secret:
            requires.append("credentials")
        if execution is None:
            execution = {"protocol": "mcp", "auth_method": "bearer" if secret else "none"}
            if endpoint:
                execution["endpoint"] = endpoint
    homepage = website or (None if repo_url else page or (
        _url(first_remote.get("url")) if first_remote else None))
    if repo_url is None and homepage is None:
        raise Unreadable("the server.json gives no URL for the server: a repository.url, a "
                         "websiteUrl, a package on a known registry or a remote is needed")
    namespace, _, short_name = name.partition("/")
    display = title or short_name
    original = {k: v for k, v in data.items() if k != "_meta"}
    meta = data.get("_meta")
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if not str(k).startswith(OUR_META_PREFIX)}
        if kept:
            original["_meta"] = kept
    artifact: dict[str, Any] = {
        "name": short(display, 200), "slug": slug_for_server(name), "type": "mcp",
        "maintainer": namespace, "description": summary, "tags": ["mcp", namespace],
    }
    if repo_url:
        artifact["repository"] = repo_url
    if homepage:
        artifact["homepage"] = homepage
    capability: dict[str, Any] = {
        "id": "server",
        "name": short(display, 200),
        "description": describe(summary, *how, f"MCP server {name} version {version}",
                                source="an MCP server.json"),
        "intents_served": [short(summary, 1000)],
        "categories": ["tool-use-integration"],
    }
    if requires:
        capability["conditions"] = {"requires": requires}
    manifest: dict[str, Any] = {
        "unfragile_version": "1.0", "artifact": artifact, "capabilities": [capability],
        "pricing": {"model": "unknown"},
        IMPORT_KEY: {"format": FORMAT, "original": original},
    }
    if execution is not None:
        manifest["execution"] = execution
    return Mapped(name=name, manifest=manifest)
