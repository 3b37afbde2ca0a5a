"""Helpers for the integration suite, shared by its modules.

- ``server`` (overrides the shared fixture) and ``running_server``: a real `capgraph serve`
  whose stderr is drained on a thread and closed afterwards; its log stays readable.
- ``client_for`` / ``http`` (real sockets) and ``in_process`` / ``InProcess`` (ASGI, no port):
  clients that refuse any 5xx answer and any traceback in a body.
- ``invoke``: the CLI in-process through click's runner; ``run_cli`` stays for real processes.
- ``manifest``: a manifest with no findings at all; ``assert_problem``: RFC 9457 checks.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from capgraph.bootstrap import build_registry
from capgraph.cli.main import cli as capgraph_cli
from capgraph.config import Settings
from capgraph.http.app import create_app
from capgraph.registry import Registry
from tests.conftest import Server, start_server, stop_server

PROBLEM_TYPE = "application/problem+json"
# Every `code` an error answer may carry: clients switch on these, so they are pinned here.
KNOWN_CODES = {
    "bad-request", "parse-error", "unauthorized", "not-found", "method-not-allowed", "conflict",
    "payload-too-large", "invalid-manifest", "invalid-passport", "signature-invalid",
    "unknown-key", "http-error", "token-invalid", "rate-limited", "storage-error",
    "embedder-unavailable", "proof-invalid", "log-inconsistent", "not-owner",
    "self-service-disabled", "claim-failed", "claim-expired", "import-refused",
    "storage-unavailable",
    "schema-out-of-date",
    "headers-too-large",
}  # fmt: skip

_DESCRIPTION = (
    "Reads the request over HTTPS, looks the {what} up in a local SQLite index built at install "
    "time, and returns a JSON document; nothing is written and no third-party service is called."
)

_BASE: dict[str, Any] = {
    "unfragile_version": "1.0",
    "artifact": {
        "name": "Integration Widget",
        "slug": "integration-widget",
        "type": "api",
        "maintainer": "capgraph tests",
        "repository": "https://github.com/example/integration-widget",
        "homepage": "https://widget.example.org",
        "license": "MIT",
        "updated_at": "2026-10-01",
    },
    "capabilities": [
        {
            "id": f"cap-{what}",
            "name": f"{what} lookup",
            "description": _DESCRIPTION.format(what=what),
            "intents_served": [f"look up a {what}", f"find the {what} for an address"],
            "conditions": {
                "bestFor": [f"quick {what} checks"],
                "limitations": [f"the {what} index is refreshed weekly"],
                "requires": ["network"],
            },
            "categories": ["search-retrieval"],
            "input_types": ["text"],
            "output_types": ["JSON"],
        }
        for what in ("postcode", "timezone", "currency")
    ],
    "pricing": {"model": "free"},
    "failure_modes": [
        {"mode": "stale index", "frequency": "rare", "mitigation": "re-run the installer"},
    ],
    "execution": {"protocol": "https", "auth_method": "none",
                  "endpoint": "https://widget.example.org/v1"},
}


def manifest(slug: str = "integration-widget", *, revision: int = 0) -> dict[str, Any]:
    """A manifest that validates with no findings at all; ``revision`` changes its content."""
    data = copy.deepcopy(_BASE)
    data["artifact"]["slug"] = slug
    data["artifact"]["name"] = f"Widget {slug}"
    if revision:
        data["capabilities"][0]["description"] += f" Revision {revision} of this text."
    return data


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_manifest(folder: Path, name: str, data: Any, *, as_json: bool = False) -> Path:
    path = folder / name
    path.write_text(json.dumps(data, indent=2) if as_json else to_yaml(data), encoding="utf-8")
    return path


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def invoke(data_dir: Path, *args: str, check: bool = True, input: str | None = None,
           env: dict[str, str] | None = None) -> CliResult:
    """The CLI in-process through click's runner (subprocesses cost a second each under load).
    Exceptions are not caught: a traceback fails the test."""
    result = CliRunner().invoke(
        capgraph_cli, list(args), input=input, catch_exceptions=False,
        env={"CAPGRAPH_DATA_DIR": str(data_dir), **(env or {})},
    )
    out = CliResult(result.exit_code, result.stdout, result.stderr)
    if check:
        assert out.returncode == 0, out
    return out


def assert_problem(response: httpx.Response, status: int, code: str | None = None
                   ) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status and a stable, known ``code``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_TYPE, \
        response.headers["content-type"]
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] in KNOWN_CODES, body
    assert body["type"].endswith(body["code"])
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    if code is not None:
        assert body["code"] == code, body
    return body


def _refuse_server_errors(response: httpx.Response) -> None:
    response.read()
    assert response.status_code < 500, (response.request.url, response.text[:2000])
    assert "Traceback" not in response.text, response.text[:2000]


def client_for(url: str) -> httpx.Client:
    """A client whose every response is checked: never a 5xx, never a traceback."""
    return httpx.Client(base_url=url, timeout=30,
                        event_hooks={"response": [_refuse_server_errors]})


class ServerLog:
    """Drains a server's stderr on a thread (a full pipe would stall the server) and keeps it."""

    def __init__(self, server: Server) -> None:
        self._stream = server.process.stderr
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self._stream is not None
        for line in iter(self._stream.readline, b""):
            self._chunks.append(line)

    def close(self) -> None:
        self._thread.join(timeout=15)
        if self._stream is not None:
            self._stream.close()

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")


class InProcess:
    """A synchronous client for the ASGI app in this process (httpx.ASGITransport, no port).
    Like ``client_for``, it refuses 5xx answers and tracebacks."""

    def __init__(self, app: Any, base_url: str = "http://registry.test") -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.loop.run_until_complete(self.client.request(method, path, **kwargs))
        _refuse_server_errors(response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@contextmanager
def in_process(data_dir: Path) -> Iterator[tuple[InProcess, Registry]]:
    """The real app factory over a data dir's SQLite store and key ring, without a server."""
    config = Settings(data_dir=data_dir)
    registry = build_registry(config)
    client = InProcess(create_app(registry, config))
    try:
        yield client, registry
    finally:
        client.close()
        registry.store.close()


@contextmanager
def running_server(data_dir: Path, *extra: str, workers: int = 1
                   ) -> Iterator[tuple[Server, ServerLog]]:
    """``start_server`` and ``stop_server``, plus the log, and the stderr pipe closed after
    (the shared ``stop_server`` leaves it open, which is a ResourceWarning, hence an error)."""
    srv = start_server(data_dir, *extra, workers=workers)
    log = ServerLog(srv)
    try:
        yield srv, log
    finally:
        stop_server(srv)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Overrides the shared fixture: the same real server, with its stderr pipe drained and
    closed."""
    with running_server(tmp_path_factory.mktemp("server-data")) as (srv, _):
        yield srv


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with client_for(server.url) as client:
        yield client


@pytest.fixture(scope="module")
def api_key(server: Server) -> str:
    """A fresh API key made by ``capgraph keys create`` on the server's data dir."""
    secret = invoke(server.data_dir, "keys", "create", "--name", "integration").stdout.strip()
    assert secret and "\n" not in secret
    return secret
