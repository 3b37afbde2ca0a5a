"""Pure-ASGI layers in front of the FastAPI app.

``ErrorGuard`` (outermost) makes an unexpected error an ordinary answer: a 500 problem
document after which the keep-alive connection stays usable.
``BodyLimit`` answers 413 before an oversize body reaches any handler. ``PassportFastPath``
serves ``GET /api/v1/passport/{slug}`` (the hottest read) straight from the Registry's
envelope cache, skipping routing, dependency injection and validation: the passport is stored
as bytes and sent as bytes. Anything it does not fully handle falls through to the app, which
also documents the route in OpenAPI.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from capgraph.errors import CapgraphError, PayloadTooLarge, StorageUnavailable
from capgraph.http.caching import CHANGING, etag_matches, etag_of
from capgraph.http.problems import PROBLEM_TYPE, problem_body, send_problem
from capgraph.registry import Registry

__all__ = ["BodyLimit", "ErrorGuard", "PassportFastPath", "base_url_of", "internal_error_body"]

log = logging.getLogger(__name__)

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


async def _send_latest(send: Any, scope: Scope, body: bytes, etag: str) -> None:
    """A latest envelope with its ``ETag`` and ``Cache-Control`` (http/caching.py), or 304."""
    cache = [(b"etag", etag.encode()), (b"cache-control", CHANGING.encode())]
    asked = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                  if k == b"if-none-match"), None)
    if etag_matches(asked, etag):
        await send({"type": "http.response.start", "status": 304, "headers": cache})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *cache]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def internal_error_body(instance: str | None) -> bytes:
    return problem_body(status=500, code="internal-error", title="Internal error",
                        detail="the server failed to handle this request; it has been logged",
                        instance=instance)


class ErrorGuard:
    """An exception escaping the app must not reach the server: uvicorn then closes the
    connection without a word (no ``Connection: close``), and the client's next request on it
    fails. Starlette re-raises after its 500 handler has answered, so an error is swallowed
    here once its answer is complete, and answered here (500 problem+json) when nothing was
    sent yet. Only an answer cut off halfway leaves the connection to be closed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = complete = False

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started, complete
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                complete = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if complete:
                return  # answered and logged by the app's handler
            if started:
                raise  # half an answer: closing the connection is all that is left
            log.exception("unhandled error on %s", scope.get("path"))
            body = internal_error_body(scope.get("path"))
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", PROBLEM_TYPE.encode()),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _read(self, scope: Scope, receive: Any) -> bytes | None:
        """The whole body (None when the client went away); ``PayloadTooLarge`` past the
        limit, declared or sent."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise PayloadTooLarge(self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except CapgraphError as exc:
            await send_problem(send, exc, instance=scope.get("path"))
            return
        if body is None:
            return
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        await self.app(scope, replay, send)


ETAGS_KEPT = 50_000  # slugs whose latest envelope's ETag is remembered (as many as envelopes)


class PassportFastPath:
    def __init__(self, app: Any, *, registry: Registry) -> None:
        self.app = app
        self.registry = registry
        # slug -> (envelope, its ETag): the registry hands out the same bytes object until a
        # write, so the SHA-256 is taken once per envelope, not once per request.
        self._etags: dict[str, tuple[bytes, str]] = {}

    def _etag(self, slug: str, body: bytes) -> str:
        known = self._etags.get(slug)
        if known is not None and known[0] is body:
            return known[1]
        etag = etag_of(body)
        if len(self._etags) >= ETAGS_KEPT:
            self._etags.clear()
        self._etags[slug] = (body, etag)
        return etag

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PASSPORT.match(scope["path"])
            if match:
                try:
                    body = self.registry.envelope_bytes(match.group(1), base_url_of(scope))
                except StorageUnavailable as exc:  # answered now: not a second wait below
                    await send_problem(send, exc, instance=scope.get("path"))
                    return
                except CapgraphError:
                    pass  # not found and friends: the app answers with a problem document
                else:
                    await _send_latest(send, scope, body, self._etag(match.group(1), body))
                    return
        await self.app(scope, receive, send)
