"""Ready-to-run invocation snippets, built only from the declared execution facts.

- ``mcp``: an MCP client configuration (the ``mcpServers`` JSON most clients read).
- ``api`` and ``model`` (and anything with an HTTP endpoint): an HTTP call with ``curl``.
- ``repo``, ``framework``, ``cli`` and other installable code: the install line, then the
  command when one is declared.

Nothing is invented. An HTTP call needs an operation (``execution.method``, and the
``execution.path`` under the endpoint when the endpoint is a base URL) and the way it
authenticates (``auth_method``; for ``api_key``, the header that carries the key,
``execution.auth_header``). Whatever of that the manifest does not declare is left as a
visible ``<placeholder>`` in the snippet and listed in ``missing`` (the field and a sentence),
instead of a guess such as ``Authorization: Bearer`` for an API that signs its requests.
Without an execution block, the artifact's URL is the one honest pointer, ``language`` says
``text`` and ``missing`` names the block.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Invocation", "Missing", "invocation_for", "missing_sentence"]

_INSTALLABLE = {"repo", "framework", "cli", "dataset", "benchmark", "template", "finetune",
                "skill", "workflow", "prompt", "extension"}
_WITH_BODY = {"POST", "PUT", "PATCH"}
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Missing:
    """An execution fact the snippet needed and the manifest does not declare."""

    field: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class Invocation:
    language: str
    snippet: str
    requires: list[str]
    missing: list[Missing] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"language": self.language, "snippet": self.snippet, "requires": self.requires,
                "missing": [m.to_json() for m in self.missing]}


def missing_sentence(missing: Sequence[Missing]) -> str:
    """One sentence for pages: what the snippet could not take from the manifest."""
    fields = [m.field for m in missing]
    if not fields:
        return ""
    return ("The manifest does not declare " + ", ".join(f"`{f}`" for f in fields)
            + ": the snippet leaves a <placeholder> for each instead of guessing.")


def _credential_args(auth: str | None, header: str | None,
                     missing: list[Missing]) -> tuple[list[str], str | None]:
    """curl arguments for the declared auth scheme, and what the caller must set."""
    if auth is None:
        missing.append(Missing("execution.auth_method",
                               "whether and how a call authenticates is not declared"))
        return [], None
    if auth == "none":
        return [], None
    if auth in ("bearer", "oauth2"):
        return ['-H "Authorization: Bearer $API_KEY"'], "set API_KEY to a bearer token"
    if auth == "basic":
        return ['-u "$USERNAME:$PASSWORD"'], "set USERNAME and PASSWORD"
    if auth == "aws_sigv4":
        return ['--aws-sigv4 "aws:amz"', '-u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"'], \
            "AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (SigV4 signing)"
    if auth == "mtls":
        return ["--cert client.pem --key client.key"], \
            "a client certificate and its key (client.pem, client.key)"
    if auth == "api_key":
        if header:
            return [f'-H "{header}: $API_KEY"'], f"set API_KEY (sent in the {header} header)"
        missing.append(Missing("execution.auth_header",
                               "the header that carries the API key is not declared"))
        return ['-H "<api key header>: $API_KEY"'], "set API_KEY"
    missing.append(Missing("execution.auth_method", f"no snippet is known for {auth!r}"))
    return [], None


def _double_quoted(text: str) -> str:
    """``text`` in double quotes for a POSIX shell, with ``{name}`` path parameters turned
    into ``${NAME}`` variables (everything else is escaped)."""
    escaped = re.sub(r'(["\\$`])', r"\\\1", text)
    return '"' + _PATH_PARAMETER.sub(lambda m: "${" + m.group(1).upper() + "}", escaped) + '"'


def _http_call(ex: Mapping[str, Any], endpoint: str, needs: list[str]) -> Invocation:
    missing: list[Missing] = []
    method = ex.get("method")
    path = ex.get("path")
    if method is None:
        missing.append(Missing("execution.method",
                               "which operation to call under the endpoint is not declared"))
        if path is None:
            missing.append(Missing("execution.path",
                                   "the endpoint is a base URL and no path under it is declared"))
    target = endpoint.rstrip("/") + path if path else endpoint
    if method is None and path is None:
        target = endpoint.rstrip("/") + "/<path>"
    parameters = _PATH_PARAMETER.findall(path or "")
    if parameters:
        needs.insert(0, "set " + ", ".join(p.upper() for p in parameters)
                     + " (path parameters)")
    credentials, what = _credential_args(ex.get("auth_method"), ex.get("auth_header"), missing)
    if what:
        needs.insert(0, what)
    lines = [f"curl -sS -X {method or '<METHOD>'} {_double_quoted(target)}", *credentials]
    headers = [str(h) for h in ex.get("headers") or []]
    lines += [f"-H {shlex.quote(h)}" for h in headers]
    if method is None or method in _WITH_BODY:
        if not any(h.lower().startswith("content-type:") for h in headers):
            lines.append('-H "Content-Type: application/json"')
        lines.append("-d @request.json")
    return Invocation("bash", " \\\n  ".join(lines), needs, missing)


def invocation_for(
    *,
    slug: str,
    artifact_type: str,
    url: str,
    execution: Mapping[str, Any] | None,
    requires: list[str],
) -> Invocation:
    """The snippet an agent can run to use an artifact, and what it had to leave open."""
    ex = dict(execution or {})
    protocol = ex.get("protocol")
    command = ex.get("command")
    install = ex.get("install")
    endpoint = ex.get("endpoint")
    auth = ex.get("auth_method")
    needs = list(requires[:5])
    if artifact_type == "mcp" or protocol == "mcp":
        if auth and auth != "none":
            needs.insert(0, f"credentials for {auth} authentication (set API_KEY)")
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
        return _http_call(ex, endpoint, needs)
    if install or command:
        steps = [s for s in (install, command) if s]
        return Invocation("bash", "\n".join(steps), needs)
    if artifact_type in _INSTALLABLE and url.startswith("https://github.com/"):
        return Invocation("bash", f"git clone {shlex.quote(url)}", needs)
    gap = [Missing("execution", "no execution block: no endpoint, command or install line")]
    if execution:
        gap = [Missing("execution.endpoint", "no endpoint, command or install line is declared")]
    return Invocation("text", f"See {url} for how to call {slug}.", needs, gap)
