"""Pure-ASGI layers in front of the FastAPI app.

``BodyLimit`` answers 413 before an oversize body reaches any handler. ``PassportFastPath``
serves ``GET /api/v1/passport/{slug}`` (the hottest read) straight from the Registry's
envelope cache, skipping routing, dependency injection and validation: the passport is stored
as bytes and sent as bytes. Anything it does not fully handle falls through to the app, which
also documents the route in OpenAPI.
"""

from __future__ import annotations

import re
from typing import Any

from capgraph.errors import CapgraphError
from capgraph.http.problems import PROBLEM_TYPE, problem_body
from capgraph.service import Registry

__all__ = ["BodyLimit", "PassportFastPath", "base_url_of"]

Scope = dict[str, Any]
_PASSPORT = re.compile(r"^/api/v1/passport/([A-Za-z0-9._-]{1,100})$")


def base_url_of(scope: Scope) -> str:
    """The URL this request reached the server at: scheme and Host header."""
    host = ""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
            break
    if not host or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,255}", host):
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


async def _send_bytes(send: Any, status: int, body: bytes, content_type: bytes,
                      extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, send: Any, scope: Scope) -> None:
        body = problem_body(
            status=413, code="payload-too-large", title="Payload too large",
            detail=f"the request body is larger than {self.max_bytes} bytes",
            instance=scope.get("path"),
        )
        await _send_bytes(send, 413, body, PROBLEM_TYPE.encode(), [(b"connection", b"close")])

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._too_large(send, scope)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, scope)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        await self.app(scope, replay, send)


class PassportFastPath:
    def __init__(self, app: Any, *, registry: Registry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PASSPORT.match(scope["path"])
            if match:
                try:
                    body = self.registry.envelope_bytes(match.group(1), base_url_of(scope))
                except CapgraphError:
                    pass  # not found and friends: the app answers with a problem document
                else:
                    await _send_bytes(send, 200, body, b"application/json")
                    return
        await self.app(scope, receive, send)
