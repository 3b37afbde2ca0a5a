"""Several server processes on one data dir: a write through one is what the others serve.

One server runs two uvicorn workers (the settings reach them through the environment), the
other is a separate `capgraph serve`; all three processes share one SQLite file and key ring.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server
from tests.integration.conftest import client_for, invoke, manifest, running_server, to_yaml

YAML = {"content-type": "application/yaml"}
FRESH = 12  # new connections per check: spread over both workers of the two-worker server


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, str]]:
    """(two-worker server, single server) on the same data dir, and an API key."""
    data = tmp_path_factory.mktemp("shared-data")
    secret = invoke(data, "keys", "create").stdout.strip()
    with running_server(data, workers=2) as (multi, _), running_server(data) as (single, _):
        yield multi, single, secret


def _publish(client: httpx.Client, secret: str, slug: str, revision: int) -> int:
    response = client.post("/api/v1/artifacts",
                           content=to_yaml(manifest(slug, revision=revision)),
                           headers={**YAML, "authorization": f"Bearer {secret}"})
    assert response.status_code in (200, 201), response.text
    version: int = response.json()["version"]
    return version


def _served_versions(server: Server, slug: str, connections: int = FRESH) -> set[int]:
    """The passport version each of several fresh connections is served."""
    seen = set()
    for _ in range(connections):
        with client_for(server.url) as fresh:
            response = fresh.get(f"/api/v1/passport/{slug}")
            assert response.status_code == 200, response.text
            seen.add(json.loads(response.content)["passport"]["version"])
    return seen


def test_a_publish_through_one_server_is_served_by_the_other(
    pair: tuple[Server, Server, str]
) -> None:
    multi, single, secret = pair
    assert multi.url != single.url
    with client_for(multi.url) as a, client_for(single.url) as b:
        assert b.get("/api/v1/passport/shared").status_code == 404
        assert _publish(a, secret, "shared", 0) == 1
        assert _served_versions(single, "shared", 1) == {1}  # no wait: committed before the 201

        # Every process now holds version 1 in its envelope cache; a write through the single
        # server must reach both workers of the other.
        assert _served_versions(multi, "shared") == {1}
        assert _publish(b, secret, "shared", 1) == 2
        assert _served_versions(multi, "shared") == {2}
        assert _served_versions(single, "shared", 1) == {2}

        for client in (a, b):
            envelope = client.get("/api/v1/passport/shared").json()
            assert envelope["_links"]["self"].startswith(str(client.base_url).rstrip("/"))
            assert client.get("/api/v1/verify", params={"slug": "shared"}).json()["valid"]
        # Each verifies what the other signed: one key ring, shared.
        signed_by_a = a.get("/api/v1/artifacts/shared/versions/1").content
        assert b.post("/api/v1/verify", content=signed_by_a).json()["valid"] is True
        assert a.get("/api/v1/trust-passport-public-key").json() == \
            b.get("/api/v1/trust-passport-public-key").json()


def test_interleaved_publishes_never_collide(pair: tuple[Server, Server, str]) -> None:
    multi, single, secret = pair
    with client_for(multi.url) as a, client_for(single.url) as b:
        versions = [_publish((a, b)[i % 2], secret, "interleaved", i) for i in range(6)]
        assert versions == [1, 2, 3, 4, 5, 6]

        def history(client: httpx.Client) -> list[dict[str, object]]:
            rows = client.get("/api/v1/artifacts/interleaved/versions").json()["versions"]
            return [{k: v for k, v in row.items() if k != "url"} for row in rows]  # own base URL

        assert [row["version"] for row in history(a)] == versions
        assert history(a) == history(b)


def test_a_cli_publish_reaches_every_process_at_once(
    pair: tuple[Server, Server, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    multi, single, _ = pair
    path = tmp_path_factory.mktemp("cli") / "m.yml"
    for revision, expected in ((0, 1), (3, 2)):
        path.write_text(to_yaml(manifest("from-cli", revision=revision)))
        invoke(multi.data_dir, "publish", str(path))
        assert _served_versions(multi, "from-cli") == {expected}
        assert _served_versions(single, "from-cli", 1) == {expected}


def test_two_workers_together_allow_about_the_configured_rate(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of N processes allows 1/N of a client's limit, so whichever way the kernel
    spreads connections, the service allows at most the limit (plus what refills meanwhile)
    and at least one process's share; the rest get 429 with Retry-After."""
    data = tmp_path_factory.mktemp("limited")
    secret = invoke(data, "keys", "create").stdout.strip()
    limit = 20  # a keyed client: the health checks of start-up use the anonymous bucket
    monkeypatch.setenv("CAPGRAPH_RATE_LIMIT_KEY", str(limit))
    with running_server(data, workers=2) as (server, _):
        codes, retry_after = [], []
        for _ in range(60):
            with client_for(server.url) as fresh:  # new connections reach both workers
                response = fresh.get("/api/v1/health",
                                     headers={"authorization": f"Bearer {secret}"})
            codes.append(response.status_code)
            if response.status_code == 429:
                retry_after.append(int(response.headers["retry-after"]))
    allowed = codes.count(200)
    assert set(codes) == {200, 429}
    # one worker's share (10) at least; both shares (20) and ~1 refilled token at most
    assert limit // 2 <= allowed <= limit + 2, codes
    assert retry_after and all(r >= 1 for r in retry_after)
