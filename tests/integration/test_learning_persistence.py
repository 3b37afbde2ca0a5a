"""Learning state lives in the database: two servers on one data directory see each other's
reports (re-issued passports and learned ranking), and a restarted server answers exactly as
before. Real `capgraph serve` processes with the MiniLM embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.integration.conftest import client_for, invoke, running_server
from tests.unit.feedback_kit import twin_manifest

QUERY = "give me a short summary of what was said in our meeting notes"


def _ranking(http: httpx.Client) -> list[tuple[str, float]]:
    found = http.get("/api/v1/search", params={"q": QUERY, "limit": 3}).json()
    return [(m["artifact"]["slug"], m["matchScore"]) for m in found["matches"]]


def _passport(http: httpx.Client, slug: str) -> dict[str, Any]:
    passport: dict[str, Any] = http.get(f"/api/v1/passport/{slug}").json()["passport"]
    return passport


def _report(http: httpx.Client, slug: str, outcome: str, secret: str) -> None:
    found = http.get("/api/v1/search", params={"q": QUERY, "limit": 3}).json()
    match = next(m for m in found["matches"] if m["artifact"]["slug"] == slug)
    response = http.post("/api/feedback", headers={"x-api-key": secret}, json={
        "matchRecordId": match["matchRecordId"], "outcome": outcome})
    assert response.status_code == 201, response.text


def _state(server: Server) -> dict[str, Any]:
    with client_for(server.url) as http:
        return {"ranking": _ranking(http),
                "passports": {s: _passport(http, s) for s in ("notes-a", "notes-b")}}


def test_reports_are_shared_between_processes_and_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    secrets = [invoke(data_dir, "keys", "create", "--name", f"agent-{n}").stdout.strip()
               for n in range(4)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAPGRAPH_PUBLIC_URL", "http://registry.test")
        with running_server(data_dir) as (one, _):
            with client_for(one.url) as http:
                for slug in ("notes-a", "notes-b"):
                    response = http.post("/api/v1/artifacts", content=twin_manifest(slug),
                                         headers={"authorization": f"Bearer {secrets[0]}",
                                                  "content-type": "application/yaml"})
                    assert response.status_code == 201, response.text
                before = _ranking(http)
                first, second = before[0][0], before[1][0]
                assert {first, second} == {"notes-a", "notes-b"}
                # Three clients: the first answer keeps failing, the second keeps working.
                for secret in secrets[:3]:
                    _report(http, first, "failure", secret)
                    _report(http, second, "success", secret)
                learned = _ranking(http)
            assert [s for s, _ in learned[:2]] == [second, first]

            # A second process on the same database sees the same evidence and ranking ...
            with running_server(data_dir) as (two, _):
                assert _state(two) == _state(one)
                outcomes = _state(two)["passports"][second]["unfragile"]["trust"]
                assert outcomes["observed_outcomes"]["matches"] == 3
                assert outcomes["observed_outcomes"]["success_rate"] == 1.0
                # ... and what is reported through it is seen through the first one.
                with client_for(two.url) as http:
                    _report(http, second, "success", secrets[3])
                seen = _state(one)
                assert seen == _state(two)
                trust = seen["passports"][second]["unfragile"]["trust"]
                assert trust["observed_outcomes"]["matches"] == 4
                assert seen["passports"][second]["version"] == 5
            final = _state(one)
        # A restart rebuilds the learned index and serves exactly the same.
        with running_server(data_dir) as (three, _):
            assert _state(three) == final
            with client_for(three.url) as http:
                assert http.get("/api/v1/verify", params={"slug": second}).json()["valid"]
    assert json.dumps(final)  # plain data, compared whole above
