"""Several hosts on one PostgreSQL: `capgraph db migrate`, hosts that refuse an unmigrated
schema, and two `capgraph serve` processes with data dirs of their own (their own search
indexes; the same key ring, copied, as an operator distributes it) that serve each other's
writes on the next request and never collide on version numbers or log indexes.

The hosts are separate processes on 127.0.0.1, not network namespaces. Each test gets a
database of its own on the machine's PostgreSQL (tests/pg.py), dropped after.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.conftest import Server
from tests.integration.conftest import (
    client_for,
    invoke,
    manifest,
    running_server,
    to_yaml,
    write_manifest,
)
from tests.integration.logaudit import audit, checkpoint, verifier_of

YAML = {"content-type": "application/yaml"}


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database, named in CAPGRAPH_DATABASE_URL for every server and CLI
    call of the test (servers inherit the environment)."""
    name, url = pg.fresh_database()
    monkeypatch.setenv("CAPGRAPH_DATABASE_URL", url)
    try:
        yield url
    finally:
        pg.drop_database(name)


def test_migrate_brings_the_schema_up_and_hosts_refuse_it_before(
        database: str, tmp_path: Path) -> None:
    env = {"CAPGRAPH_DATABASE_URL": database}
    refused = invoke(tmp_path, "serve", check=False, env=env)
    assert refused.returncode == 1
    assert "schema version 0" in refused.stderr and "capgraph db migrate" in refused.stderr
    assert "Traceback" not in refused.stderr

    first = invoke(tmp_path, "db", "migrate", env=env)
    assert "applied migrations 1" in first.stdout
    again = invoke(tmp_path, "db", "migrate", env=env)
    assert "up to date (version 1)" in again.stdout
    assert invoke(tmp_path, "keys", "list", env=env).returncode == 0


@pytest.fixture
def hosts(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[Server, Server, str]]:
    """Two hosts with data dirs of their own on one database, and an API key. Like hosts
    behind one load balancer, they share one public URL (the log's origin)."""
    monkeypatch.setenv("CAPGRAPH_PUBLIC_URL", "https://registry.example")
    a, b = tmp_path / "host-a", tmp_path / "host-b"
    invoke(a, "db", "migrate")
    secret = invoke(a, "keys", "create", "--name", "hosts").stdout.strip()
    # The first publish and its served envelope make the signing and log keys; every host
    # then signs with them.
    invoke(a, "publish", str(write_manifest(tmp_path, "first.yml", manifest("first"))))
    invoke(a, "passport", "first")
    assert (a / "keys" / "log.pem").is_file()
    shutil.copytree(a / "keys", b / "keys")
    with running_server(a) as (host_a, _), running_server(b) as (host_b, _):
        assert host_a.data_dir != host_b.data_dir
        yield host_a, host_b, secret


def _publish(client: httpx.Client, secret: str, slug: str, revision: int) -> int:
    response = client.post("/api/v1/artifacts",
                           content=to_yaml(manifest(slug, revision=revision)),
                           headers={**YAML, "authorization": f"Bearer {secret}"})
    assert response.status_code in (200, 201), response.text
    version: int = response.json()["version"]
    return version


def _found(client: httpx.Client, query: str) -> set[str]:
    body = client.get("/api/v1/search", params={"q": query, "limit": 20}).json()
    return {m["artifact"]["slug"] for m in body["matches"]}


def test_a_write_on_one_host_is_read_and_found_on_the_other_at_its_next_request(
        hosts: tuple[Server, Server, str]) -> None:
    host_a, host_b, secret = hosts
    with client_for(host_a.url) as a, client_for(host_b.url) as b:
        assert b.get("/api/v1/passport/over-there").status_code == 404
        assert "over-there" not in _found(b, "postcode lookup")
        assert _publish(a, secret, "over-there", 0) == 1
        # no wait: the 201 came after the commit, and B reads the generation per request
        assert json.loads(b.get("/api/v1/passport/over-there").content)["passport"][
            "version"] == 1
        assert "over-there" in _found(b, "postcode lookup")
        resolved = b.post("/api/v1/resolve", json={"intent": "look up a postcode"}).json()
        assert "over-there" in {r["artifact"]["slug"] for r in resolved["resolved"]}, resolved

        assert _publish(b, secret, "over-there", 1) == 2
        assert json.loads(a.get("/api/v1/passport/over-there").content)["passport"][
            "version"] == 2
        # what one host signed, the other verifies: one key ring
        signed_by_b = b.get("/api/v1/artifacts/over-there/versions/2").content
        assert a.post("/api/v1/verify", content=signed_by_b).json()["valid"] is True
        # one log, signed by one log key: B's checkpoint verifies with A's verifier key
        verifier = verifier_of(a)
        assert checkpoint(a, verifier) == checkpoint(b, verifier)


def test_concurrent_publishes_of_one_slug_through_two_hosts_get_contiguous_versions(
        hosts: tuple[Server, Server, str]) -> None:
    host_a, host_b, secret = hosts
    per_thread, threads = 5, 4
    versions: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def run(t: int) -> None:
        try:
            with client_for((host_a, host_b)[t % 2].url) as client:
                start.wait(timeout=30)
                for i in range(per_thread):
                    v = _publish(client, secret, "contended", 1 + t * per_thread + i)
                    with lock:
                        versions.append(v)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(versions) == list(range(1, threads * per_thread + 1))
    with client_for(host_a.url) as a, client_for(host_b.url) as b:
        for client in (a, b):
            rows = client.get("/api/v1/artifacts/contended/versions").json()["versions"]
            assert [r["version"] for r in rows] == list(range(1, threads * per_thread + 1))
        # the auditor rebuilds the whole log from what each host serves: one log
        verifier = verifier_of(a)
        seen_a, seen_b = audit(a, verifier), audit(b, verifier)
        assert seen_a.head == seen_b.head
        assert seen_a.slugs["contended"] == threads * per_thread
