"""Forwarding headers over real HTTP (a `capgraph serve` subprocess on 127.0.0.1) and through
the app in-process: ``X-Forwarded-For`` / ``Forwarded`` from a peer that is not in
CAPGRAPH_TRUSTED_PROXIES change neither the rate limit nor the per-client feedback cap; from a
trusted peer, each forwarded address is a client of its own."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from capgraph.config import Settings
from capgraph.core.feedback import PER_CLIENT_CAP
from capgraph.http.app import create_app
from capgraph.registry import Registry
from capgraph.storage.sqlite import SQLiteStore
from tests.conftest import Server
from tests.integration.conftest import assert_problem, client_for, invoke, running_server
from tests.unit.feedback_kit import make_registry, tool_manifest

FLOOD = 100


@contextmanager
def serving(data_dir: Path, **env: str) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAPGRAPH_EMBEDDER", "none")
        mp.setenv("CAPGRAPH_PUBLIC_URL", "http://registry.test")
        for name, value in env.items():
            mp.setenv(f"CAPGRAPH_{name.upper()}", value)
        with running_server(data_dir) as (srv, _):
            yield srv


def spoofed(n: int) -> dict[str, str]:
    """A different made-up client for every n, in either header."""
    address = f"198.18.{n // 250}.{n % 250 + 1}"
    return {"x-forwarded-for": address} if n % 2 else {"forwarded": f'for="{address}:1"'}


def assert_rate_limited(response: httpx.Response, limit: int) -> None:
    problem = assert_problem(response, 429, "rate-limited")
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= 60  # when the oldest request of the client's minute leaves it
    assert problem["retry_after"] == retry


def test_spoofed_headers_from_an_untrusted_peer_change_no_limit(tmp_path: Path) -> None:
    limit = 10
    data_dir = tmp_path / "data"
    secret = invoke(data_dir, "keys", "create", "--name", "proxies").stdout.strip()
    started = time.monotonic()  # before the start-up probe: the bucket is full until then
    # CAPGRAPH_TRUSTED_PROXIES is unset: not even 127.0.0.1 is trusted.
    with serving(data_dir, rate_limit_anonymous=str(limit)) as server, \
            client_for(server.url) as http:
        keyed = {"authorization": f"Bearer {secret}"}  # the keyed bucket: not the address's
        response = http.post("/api/v1/artifacts", content=tool_manifest("tool-a"),
                             headers={**keyed, "content-type": "application/yaml"})
        assert response.status_code == 201, response.text
        # Feedback: every report claims another address; one client, one cap. (The start-up
        # probe and these reports spend 1 + 2 * PER_CLIENT_CAP of the address's requests.)
        codes = []
        for n in range(2 * PER_CLIENT_CAP):
            answer = http.post("/api/v1/resolve", json={"intent": "do alpha for me"},
                               headers=keyed).json()
            entry = answer["resolved"][0]
            codes.append(http.post("/api/feedback", headers=spoofed(n), json={
                "resolveId": answer["resolveId"], "slug": entry["artifact"]["slug"],
                "callbackToken": entry["callbackToken"], "outcome": "success"}).status_code)
        assert codes == [201] * PER_CLIENT_CAP + [202] * PER_CLIENT_CAP
        # The rate limit: FLOOD requests with as many distinct addresses share one bucket.
        responses = [http.get("/api/v1/health", headers=spoofed(1000 + n))
                     for n in range(FLOOD)]
        elapsed = time.monotonic() - started
    passed = [r.status_code for r in responses].count(200)
    # At most what the probe and the reports left of the bucket, plus what has refilled.
    assert passed <= limit - 1 - 2 * PER_CLIENT_CAP + math.ceil(elapsed * limit / 60)
    refused = [r for r in responses if r.status_code != 200]
    assert len(refused) == FLOOD - passed
    for response in refused:
        assert_rate_limited(response, limit)


def test_a_trusted_proxy_gives_each_forwarded_address_its_own_bucket(tmp_path: Path) -> None:
    limit = 3
    with serving(tmp_path / "data", rate_limit_anonymous=str(limit),
                 trusted_proxies="127.0.0.1") as server, client_for(server.url) as http:

        def codes(headers: dict[str, str], n: int = limit + 1) -> list[int]:
            out = []
            for _ in range(n):
                response = http.get("/api/v1/health", headers=headers)
                if response.status_code == 429:
                    assert_rate_limited(response, limit)
                out.append(response.status_code)
            return out

        spent = [200] * limit + [429]
        assert codes({"x-forwarded-for": "198.51.100.1"}) == spent
        assert codes({"forwarded": "for=198.51.100.2;proto=https"}) == spent
        assert codes({"forwarded": 'for="[2001:db8::2]:4711"'}) == spent
        # What a client writes to the left of the proxy's entry is its own: ignored.
        assert codes({"x-forwarded-for": "6.6.6.6, 198.51.100.3"}, limit) == [200] * limit
        assert codes({"x-forwarded-for": "7.7.7.7, 198.51.100.3"}, 1) == [429]
        assert codes({"forwarded": "for=198.51.100.3"}, 1) == [429]
        # No header, or one that does not parse: the peer (the probe spent one of its own).
        assert codes({"x-forwarded-for": "unknown"}, 1) == [200]
        assert codes({"forwarded": 'for="198.51.100.4'}, 1) == [200]
        assert codes({}, 1) == [429]


# The feedback cap in-process: the ASGI client address is the TCP peer.


def _report_codes(app: Any, peer: str, headers: list[dict[str, str]], registry: Registry
                  ) -> list[int]:
    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        out = []
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            for extra in headers:
                answer = (await c.post("/api/v1/resolve", json={"intent": "do alpha for me"},
                                       headers=extra)).json()
                entry = answer["resolved"][0]
                response = await c.post("/api/feedback", headers=extra, json={
                    "resolveId": answer["resolveId"], "slug": entry["artifact"]["slug"],
                    "callbackToken": entry["callbackToken"], "outcome": "success"})
                out.append(response.status_code)
        return out

    return asyncio.run(run())


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    store = SQLiteStore(tmp_path / "cg.db")
    registry = make_registry(store, tmp_path)
    registry.publish(tool_manifest("tool-a"))
    yield registry
    store.close()


def counted_clients(tmp_path: Path) -> list[str]:
    """The client ids of the counted reports, as stored."""
    db = sqlite3.connect(f"file:{tmp_path / 'cg.db'}?mode=ro", uri=True)
    try:
        return sorted(c for (c,) in db.execute("SELECT client FROM feedback WHERE counted = 1"))
    finally:
        db.close()


def test_spoofed_headers_from_an_untrusted_peer_count_one_client(registry: Registry,
                                                                  tmp_path: Path) -> None:
    app = create_app(registry, Settings(data_dir=tmp_path, trusted_proxies="10.0.0.1"))
    headers = [spoofed(n) for n in range(2 * PER_CLIENT_CAP)]
    assert _report_codes(app, "192.0.2.50", headers, registry) == \
        [201] * PER_CLIENT_CAP + [202] * PER_CLIENT_CAP
    assert counted_clients(tmp_path) == [registry.client_id("192.0.2.50")] * PER_CLIENT_CAP


def test_a_trusted_proxy_forwards_one_cap_per_forwarded_address(registry: Registry,
                                                                 tmp_path: Path) -> None:
    app = create_app(registry, Settings(data_dir=tmp_path, trusted_proxies="127.0.0.1"))
    distinct = [{"x-forwarded-for": f"198.51.100.{n}"} for n in range(1, 5)]
    assert _report_codes(app, "127.0.0.1", distinct, registry) == [201] * 4
    # One client behind the proxy, spoofing entries to the left of the proxy's: one cap.
    chained = [{"x-forwarded-for": f"6.6.6.{n}, 203.0.113.9"} for n in range(5)]
    assert _report_codes(app, "127.0.0.1", chained, registry) == \
        [201] * PER_CLIENT_CAP + [202] * 2
    assert counted_clients(tmp_path) == sorted(
        [registry.client_id(f"198.51.100.{n}") for n in range(1, 5)]
        + [registry.client_id("203.0.113.9")] * PER_CLIENT_CAP)
