"""docs/PRIVACY.md holds: after reports over real HTTP no raw client address is anywhere in
the data directory (databases, their WAL files, the events database, keys), reporters are
salted hashes, and the salts (in the database) rotate daily with the old ones deleted."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from capgraph.storage.sqlite import SQLiteStore
from tests.integration.conftest import client_for, invoke, running_server
from tests.unit.feedback_kit import Clock, make_registry, tool_manifest

ADDRESS = b"127.0.0.1"


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


def test_no_client_address_is_stored_after_reports_over_http(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    secret = invoke(data_dir, "keys", "create", "--name", "privacy").stdout.strip()
    with pytest.MonkeyPatch.context() as mp:
        # The served URL must not be the loopback address, or it would be in every passport.
        mp.setenv("CAPGRAPH_PUBLIC_URL", "http://registry.test")
        mp.setenv("CAPGRAPH_EMBEDDER", "none")
        with running_server(data_dir) as (server, _), client_for(server.url) as http:
            auth = {"authorization": f"Bearer {secret}", "content-type": "application/yaml"}
            for slug, topic in (("tool-a", "alpha"), ("tool-b", "alpha-beta")):
                response = http.post("/api/v1/artifacts", content=tool_manifest(slug, topic=topic),
                                     headers=auth)
                assert response.status_code == 201, response.text
            codes = []
            for n in range(5):  # anonymous reports: the client is the address
                answer = http.post("/api/v1/resolve", json={"intent": "do alpha for me"}).json()
                entry = answer["resolved"][0]
                codes.append(http.post("/api/feedback", json={
                    "resolveId": answer["resolveId"], "slug": entry["artifact"]["slug"],
                    "callbackToken": entry["callbackToken"],
                    "outcome": "success" if n % 2 else "failure",
                    "comment": f"report {n}", "source": "privacy-test",
                    "clickedThrough": True}).status_code)
            assert codes == [201, 201, 201, 202, 202]
            match = http.get("/api/v1/search", params={"q": "alpha-beta"}).json()["matches"][0]
            keyed = http.post("/api/feedback", headers={"x-api-key": secret}, json={
                "matchRecordId": match["matchRecordId"], "outcome": "success"})
            assert keyed.status_code == 201
            for path in ("/", "/tool-a", "/api/v1/passport/tool-a", "/methodology"):
                assert http.get(path).status_code == 200
            assert http.get("/no-such-page").status_code == 404
            running = _files_holding(data_dir, ADDRESS)
        stopped = _files_holding(data_dir, ADDRESS)
    assert running == [] and stopped == []
    events = [p.name for p in data_dir.iterdir() if "events" in p.name]
    assert "capgraph-events.db" in events  # the events database was scanned too

    db = sqlite3.connect(f"file:{data_dir / 'capgraph.db'}?mode=ro", uri=True)
    rows = db.execute("SELECT client, counted FROM feedback ORDER BY seq").fetchall()
    salts = db.execute("SELECT day, salt FROM client_salts").fetchall()
    db.close()
    assert len(rows) == 6
    anonymous = {client for client, _ in rows[:5]}
    assert len(anonymous) == 1
    (client,) = anonymous
    assert re.fullmatch(r"ip:[0-9a-f]{24}", client)
    # It is the documented salted hash of the address, with the salt of the day, kept in
    # the (owner-only) database, not in the key directory ...
    assert [day for day, _ in salts] == [f"{datetime.now(UTC):%Y%m%d}"]
    salt = salts[0][1]
    assert len(salt) == 32
    assert client == "ip:" + hmac.new(salt, ADDRESS, hashlib.sha256).hexdigest()[:24]
    assert stat.S_IMODE((data_dir / "capgraph.db").stat().st_mode) == 0o600
    assert not list((data_dir / "keys").glob("client-salt-*"))
    # ... and a valid key's report is the key's id, never its secret.
    assert rows[5][0].startswith("key:key_") and secret not in json.dumps(rows)


def test_client_salts_rotate_daily_and_old_ones_are_deleted(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, 23, 59, tzinfo=UTC))
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    # A salt file of the version that kept salts in the key ring: deleted, never used.
    legacy = keys / "client-salt-20261101.secret"
    legacy.write_bytes(b"s" * 32)
    store = SQLiteStore(tmp_path / "cg.db")
    registry = make_registry(store, tmp_path, clock=clock)
    address = "203.0.113.7"

    def salts() -> dict[str, bytes]:
        db = sqlite3.connect(f"file:{tmp_path / 'cg.db'}?mode=ro", uri=True)
        try:
            return {str(day): bytes(salt) for day, salt in
                    db.execute("SELECT day, salt FROM client_salts ORDER BY day")}
        finally:
            db.close()

    def hashed(salt: bytes) -> str:
        return "ip:" + hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:24]

    day1 = registry.client_id(address)
    assert not legacy.exists() and day1 != hashed(b"s" * 32)
    assert registry.client_id(address) == day1  # stable within a day ...
    assert registry.client_id("203.0.113.8") != day1  # ... and per address
    assert address not in day1 and re.fullmatch(r"ip:[0-9a-f]{24}", day1)
    assert list(salts()) == ["20261101"] and hashed(salts()["20261101"]) == day1
    clock.advance(minutes=2)  # past midnight UTC: a new salt, an unlinkable id
    day2 = registry.client_id(address)
    assert day2 != day1
    assert list(salts()) == ["20261101", "20261102"]
    clock.advance(days=1)
    day3 = registry.client_id(address)
    assert len({day1, day2, day3}) == 3
    assert list(salts()) == ["20261102", "20261103"]
    # Day 1's salt is gone: its ids can no longer be recomputed from the address.
    assert all(hashed(s) != day1 for s in salts().values())
    # Another process (another host) on the same database hashes the same way on the same
    # day, though its key directory is its own.
    second = SQLiteStore(tmp_path / "cg.db")
    other = make_registry(second, tmp_path / "other", clock=clock)
    assert other.client_id(address) == day3
    assert not list((tmp_path / "other").rglob("client-salt-*"))
    # A long gap: the salts of every day before yesterday are deleted.
    clock.advance(days=30)
    registry.client_id(address)
    assert list(salts()) == [f"{clock.now:%Y%m%d}"]
    for opened in (store, second):
        opened.close()
