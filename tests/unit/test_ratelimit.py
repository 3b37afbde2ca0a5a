"""Rate limits (http/ratelimit.py) in-process with a fake clock: per-client sliding windows,
the keyed limit for valid keys only, 429 problem+json with Retry-After, and addresses
forgotten once idle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from capgraph.config import Settings
from capgraph.http.app import create_app
from capgraph.http.ratelimit import IDLE_SECONDS, RateLimit
from capgraph.registry import Registry
from capgraph.storage.memory import MemoryStore
from tests.unit.feedback_kit import make_registry, resolve_entry, tool_manifest

ANON, KEYED = 5, 8


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    store = MemoryStore()
    yield make_registry(store, tmp_path)
    store.close()


@pytest.fixture
def tick() -> Tick:
    return Tick()


@pytest.fixture
def limiter(registry: Registry, tick: Tick) -> RateLimit:
    return RateLimit(_ok, registry=registry, anonymous=ANON, keyed=KEYED, clock=tick)


def call(app: Any, *, path: str = "/api/v1/health", address: str = "10.0.0.1",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request through the ASGI app: (status, headers, body)."""
    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
             "client": (address, 50000), "server": ("registry.test", 80), "scheme": "http",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


def statuses(app: Any, n: int, **kwargs: Any) -> list[int]:
    return [call(app, **kwargs)[0] for _ in range(n)]


def test_the_defaults_are_60_anonymous_and_300_with_a_key() -> None:
    fields = Settings.model_fields
    assert (fields["rate_limit_anonymous"].default, fields["rate_limit_key"].default) == (60, 300)


def test_an_anonymous_client_gets_its_limit_then_429_with_retry_after(limiter: RateLimit,
                                                                      tick: Tick) -> None:
    assert statuses(limiter, ANON) == [200] * ANON
    status, headers, body = call(limiter, path="/api/v1/search")
    assert status == 429
    assert headers["content-type"] == "application/problem+json"
    retry = int(headers["retry-after"])
    assert retry == 60  # all ANON went at once: the first leaves the window a minute later
    problem = json.loads(body)
    assert (problem["status"], problem["code"], problem["retry_after"]) == \
        (429, "rate-limited", retry)
    assert problem["instance"] == "/api/v1/search"
    assert f"retry in {retry} s" in problem["detail"]
    # Not a request earlier than promised, the whole limit again when the time is up.
    tick.now += retry - 1
    assert call(limiter)[0] == 429
    tick.now += 1
    assert statuses(limiter, ANON + 1) == [200] * ANON + [429]


@pytest.mark.parametrize("limit", [ANON, 60])
def test_no_minute_allows_more_than_the_limit_the_first_included(registry: Registry, tick: Tick,
                                                                 limit: int) -> None:
    """A client sending one request a second, after a burst, from its first request on: every
    60-second window holds at most ``limit`` allowed requests (a token bucket allowed 2x)."""
    limiter = RateLimit(_ok, registry=registry, anonymous=limit, keyed=1000, clock=tick)
    allowed: list[float] = []
    for step in range(240):  # a burst of 10 at each second for the first 3 s, then 1 a second
        for _ in range(10 if step < 3 else 1):
            if call(limiter)[0] == 200:
                allowed.append(tick.now)
        tick.now += 1
    first_minute = [t for t in allowed if t < 1000 + 60]
    assert len(first_minute) == limit
    assert max(sum(1 for t in allowed if start <= t < start + 60)
               for start in allowed) == limit
    assert len(allowed) >= 3 * limit  # and the limit is given again every minute


def test_clients_are_limited_separately(limiter: RateLimit) -> None:
    assert statuses(limiter, ANON + 1, address="10.0.0.1")[-1] == 429
    assert statuses(limiter, ANON, address="10.0.0.2") == [200] * ANON


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_a_valid_key_gets_the_keyed_limit_in_a_bucket_of_its_own(
        limiter: RateLimit, registry: Registry, header: str) -> None:
    _, secret = registry.create_api_key("agent")
    headers = {header: secret if header == "x-api-key" else f"Bearer {secret}"}
    assert statuses(limiter, ANON + 1)[-1] == 429  # the address is spent ...
    assert statuses(limiter, KEYED + 1, headers=headers) == [200] * KEYED + [429]  # ... the key
    # The key's bucket follows the key, not the address.
    assert call(limiter, address="10.9.9.9", headers=headers)[0] == 429


