"""An artifact as the MCP Registry API shows a server (the ``ServerDetail`` and
``ServerResponse`` schemas of the generic registry OpenAPI, version 2025-12-01).

Pure: it takes a passport body and what its version was published from. A server imported
from a ``server.json`` is shown as it came (its name, version and fields); any other artifact
of type ``mcp`` is named ``dev.capgraph/<slug>`` and described from its manifest (execution
block, links). Our passport, score and verification go under ``_meta`` in the key
``dev.capgraph/passport`` (docs/MCP_REGISTRY.md).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NAMESPACE",
    "OFFICIAL_KEY",
    "PASSPORT_KEY",
    "ServerVersion",
    "server_name",
    "server_response",
]

NAMESPACE = "dev.capgraph"
PASSPORT_KEY = f"{NAMESPACE}/passport"
OFFICIAL_KEY = "io.modelcontextprotocol.registry/official"
_FORGES = {"github.com": "github", "gitlab.com": "gitlab", "bitbucket.org": "bitbucket"}


@dataclass(frozen=True)
class ServerVersion:
    """One server version: the passport versions that share one published content.

    ``label``: the server's version string; ``body``/``passport``: the newest passport of
    the group (its signed object, parsed); ``original``: the server.json it was imported from
    (None when published otherwise); ``manifest``: the manifest it was published from, if
    any; ``published_at``/``updated_at``: the group's first and newest versions' times."""

    slug: str
    label: str
    passport_version: int
    passport: Mapping[str, Any]
    original: Mapping[str, Any] | None
    manifest: Mapping[str, Any] | None
    published_at: str
    updated_at: str
    is_latest: bool


def server_name(slug: str, original: Mapping[str, Any] | None) -> str:
    """The server's name: a server.json's own, else ``dev.capgraph/<slug>``."""
    if original is not None and isinstance(original.get("name"), str):
        return str(original["name"])
    return f"{NAMESPACE}/{slug}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _package(command: str) -> dict[str, Any] | None:
    """A ``Package`` from an ``npx``/``uvx`` start command, when it is one."""
    try:
        words = [w for w in shlex.split(command) if not w.startswith("-")]
    except ValueError:
        return None
    if len(words) < 2 or words[0] not in ("npx", "uvx"):
        return None
    ident, version = words[1], None
    at = ident.rfind("@")
    if at > 0:
        ident, version = ident[:at], ident[at + 1:]
    out: dict[str, Any] = {"registryType": "npm" if words[0] == "npx" else "pypi",
                           "identifier": ident, "transport": {"type": "stdio"}}
    if version and version != "latest":
        out["version"] = version
    return out


def _detail_from_manifest(name: str, label: str, body: Mapping[str, Any],
                          manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    artifact = body["artifact"]
    source = manifest.get("artifact", {}) if manifest else {}
    summary = source.get("description") or next(
        (c["description"] for c in body["capabilities"]), artifact["name"])
    detail: dict[str, Any] = {
        "name": name, "description": _clip(str(summary), 100),
        "title": _clip(str(artifact["name"]), 100), "version": label,
    }
    repository = source.get("repository") or (
        artifact["url"] if any(f"//{h}/" in artifact["url"] for h in _FORGES) else None)
    if isinstance(repository, str):
        host = repository.split("/")[2] if repository.count("/") >= 2 else ""
        detail["repository"] = {"url": repository, "source": _FORGES.get(host, host or "git")}
    homepage = source.get("homepage")
    if isinstance(homepage, str):
        detail["websiteUrl"] = homepage
    execution = manifest.get("execution") if manifest else None
    if isinstance(execution, Mapping):
        command, endpoint = execution.get("command"), execution.get("endpoint")
        package = _package(command) if isinstance(command, str) else None
        if package is not None:
            detail["packages"] = [package]
        if isinstance(endpoint, str) and endpoint.startswith(("https://", "http://")):
            detail["remotes"] = [{"type": "streamable-http", "url": endpoint}]
    return detail


def server_response(version: ServerVersion, *, base_url: str, signed: bool = False
                    ) -> dict[str, Any]:
    """The ``ServerResponse`` of one server version. ``signed``: include the signed passport
    object itself under ``_meta["dev.capgraph/passport"]["signed"]``."""
    body = version.passport["unfragile"]
    name = server_name(version.slug, version.original)
    if version.original is not None:
        detail = dict(version.original)
    else:
        detail = _detail_from_manifest(name, version.label, body, version.manifest)
    trust = body["trust"]
    provenance = version.passport.get("provenance", {})
    ours: dict[str, Any] = {
        "slug": version.slug,
        "passportVersion": version.passport_version,
        "passportUrl": f"{base_url}/api/v1/passport/{version.slug}"
                       f"?version={version.passport_version}",
        "verifyUrl": f"{base_url}/api/v1/verify?slug={version.slug}",
        "unfragileRank": trust["score"],
        "verified": trust["verified"],
        "verification": provenance.get("artifact.verified"),
        "dataAccessRisk": trust["data_access_risk"],
        "signedAt": version.passport["signedAt"],
        "signedBy": version.passport["signedBy"],
        "keyId": version.passport.get("keyId"),
        "importedFrom": provenance.get("import.format"),
    }
    if signed:
        ours["signed"] = dict(version.passport)
    status = "deprecated" if body["artifact"]["status"] != "active" else "active"
    return {
        "server": detail,
        "_meta": {
            OFFICIAL_KEY: {"status": status, "publishedAt": version.published_at,
                           "updatedAt": version.updated_at, "isLatest": version.is_latest},
            PASSPORT_KEY: ours,
        },
    }
