"""`capgraph db copy`: an embedded registry moves into PostgreSQL whole (versions, log, API
keys, publishers and ownership, feedback, events, the day's client salt) and the copy proves
itself (same root and same signed checkpoint at the old size); a server on the copy serves
the same bytes."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests import pg
from tests.integration.conftest import client_for, invoke, manifest, running_server, to_yaml
from tests.integration.logaudit import audit, checkpoint, verifier_of

YAML = {"content-type": "application/yaml"}


@pytest.fixture
def target() -> Iterator[str]:
    name, url = pg.fresh_database()
    try:
        yield url
    finally:
        pg.drop_database(name)


def _publish(client: httpx.Client, secret: str, slug: str) -> None:
    response = client.post("/api/v1/artifacts", content=to_yaml(manifest(slug)),
                           headers={**YAML, "authorization": f"Bearer {secret}"})
    assert response.status_code == 201, response.text


def test_copy_moves_everything_and_proves_the_log(tmp_path: Path, target: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("CAPGRAPH_PUBLIC_URL", "https://registry.example")
    secret = invoke(data, "keys", "create", "--name", "mover").stdout.strip()
    with running_server(data) as (srv, _), client_for(srv.url) as client:
        for slug in ("one", "two", "three"):
            _publish(client, secret, slug)
        answer = client.post("/api/v1/resolve", json={"intent": "look up a postcode"}).json()
        report = client.post("/api/feedback", json={
            "resolveId": answer["resolveId"], "slug": answer["resolved"][0]["artifact"]["slug"],
            "callbackToken": answer["resolved"][0]["callbackToken"], "outcome": "success"})
        assert report.status_code == 201, report.text
        verifier = verifier_of(client)
        before = audit(client, verifier)
        passports = {s: client.get(f"/api/v1/passport/{s}").json()["passport"]
                     for s in before.slugs}

    source = f"sqlite:///{data / 'capgraph.db'}"  # data is absolute: sqlite:////tmp/...
    out = invoke(data, "db", "copy", "--from", source, "--to", target).stdout
    assert "consistent: the same log at the same size" in out
    roots = dict(re.findall(r"^(source|target) root ([0-9a-f]{64})$", out, re.M))
    assert roots["source"] == roots["target"] == before.head.root.hex()
    assert f"log size {before.head.size}" in out
    assert re.search(r"copied\s+1 feedback", out), out
    assert re.search(r"copied\s+[1-9]\d* resolves", out), out
    # The day's client salt too: the reporter stays the same client to the cap after the move.
    assert re.search(r"copied\s+1 client_salts", out), out
    sqlite_db = sqlite3.connect(f"file:{data / 'capgraph.db'}?mode=ro", uri=True)
    salts = sqlite_db.execute("SELECT day, salt FROM client_salts").fetchall()
    sqlite_db.close()
    with psycopg.connect(target) as conn:
        assert [(d, bytes(s)) for d, s in conn.execute(
            "SELECT day, salt FROM client_salts").fetchall()] == salts

    again = invoke(data, "db", "copy", "--from", source, "--to", target, check=False)
    assert again.returncode == 1 and "not empty" in again.stderr

    monkeypatch.setenv("CAPGRAPH_DATABASE_URL", target)
    with running_server(data) as (srv, _), client_for(srv.url) as client:
        after = audit(client, verifier)
        assert checkpoint(client, verifier) == before.head
        assert after.slugs == before.slugs and after.entries == before.entries
        for slug, body in passports.items():
            assert client.get(f"/api/v1/passport/{slug}").json()["passport"] == body
        _publish(client, secret, "four")  # the copied key and its publisher still act
        assert checkpoint(client, verifier).size == before.head.size + 2
        owner = client.get("/api/v1/artifacts/one/ownership")
        assert owner.status_code == 200 and json.loads(owner.content)["owner"]
