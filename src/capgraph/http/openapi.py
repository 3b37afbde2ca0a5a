"""The OpenAPI document: FastAPI's, completed so that it describes what the server answers.

FastAPI lists only the success answer and a 422 with its own error shape, which this server
never sends (bad parameters are 400 problem+json, http/app.py). Every operation here also
declares the problem documents its layers can answer with: 400 bad input, 404, 429 (every
route is rate limited), 431 (request head too large), 500 and 503; operations with a body add
413 and 422 and, as writes, 401/403/409/410. Success answers carry their real media types and
statuses (the JWK Set is ``application/jwk-set+json``; publish answers 201 or 200; a report
201 or 202). ``make fuzz`` checks the result with schemathesis (BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from capgraph.http.openapi_examples import request_examples, success_answers
from capgraph.http.problems import PROBLEM_TYPE

__all__ = ["install_openapi"]

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "code": {"type": "string"}, "instance": {"type": "string"},
    },
}
_WHY = {
    400: "Bad input: a parameter or body that cannot be used",
    401: "An API key is required and was missing or invalid",
    403: "Not allowed (not an owner, a refused callback token, self-service disabled)",
    404: "Not found",
    409: "Conflict with what is stored",
    410: "The claim has expired",
    413: "The request body is larger than the limit",
    422: "Understood but refused (an invalid manifest, passport or proof)",
    429: "Rate limited: retry after Retry-After seconds",
    431: "The request line and headers are larger than the limit",
    500: "An unexpected error (logged)",
    503: "Storage or the embedding model is unavailable",
}
_EVERY = (400, 404, 409, 422, 429, 431, 500, 503)
_WITH_BODY = (401, 403, 410, 413)
# Success answers FastAPI cannot see (routes return a Response with their own status/type).
_SUCCESS: dict[tuple[str, str], dict[int, str]] = {
    ("post", "/api/v1/artifacts"): {200: "application/json", 201: "application/json"},
    ("post", "/api/v1/import"): {200: "application/json", 201: "application/json"},
    ("post", "/api/feedback"): {201: "application/json", 202: "application/json"},
    ("post", "/api/v1/resolve"): {200: "application/json"},
    ("get", "/api/v1/trust-passport-public-key"): {200: "application/jwk-set+json"},
}


def _problem(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": _WHY[status],
                              "content": {PROBLEM_TYPE: {"schema": _PROBLEM_SCHEMA}}}
    if status == 429:
        answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return answer


def _with_examples(operation: dict[str, Any], requests: dict[str, Any],
                   answers: dict[int, Any]) -> None:
    """Request-body examples and documented success answers (http/openapi_examples.py)."""
    for media, examples in requests.items():
        operation["requestBody"]["content"][media]["examples"] = examples
    for status, answer in answers.items():
        operation["responses"][str(status)] = {
            "description": answer["description"],
            "content": {"application/json": {"schema": answer["schema"],
                                             "example": answer["example"]}},
        }


def complete(document: dict[str, Any]) -> dict[str, Any]:
    requests, answers = request_examples(), success_answers()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's HTTPValidationError: never sent
            success = _SUCCESS.get((method, path))
            if success:
                for code in list(responses):
                    if code.startswith("2"):
                        del responses[code]
                for status, media in success.items():
                    responses[str(status)] = {"description": "Success",
                                              "content": {media: {"schema": {}}}}
            _with_examples(operation, requests.get((method, path), {}),
                           answers.get((method, path), {}))
            statuses = _EVERY + (_WITH_BODY if method != "get" else ())
            for status in statuses:
                responses.setdefault(str(status), _problem(status))
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at the app's ``openapi_url`` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
