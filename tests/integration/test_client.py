"""capgraph.client against real servers on 127.0.0.1: the retry policy against a small HTTP
server that answers 429 then 200, and every operation against a real `capgraph serve`,
synchronous and asynchronous, with offline verification (first use, then consistency)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from capgraph.client import ApiError, AsyncClient, Client, Retry
from capgraph.errors import LogInconsistent, SignatureInvalid
from tests.conftest import Server
from tests.integration.conftest import invoke, manifest, running_server, to_yaml

INTENT = "extract tables from scanned invoices"


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers) and logs it."""

    script: list[tuple[int, dict[str, str]]]
    seen: list[str]

    def do_GET(self) -> None:
        status, headers = self.script.pop(0) if self.script else (500, {})
        self.seen.append(f"GET {self.path} -> {status}")
        body = json.dumps({"query": "q", "intent": None, "matches": []} if status == 200 else
                          {"status": status, "code": "rate-limited", "title": "Too many",
                           "detail": "slow down"}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {"script": [], "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def test_a_429_is_retried_after_its_retry_after(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script += [(429, {"Retry-After": "1"}), (503, {}), (200, {})]
    def sleep(seconds: float) -> None:
        handler.seen.append(f"wait {seconds}")

    with Client(url, retry=Retry(attempts=3, backoff=0.25), sleep=sleep) as client:
        assert client.search("anything").matches == []
    assert handler.seen == ["GET /api/v1/search?q=anything&limit=5 -> 429", "wait 1.0",
                            "GET /api/v1/search?q=anything&limit=5 -> 503", "wait 0.5",
                            "GET /api/v1/search?q=anything&limit=5 -> 200"]


def test_retries_are_bounded_and_a_long_retry_after_is_not_waited(
        scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script += [(429, {"Retry-After": "0"})] * 3 + [(429, {"Retry-After": "3600"})]
    with Client(url, retry=Retry(attempts=2), sleep=lambda s: None) as client:
        with pytest.raises(ApiError) as first:
            client.search("anything")
        assert (first.value.status, first.value.code) == (429, "rate-limited")
        assert len(handler.seen) == 2
        handler.script[:] = [(429, {"Retry-After": "3600"})]
        with pytest.raises(ApiError):
            client.search("anything")
    assert len(handler.seen) == 3  # a wait past max_wait is not retried


def test_the_async_client_retries_the_same_way(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script += [(429, {"Retry-After": "1"}), (200, {})]

    async def sleep(seconds: float) -> None:
        handler.seen.append(f"wait {seconds}")

    async def main() -> None:
        async with AsyncClient(url, sleep=sleep) as client:
            assert (await client.search("x y")).matches == []

    anyio.run(main)
    assert [line.split(" -> ")[-1] for line in handler.seen] == ["429", "wait 1.0", "200"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("client-data")
    invoke(folder, "demo")
    with running_server(folder) as (srv, _):
        yield srv


def test_resolve_use_report_and_the_typed_results(server: Server) -> None:
    with Client(server.url) as client:
        resolution = client.resolve(INTENT, risk="default", limit=2)
        answer = resolution.best
        assert answer is not None and answer.slug == "docling"
        assert answer.invocation and answer.callback_token
        before = client.passport("docling").version
        done = client.report(resolution, answer, "success", comment="tables came out right")
        assert (done.counted, done.slug, done.passport_version) == (True, "docling", before + 1)
        with pytest.raises(ApiError) as replay:
            client.report(resolution, answer, "success")
        assert (replay.value.status, replay.value.code) == (409, "conflict")
        versions = client.versions("docling")
        assert [v.version for v in versions] == list(range(1, before + 2))
        found = client.search("speech to text", limit=3)
        assert 1 <= len(found.matches) <= 3 and found.matches[0].unfragile_rank >= 0
        with pytest.raises(ApiError) as missing:
            client.passport("no-such-thing")
        assert (missing.value.status, missing.value.code) == (404, "not-found")


def test_validate_publish_and_claims_with_a_key(server: Server) -> None:
    key = invoke(server.data_dir, "keys", "create", "--name", "client").stdout.strip()
    text = to_yaml(manifest("client-widget"))
    with Client(server.url) as anonymous:
        assert anonymous.validate(text).valid is True
        bad = anonymous.validate("unfragile_version: '1.0'\nartifact: {}\n")
        assert bad.valid is False and bad.errors
        with pytest.raises(ApiError) as refused:
            anonymous.publish(text)
        assert refused.value.code == "unauthorized"
    with Client(server.url, api_key=key) as client:
        published = client.publish(text)
        assert (published.slug, published.version, published.created) == ("client-widget", 1,
                                                                           True)
        assert client.publish(manifest("client-widget")).created is False
        started = client.start_claim("client-widget", "http")
        assert started.status == "pending" and started.token and started.instructions
        assert client.claim(started.claim_id).claim_id == started.claim_id


def test_verify_pins_the_key_set_trusts_the_first_checkpoint_then_checks_consistency(
        server: Server, tmp_path: Path) -> None:
    saved = tmp_path / "checkpoint.json"
    key = invoke(server.data_dir, "keys", "create", "--name", "verify").stdout.strip()
    with Client(server.url, api_key=key) as client:
        jwks = client.jwks()
        old = client.passport("paddleocr")
        first = client.verify(old, jwks=jwks, checkpoint=saved)
        assert first.first_use is True and first.slug == "paddleocr"
        size = json.loads(saved.read_text())["size"]
        client.publish(manifest("client-grows-the-log"))
        newer = client.verify(client.passport("client-grows-the-log"), jwks=jwks,
                              checkpoint=saved)
        assert newer.first_use is False and newer.checkpoint.size > size
        assert json.loads(saved.read_text())["size"] == newer.checkpoint.size
        again = client.verify(old, jwks=jwks, checkpoint=saved)  # older checkpoint: a prefix
        assert again.first_use is False
        assert json.loads(saved.read_text())["size"] == newer.checkpoint.size
        changed = json.loads(json.dumps(old.envelope))
        changed["passport"]["unfragile"]["artifact"]["name"] = "Someone Else"
        with pytest.raises(SignatureInvalid):
            client.verify(changed, jwks=jwks, checkpoint=saved)
        forked = json.loads(saved.read_text())
        forked["root"] = "A" * 43 + "="
        saved.write_text(json.dumps(forked))
        with pytest.raises(LogInconsistent):
            client.verify(old, jwks=jwks, checkpoint=saved)
        assert json.loads(saved.read_text()) == forked  # left as it was


def test_the_async_client_resolves_and_reports(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url) as client:
            resolution = await client.resolve(INTENT)
            assert resolution.best is not None
            done = await client.report(resolution, resolution.best, "failure")
            assert done.outcome == "failure"
            envelope = await client.passport(resolution.best.slug)
            assert envelope.slug == resolution.best.slug

    anyio.run(main)
