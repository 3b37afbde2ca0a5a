"""A2A agent cards (``/.well-known/agent-card.json``) to a manifest: an artifact of type
``agent`` whose capabilities are the card's skills.

Read: ``name``, ``description``, ``url``, ``version``, ``provider`` (organization, url),
``documentationUrl``, ``defaultInputModes``/``defaultOutputModes``, ``securitySchemes``,
``preferredTransport`` and ``skills`` (id, name, description, tags, examples, inputModes,
outputModes).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from capgraph.core.manifest_shape import MAX_CAPABILITIES
from capgraph.importers.entries import (
    IMPORT_KEY,
    Mapped,
    Unreadable,
    cap_id,
    describe,
    kind_of,
    short,
    slugify,
    strings,
    text,
)

__all__ = ["FORMAT", "map_agent_card"]

FORMAT = "a2a-agent-card"
_AUTH = {"http": "bearer", "apiKey": "api_key", "oauth2": "oauth2", "openIdConnect": "oauth2",
         "mutualTLS": "mtls"}


def _auth(schemes: Any) -> str:
    if not isinstance(schemes, dict):
        return "none"
    for scheme in schemes.values():
        if isinstance(scheme, dict):
            kind = scheme.get("type")
            if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
                return "basic"
            if kind in _AUTH:
                return _AUTH[kind]
    return "none"


def _skill(raw: Any, index: int, *, defaults: tuple[list[str], list[str]], transport: str,
           endpoint: str) -> dict[str, Any]:
    where = f"skills[{index}]."
    if not isinstance(raw, dict):
        raise Unreadable(f"skills[{index}] must be an object, not {kind_of(raw)}")
    name = text(raw, "name", where=where, required=True, limit=200)
    ident = text(raw, "id", where=where) or name
    assert name is not None and ident is not None
    summary = text(raw, "description", where=where)
    tags = strings(raw.get("tags"), where=f"{where}tags")
    examples = strings(raw.get("examples"), where=f"{where}examples")
    inputs = strings(raw.get("inputModes"), where=f"{where}inputModes") or defaults[0]
    outputs = strings(raw.get("outputModes"), where=f"{where}outputModes") or defaults[1]
    call = f"Called as a skill of an A2A agent over {transport} at {endpoint}"
    out: dict[str, Any] = {
        "id": cap_id(ident),
        "name": name,
        "description": describe(summary, call,
                                f"Tags: {', '.join(tags)}" if tags else None,
                                source="an A2A agent card"),
        "intents_served": examples or [short(summary or name, 1000)],
        "input_types": inputs,
        "output_types": outputs,
    }
    if tags:
        out["conditions"] = {"bestFor": tags[:10]}
    return out


def map_agent_card(data: Any) -> Mapped:
    """One agent card as a manifest. Raises ``Unreadable`` for a card without a name, a
    URL or skills."""
    if not isinstance(data, dict):
        raise Unreadable(f"an agent card is a JSON object, not {kind_of(data)}")
    name = text(data, "name", where="", required=True, limit=200)
    assert name is not None
    endpoint = text(data, "url", where="", required=True, limit=2000)
    assert endpoint is not None
    if urlparse(endpoint).scheme not in ("http", "https"):
        raise Unreadable(f"url {endpoint!r} is not an http(s) URL")
    raw_skills = data.get("skills")
    if not isinstance(raw_skills, list) or not raw_skills:
        raise Unreadable("skills must be a non-empty list: an agent card without skills names "
                         "no capability")
    provider = data.get("provider") if isinstance(data.get("provider"), dict) else {}
    assert isinstance(provider, dict)
    maintainer = (text(provider, "organization", where="provider.", limit=200)
                  or urlparse(endpoint).hostname or name)
    homepage = (text(provider, "url", where="provider.", limit=2000)
                or text(data, "documentationUrl", where="", limit=2000) or endpoint)
    defaults = (strings(data.get("defaultInputModes"), where="defaultInputModes"),
                strings(data.get("defaultOutputModes"), where="defaultOutputModes"))
    transport = text(data, "preferredTransport", where="", limit=50) or "JSONRPC"
    capabilities, seen = [], set()
    for index, raw in enumerate(raw_skills[:MAX_CAPABILITIES]):
        skill = _skill(raw, index, defaults=defaults, transport=transport, endpoint=endpoint)
        while skill["id"] in seen:
            skill["id"] = cap_id(f"{skill['id']}-{index}")
        seen.add(skill["id"])
        capabilities.append(skill)
    tags = strings([t for c in raw_skills if isinstance(c, dict)
                    for t in (c.get("tags") or [] if isinstance(c.get("tags"), list) else [])],
                   where="skills[].tags")
    artifact: dict[str, Any] = {
        "name": name, "slug": slugify(name), "type": "agent", "maintainer": maintainer,
        "homepage": homepage, "tags": tags,
    }
    summary = text(data, "description", where="")
    if summary:
        artifact["description"] = summary
    manifest: dict[str, Any] = {
        "unfragile_version": "1.0", "artifact": artifact, "capabilities": capabilities,
        "pricing": {"model": "unknown"},
        "execution": {"protocol": "https" if endpoint.startswith("https") else "http",
                      "auth_method": _auth(data.get("securitySchemes")), "endpoint": endpoint,
                      "method": "POST"},  # A2A: JSON-RPC requests POSTed to the card's url
        IMPORT_KEY: {"format": FORMAT},
    }
    return Mapped(name=name, manifest=manifest)
