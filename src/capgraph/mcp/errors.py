"""The one mapping of capgraph errors to MCP tool errors.

A tool that raises a ``CapgraphError`` answers a tool result with ``isError`` set: its text
is ``code: message`` for a model to read, its structured content the same fields as the HTTP
API's problem+json body (``code``, ``title``, ``detail`` and the error's extra fields), so an
agent can switch on ``code`` whichever transport it uses; a resource read answers an MCP error
with the same text. Anything else propagates and the SDK answers a generic tool error (logged
with its traceback), never a stack trace to the caller.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import CallToolResult, TextContent

from capgraph.errors import CapgraphError, InvalidManifest

__all__ = ["read_translated", "tool_error", "translated"]

P = ParamSpec("P")
R = TypeVar("R")


def tool_error(exc: CapgraphError) -> CallToolResult:
    """The tool result for a capgraph error."""
    detail: dict[str, Any] = {"code": exc.code, "title": exc.title, "detail": exc.message}
    detail.update({k: v for k, v in exc.extra.items() if v is not None})
    if isinstance(exc, InvalidManifest):
        detail["errors"] = [f.to_json() for f in exc.findings if f.severity == "error"]
    return CallToolResult(
        content=[TextContent(type="text", text=f"{exc.code}: {exc.message}")],
        structured_content=detail, is_error=True,
    )


def translated(fn: Callable[P, R]) -> Callable[P, R | CallToolResult]:
    """Wrap a tool so that every capgraph error it raises becomes ``tool_error``. The wrapper
    keeps the tool's signature (the SDK reads parameters and return type from it)."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R | CallToolResult:
        try:
            return fn(*args, **kwargs)
        except CapgraphError as exc:
            return tool_error(exc)

    return call


def read_translated(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a resource reader so that a capgraph error becomes a ``ResourceError`` with the
    text ``code: message`` (an MCP error answer to resources/read)."""

    @functools.wraps(fn)
    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CapgraphError as exc:
            raise ResourceError(f"{exc.code}: {exc.message}") from exc

    return read
