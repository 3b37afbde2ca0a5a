"""RFC 9457 problem documents: the one place capgraph errors become HTTP responses."""

from __future__ import annotations

import json
import logging
from typing import Any

from capgraph.core.callback import TokenInvalid
from capgraph.errors import (
    BadRequest,
    CapgraphError,
    Conflict,
    InvalidManifest,
    InvalidPassport,
    NotFound,
    ParseError,
    PayloadTooLarge,
    RateLimited,
    SignatureInvalid,
    Unauthorized,
    UnknownKey,
)
from capgraph.storage.sqlite import StorageError

__all__ = ["PROBLEM_TYPE", "problem_body", "problem_for", "status_for"]

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"

_STATUS: list[tuple[type[CapgraphError], int]] = [
    (ParseError, 400),
    (BadRequest, 400),
    (Unauthorized, 401),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (InvalidManifest, 422),
    (InvalidPassport, 422),
    (SignatureInvalid, 422),
    (TokenInvalid, 403),
    (RateLimited, 429),
    (UnknownKey, 422),
    (StorageError, 503),
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
    return status, problem_body(
        status=status, code=error.code, title=error.title, detail=error.message,
        instance=instance, **extra,
    )
