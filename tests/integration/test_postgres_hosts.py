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
import psycopg
import pytest

from capgraph.core.feedback import PER_CLIENT_CAP
from capgraph.storage.postgres_schema import LATEST
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
    assert f"applied migrations {', '.join(map(str, range(1, LATEST + 1)))};" in first.stdout
    again = invoke(tmp_path, "db", "migrate", env=env)
    assert f"up to date (version {LATEST})" in again.stdout
    assert invoke(tmp_path, "keys", "list", env=env).returncode == 0


def test_a_database_of_schema_1_is_refused_until_migrate_adds_the_client_salts(
        database: str, tmp_path: Path) -> None:
    invoke(tmp_path, "db", "migrate")
    secret = invoke(tmp_path, "keys", "create", "--name", "older").stdout.strip()
    with psycopg.connect(database, autocommit=True) as conn:  # as schema 1 left it
        conn.execute("DROP TABLE client_salts")
        conn.execute("UPDATE schema_version SET version = 1")
    refused = invoke(tmp_path, "serve", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"schema version 1, this capgraph needs {LATEST}" in refused.stderr

    assert "applied migrations 2;" in invoke(tmp_path, "db", "migrate").stdout
    listed = invoke(tmp_path, "keys", "list").stdout
    assert "older" in listed and secret not in listed
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM client_salts").fetchone() == (0,)


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


def test_one_client_reporting_through_two_hosts_is_one_client_to_the_feedback_cap(
        hosts: tuple[Server, Server, str], database: str) -> None:
    """The per-client cap counts an address by its salted hash; the daily salt is in the
    shared database, so both hosts hash 127.0.0.1 to the same id (with a salt of each host's
    own, this client would count as two: twice the cap)."""
    host_a, host_b, _ = hosts
    statuses: list[int] = []
    with client_for(host_a.url) as a, client_for(host_b.url) as b:
        for n in range(2 * PER_CLIENT_CAP):
            client = (a, b)[n % 2]
            answer = client.post("/api/v1/resolve", json={"intent": "look up a postcode"})
            entry = answer.json()["resolved"][0]
            assert entry["artifact"]["slug"] == "first"
            report = client.post("/api/feedback", json={
                "resolveId": answer.json()["resolveId"], "slug": "first",
                "callbackToken": entry["callbackToken"], "outcome": "success"})
            statuses.append(report.status_code)
        # reported through both hosts, counted up to the cap once: the rest are stored only
        assert statuses == [201] * PER_CLIENT_CAP + [202] * PER_CLIENT_CAP, statuses
        outcomes = [json.loads(c.get("/api/v1/passport/first").content)["passport"]["unfragile"]
                    ["trust"]["observed_outcomes"] for c in (a, b)]
        assert outcomes[0] == outcomes[1]
    with psycopg.connect(database) as conn:
        clients = conn.execute("SELECT DISTINCT client FROM feedback").fetchall()
        days = conn.execute("SELECT day FROM client_salts").fetchall()
    assert len(clients) == 1 and len(days) == 1
    assert not [p for h in (host_a, host_b) for p in Path(h.data_dir).rglob("client-salt-*")]