@pytest.mark.parametrize("headers", [{"x-api-key": "cg_bogus"},
                                     {"authorization": "Bearer cg_bogus"},
                                     {"authorization": "Basic Zm9vOmJhcg=="}])
def test_a_bogus_key_gets_the_anonymous_limit_of_its_address(limiter: RateLimit,
                                                             headers: dict[str, str]) -> None:
    assert statuses(limiter, ANON + 1, headers=headers) == [200] * ANON + [429]
    assert call(limiter)[0] == 429  # the same bucket as the address without a key


def test_a_revoked_key_falls_back_to_the_anonymous_limit(limiter: RateLimit, registry: Registry,
                                                         tick: Tick) -> None:
    key_id, secret = registry.create_api_key("agent")
    assert call(limiter, headers={"x-api-key": secret})[0] == 200
    registry.revoke_api_key(key_id)
    tick.now += 61  # key checks are cached for a minute
    assert statuses(limiter, ANON + 1, headers={"x-api-key": secret}) == [200] * ANON + [429]


def test_each_of_n_processes_allows_its_share(registry: Registry, tick: Tick) -> None:
    limiter = RateLimit(_ok, registry=registry, anonymous=60, keyed=300, processes=4, clock=tick)
    assert statuses(limiter, 16) == [200] * 15 + [429]
    assert int(call(limiter)[1]["retry-after"]) == 60  # 15 a minute, all spent at once


def test_an_idle_address_is_forgotten(limiter: RateLimit, tick: Tick) -> None:
    call(limiter, address="10.0.0.1")
    call(limiter, address="10.0.0.2")
    tick.now += IDLE_SECONDS / 2
    call(limiter, address="10.0.0.2")
    held = "".join(limiter._buckets)
    assert "10.0.0.1" in held and "10.0.0.2" in held
    tick.now += IDLE_SECONDS / 2 + 1
    call(limiter, address="10.0.0.3")
    held = "".join(limiter._buckets)
    assert "10.0.0.1" not in held and "10.0.0.2" in held
    tick.now += IDLE_SECONDS + 1
    call(limiter, address="10.0.0.3")
    assert list(limiter._buckets) == ["ip:10.0.0.3"]


def test_forgetting_an_idle_address_changes_no_answer(limiter: RateLimit, tick: Tick) -> None:
    assert statuses(limiter, ANON + 1)[-1] == 429
    tick.now += IDLE_SECONDS + 1
    call(limiter, address="10.0.0.2")  # sweeps the first address away
    assert statuses(limiter, ANON + 1) == [200] * ANON + [429]


def test_every_route_of_the_app_shares_the_client_limit(tmp_path: Path) -> None:
    store = MemoryStore()
    registry = make_registry(store, tmp_path)
    registry.publish(tool_manifest("tool-a"))
    ref = resolve_entry(registry)
    settings = Settings(data_dir=tmp_path, rate_limit_anonymous=4, rate_limit_key=1000)
    app = create_app(registry, settings)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            return [
                await c.get("/api/v1/health"),
                await c.get("/api/v1/passport/tool-a"),  # the fast path, before routing
                await c.post("/api/feedback", json={**ref, "outcome": "success"}),
                await c.get("/tool-a"),  # an HTML page
                await c.get("/api/v1/search", params={"q": "alpha"}),
                await c.post("/api/v1/resolve", json={"intent": "do alpha for me"}),
                await c.get("/api/v1/openapi.json"),
            ]

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200, 200, 201, 200, 429, 429, 429]
    for r in responses[4:]:
        assert r.headers["content-type"] == "application/problem+json"
        assert 59 <= int(r.headers["retry-after"]) <= 60  # when the first of 4 leaves
    store.close()
