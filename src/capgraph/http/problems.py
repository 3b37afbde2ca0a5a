"""RFC 9457 problem documents: the one place capgraph errors become HTTP responses."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from typing import Any

from capgraph.errors import (
    BadRequest,
    CapgraphError,
    ClaimExpired,
    ClaimFailed,
    Conflict,
    EmbedderUnavailable,
    HeadersTooLarge,
    ImportRefused,
    InvalidManifest,
    InvalidPassport,
    LogInconsistent,
    NotFound,
    NotOwner,
    ParseError,
    PayloadTooLarge,
    ProofInvalid,
    RateLimited,
    SelfServiceDisabled,
    SignatureInvalid,
    StorageError,
    StorageUnavailable,
    TokenInvalid,
    Unauthorized,
    UnknownKey,
)

__all__ = ["PROBLEM_TYPE", "headers_for", "problem_body", "problem_for", "send_problem",
           "status_for"]

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"

_STATUS: list[tuple[type[CapgraphError], int]] = [
    (ParseError, 400),
    (BadRequest, 400),
    (Unauthorized, 401),
    (NotOwner, 403),
    (SelfServiceDisabled, 403),
    (ClaimExpired, 410),
    (ClaimFailed, 422),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (HeadersTooLarge, 431),
    (InvalidManifest, 422),
    (InvalidPassport, 422),
    (ImportRefused, 422),
    (SignatureInvalid, 422),
    (TokenInvalid, 403),
    (RateLimited, 429),
    (UnknownKey, 422),
    (ProofInvalid, 422),
    (LogInconsistent, 409),
    (StorageError, 503),
    (EmbedderUnavailable, 503),
]


def status_for(error: CapgraphError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def problem_body(
    *, status: int, code: str, title: str, detail: str, instance: str | None = None,
    **extra: Any,
) -> bytes:
    doc: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        doc["instance"] = instance
    doc.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps(doc, ensure_ascii=False).encode()


def problem_for(error: CapgraphError, *, instance: str | None = None) -> tuple[int, bytes]:
    """Status and body for a capgraph error; extra payload (positions, findings) included."""
    status = status_for(error)
    extra: dict[str, Any] = {}
    if isinstance(error, ParseError):
        extra = {"line": error.line, "column": error.column}
    elif isinstance(error, InvalidManifest):
        extra = {
            "errors": [f.to_json() for f in error.findings if f.severity == "error"],
            "warnings": [f.to_json() for f in error.findings if f.severity == "warning"],
        }
    elif isinstance(error, SignatureInvalid):
        extra = {"reasons": error.reasons}
    elif isinstance(error, ClaimFailed):
        extra = {"lookedUp": error.looked_up, "found": error.found}
    elif isinstance(error, RateLimited | StorageUnavailable):
        extra = {"retry_after": error.retry_after}
    elif isinstance(error, ImportRefused):
        extra = {"entries": error.entries}
    return status, problem_body(
        status=status, code=error.code, title=error.title, detail=error.message,
        instance=instance, **extra,
    )


def headers_for(error: CapgraphError) -> dict[str, str]:
    """Headers an error's answer carries besides its body."""
    if isinstance(error, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, RateLimited | StorageUnavailable):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, PayloadTooLarge | HeadersTooLarge):  # the rest is not read
        return {"Connection": "close"}
    return {}


def wants_html(scope: Mapping[str, Any]) -> bool:
    """A browser asking for a page (not the API): ``Accept`` names text/html."""
    if str(scope.get("path", "")).startswith("/api/"):
        return False
    accept = b",".join(v for k, v in scope.get("headers", []) if k == b"accept")
    return b"text/html" in accept


def problem_page(status: int, error: CapgraphError) -> bytes:
    """A short HTML page for people whose browser hit an error in front of the pages."""
    title, detail = html.escape(error.title), html.escape(error.message)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}"
            f"</title></head><body><main><h1>{title}</h1><p>{detail}</p><p><a href=\"/\">"
            f"capgraph home</a> · status {status}</p></main></body></html>").encode()


async def send_problem(send: Any, error: CapgraphError, *, instance: str | None,
                       page: bool = False) -> None:
    """Answer an ASGI request with the problem document of ``error`` (for the layers in
    front of the app, which raise errors like the routes do); ``page``: as an HTML page."""
    status, body = problem_for(error, instance=instance)
    media = PROBLEM_TYPE
    if page:
        body, media = problem_page(status, error), "text/html; charset=utf-8"
    headers = [(b"content-type", media.encode()),
               (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in headers_for(error).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
