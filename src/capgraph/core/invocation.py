"""Ready-to-run invocation snippets, by execution protocol and artifact type.

- ``mcp``: an MCP client configuration (the ``mcpServers`` JSON most clients read).
- ``api`` and ``model`` (and anything with an HTTP endpoint): an HTTP call.
- ``repo``, ``framework``, ``cli`` and other installable code: the install line, then the
  command when one is declared.
The snippet only uses what the manifest declared; nothing is invented. Without an execution
block, the artifact's URL is the one honest pointer, and ``language`` says ``text``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Invocation", "invocation_for"]

_INSTALLABLE = {"repo", "framework", "cli", "dataset", "benchmark", "template", "finetune",
                "skill", "workflow", "prompt", "extension"}


@dataclass(frozen=True)
class Invocation:
    language: str
    snippet: str
    requires: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"language": self.language, "snippet": self.snippet, "requires": self.requires}


def _auth_header(auth: str | None) -> str | None:
    if auth in ("api_key", "bearer", "oauth2"):
        return "Authorization: Bearer $API_KEY"
    if auth == "basic":
        return "Authorization: Basic $CREDENTIALS"
    return None


def invocation_for(
    *,
    slug: str,
    artifact_type: str,
    url: str,
    execution: Mapping[str, Any] | None,
    requires: list[str],
) -> Invocation:
    """The snippet an agent can run to use an artifact."""
    ex = dict(execution or {})
    protocol = ex.get("protocol")
    command = ex.get("command")
    install = ex.get("install")
    endpoint = ex.get("endpoint")
    auth = ex.get("auth_method")
    needs = list(requires[:5])
    if auth and auth != "none":
        needs.insert(0, f"credentials for {auth} authentication (set API_KEY)")
    if artifact_type == "mcp" or protocol == "mcp":
        if command:
            parts = shlex.split(command)
            server: dict[str, Any] = {"command": parts[0], "args": parts[1:]}
        elif endpoint:
            server = {"url": endpoint}
        else:
            server = {"url": url}
        if auth and auth != "none":
            server["env"] = {"API_KEY": "<your key>"}
        config = {"mcpServers": {slug: server}}
        return Invocation("json", json.dumps(config, indent=2), needs)
    if endpoint and (artifact_type in ("api", "model") or protocol in ("http", "https")):
        lines = [f"curl -sS {shlex.quote(endpoint)}"]
        header = _auth_header(auth)
        if header:
            lines.append(f'  -H "{header}"')
        lines.append('  -H "Content-Type: application/json" -d @request.json')
        return Invocation("bash", " \\\n".join(lines), needs)
    if install or command:
        steps = [s for s in (install, command) if s]
        return Invocation("bash", "\n".join(steps), needs)
    if artifact_type in _INSTALLABLE and url.startswith("https://github.com/"):
        return Invocation("bash", f"git clone {shlex.quote(url)}", needs)
    return Invocation("text", f"See {url} for how to call {slug}.", needs)
