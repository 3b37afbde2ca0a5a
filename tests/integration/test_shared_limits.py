"""Rate limits shared through Redis (the machine's Redis on 127.0.0.1:6379, under a key prefix
of this test's own, deleted after): two separate `capgraph serve` processes together allow the
configured rate, not twice it; with Redis away each process counts on its own, logs it once,
and no client sees an error."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port
from tests.integration.conftest import client_for, invoke, running_server

REDIS = "redis://127.0.0.1:6379/0"
LIMIT = 20  # a keyed client's requests a minute (start-up health checks are anonymous)


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"capgraph-test-{secrets.token_hex(6)}"
    monkeypatch.setenv("CAPGRAPH_REDIS_PREFIX", name)
    monkeypatch.setenv("CAPGRAPH_RATE_LIMIT_KEY", str(LIMIT))
    yield name
    with redis.Redis.from_url(REDIS) as client:
        for key in client.scan_iter(f"{name}:*"):
            client.delete(key)


def _codes(urls: list[str], secret: str, count: int) -> list[int]:
    codes = []
    for i in range(count):
        with client_for(urls[i % len(urls)]) as client:
            response = client.get("/api/v1/health", headers={"authorization": f"Bearer {secret}"})
        codes.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
    return codes


def test_two_hosts_with_one_redis_allow_the_configured_rate_not_twice_it(
        prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGRAPH_REDIS_URL", REDIS)
    data = tmp_path / "data"
    secret = invoke(data, "keys", "create").stdout.strip()
    with running_server(data) as (a, _), running_server(data) as (b, _):
        codes = _codes([a.url, b.url], secret, 3 * LIMIT)
    allowed = codes.count(200)
    assert set(codes) == {200, 429}
    # one window for both: exactly the limit in the minute (the first one included), where
    # two windows of their own would allow 2 * LIMIT
    assert allowed == LIMIT, codes
    with redis.Redis.from_url(REDIS) as client:
        assert list(client.scan_iter(f"{prefix}:ratelimit:*"))


def test_with_redis_away_each_process_counts_on_its_own_and_says_so(
        prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGRAPH_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody
    data = tmp_path / "data"
    secret = invoke(data, "keys", "create").stdout.strip()
    with running_server(data) as (a, log_a), running_server(data) as (b, _):
        codes = _codes([a.url, b.url], secret, 3 * LIMIT)
    allowed = codes.count(200)
    assert set(codes) == {200, 429}  # no 5xx (client_for refuses them), no error
    # each process its own window of LIMIT: together twice the limit
    assert allowed == 2 * LIMIT, codes
    assert log_a.text.count("Redis is unavailable") == 1, log_a.text
