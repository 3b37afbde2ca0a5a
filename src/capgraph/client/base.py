"""What ``Client`` and ``AsyncClient`` share: the operations with their defaults and
ranges, request building, reading answers and errors. Each subclass only sends a ``Call``
(with retries) in its own way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from capgraph.client.calls import Call
from capgraph.client.retry import Retry
from capgraph.errors import ApiError

__all__ = ["ClientBase", "safe_slug"]


def safe_slug(value: str) -> str:
    return quote(value, safe="")


class ClientBase:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 30.0, retry: Retry | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Retry()
        self._headers = {"Accept": "application/json",
                         "User-Agent": "capgraph-client"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        headers = {"Content-Type": call.content_type} if call.content_type else {}
        return http.build_request(call.method, self.base_url + call.path,
                                  params=dict(call.params), json=call.json,
                                  content=call.content, headers=headers)

    @staticmethod
    def _read(call: Call, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise _error(response)
        return call.read(response.json())


def _error(response: httpx.Response) -> ApiError:
    problem: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, Mapping):
            problem = dict(body)
    except ValueError:
        pass
    detail = problem.get("detail") or response.reason_phrase or "error"
    return ApiError(str(detail), status=response.status_code, problem=problem)

