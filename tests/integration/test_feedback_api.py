"""POST /api/feedback over the real app in-process: 201 counted, 202 stored but not counted,
and a 4xx problem document with nothing counted for every refused report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from capgraph.config import Settings
from capgraph.core.feedback import COMMENT_MAX, PER_CLIENT_CAP
from capgraph.http.app import create_app
from capgraph.registry import Registry
from capgraph.storage.sqlite import SQLiteStore
from tests.integration.conftest import InProcess, assert_problem
from tests.unit.feedback_kit import Clock, make_registry, tool_manifest


@dataclass
class Api:
    http: InProcess
    registry: Registry
    clock: Clock

    def resolve(self, intent: str = "do alpha for me", *, slug: str = "tool-a"
                ) -> dict[str, Any]:
        answer = self.http.post("/api/v1/resolve", json={"intent": intent, "limit": 5}).json()
        entry = next(e for e in answer["resolved"] if e["artifact"]["slug"] == slug)
        assert entry["feedbackUrl"] == "http://registry.test/api/feedback"
        return {"resolveId": answer["resolveId"], "slug": slug,
                "callbackToken": entry["callbackToken"]}

    def report(self, ref: dict[str, Any], outcome: str = "success", *,
               headers: dict[str, str] | None = None, **extra: Any) -> Any:
        return self.http.post("/api/feedback", json={**ref, "outcome": outcome, **extra},
                              headers=headers or {})

    def state(self) -> tuple[int, int, int, int]:
        """(served version of tool-a, of tool-b, counted reports on tool-a, on tool-b)"""
        versions = [self.http.get(f"/api/v1/passport/{s}").json()["passport"]["version"]
                    for s in ("tool-a", "tool-b")]
        return (versions[0], versions[1], len(self.registry.store.counted_feedback("tool-a")),
                len(self.registry.store.counted_feedback("tool-b")))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    clock = Clock()
    store = SQLiteStore(tmp_path / "cg.db")
    registry = make_registry(store, tmp_path, clock=clock)
    registry.publish(tool_manifest("tool-a"))
    registry.publish(tool_manifest("tool-b", topic="alpha-beta"))
    client = InProcess(create_app(registry, Settings(data_dir=tmp_path)))
    yield Api(client, registry, clock)
    client.close()
    store.close()


def test_a_counted_report_answers_201_and_reissues_the_passport(api: Api) -> None:
    before = api.state()
    response = api.report(api.resolve(), "success", clickedThrough=True, source="agent",
                          comment="worked first time")
    assert response.status_code == 201
    assert response.json() == {"accepted": True, "counted": True, "slug": "tool-a",
                               "capability": "tool-a__cap_0", "outcome": "success",
                               "passportVersion": before[0] + 1}
    assert api.state() == (before[0] + 1, before[1], 1, 0)
    envelope = api.http.get("/api/v1/passport/tool-a").json()
    outcomes = envelope["passport"]["unfragile"]["trust"]["observed_outcomes"]
    assert (outcomes["matches"], outcomes["success_rate"]) == (1, 1.0)
    assert api.http.get("/api/v1/verify", params={"slug": "tool-a"}).json()["valid"] is True


def test_reports_past_the_client_cap_answer_202_and_count_nothing(api: Api) -> None:
    codes = [api.report(api.resolve()).status_code for _ in range(PER_CLIENT_CAP + 2)]
    assert codes == [201] * PER_CLIENT_CAP + [202, 202]
    last = api.report(api.resolve())
    assert last.json()["counted"] is False
    assert api.state()[2] == PER_CLIENT_CAP
    assert last.json()["passportVersion"] == 1 + PER_CLIENT_CAP


def _forged(ref: dict[str, Any]) -> dict[str, Any]:
    token = ref["callbackToken"]
    return {**ref, "callbackToken": token[:-2] + ("AA" if not token.endswith("AA") else "BB")}


@pytest.mark.parametrize("case", ["forged", "expired", "other-slug", "other-resolve",
                                  "no-token", "not-a-token"])
def test_a_bad_token_answers_403_and_counts_nothing(api: Api, case: str) -> None:
    ref = api.resolve()
    if case == "forged":
        ref = _forged(ref)
    elif case == "expired":
        api.clock.advance(days=7, seconds=1)
    elif case == "other-slug":
        ref = {**ref, "slug": "tool-b"}  # tool-b was answered too, under its own token
    elif case == "other-resolve":
        ref = {**api.resolve(), "callbackToken": ref["callbackToken"]}
    elif case == "no-token":
        ref = {k: v for k, v in ref.items() if k != "callbackToken"}
    else:
        ref = {**ref, "callbackToken": "v1.abc"}
    before = api.state()
    response = api.report(ref)
    if case == "no-token":
        assert_problem(response, 400, "bad-request")
    else:
        problem = assert_problem(response, 403, "token-invalid")
        assert problem["instance"] == "/api/feedback"
    assert api.state() == before


def test_a_replayed_report_answers_409_and_counts_once(api: Api) -> None:
    ref = api.resolve()
    assert api.report(ref).status_code == 201
    before = api.state()
    assert_problem(api.report(ref, "failure"), 409, "conflict")
    assert_problem(api.report(ref, "success", headers={"x-forwarded-for": "10.1.1.1"}), 409)
    assert api.state() == before
    assert [r[1] for r in api.registry.store.counted_feedback("tool-a")] == ["success"]


def test_a_search_match_can_be_reported_once(api: Api) -> None:
    found = api.http.get("/api/v1/search", params={"q": "do alpha for me"}).json()
    match = found["matches"][0]
    assert match["matchRecordId"].startswith("m_")
    ref = {"matchRecordId": match["matchRecordId"]}
    assert api.report(ref, "failure", clickedThrough=False).status_code == 201
    assert_problem(api.report(ref), 409, "conflict")
    assert len(api.registry.store.counted_feedback(match["artifact"]["slug"])) == 1
    assert_problem(api.report({"matchRecordId": "m_unknown"}), 404, "not-found")


@pytest.mark.parametrize("payload", [
    {"outcome": "maybe"},
    {"comment": "x" * (COMMENT_MAX + 1)},
    {"clickedThrough": "yes"},
    {"source": 12},
])
def test_malformed_reports_answer_400_and_count_nothing(api: Api, payload: dict[str, Any]
                                                        ) -> None:
    ref = api.resolve()
    before = api.state()
    body = {**ref, "outcome": "success", **payload}
    assert_problem(api.http.post("/api/feedback", json=body), 400, "bad-request")
    assert api.state() == before
    assert api.report(ref).status_code == 201  # the resolve can still be reported


@pytest.mark.parametrize("raw, code", [(b"{not json", "parse-error"), (b"[1, 2]", "bad-request"),
                                       (b"", "parse-error")])
def test_a_body_that_is_not_a_json_object_answers_400(api: Api, raw: bytes, code: str) -> None:
    response = api.http.post("/api/feedback", content=raw,
                             headers={"content-type": "application/json"})
    assert_problem(response, 400, code)


def test_a_report_with_an_api_key_counts_for_the_key(api: Api) -> None:
    key_id, secret = api.registry.create_api_key("agent")
    for _ in range(PER_CLIENT_CAP):
        assert api.report(api.resolve()).status_code == 201  # the address's share is spent
    response = api.http.post("/api/feedback", json={**api.resolve(), "outcome": "success"},
                             headers={"authorization": f"Bearer {secret}"})
    assert response.status_code == 201  # the key is another client
    clients = api.registry.store._conn().execute(  # type: ignore[attr-defined]
        "SELECT client FROM feedback ORDER BY seq").fetchall()
    assert clients[-1][0] == f"key:{key_id}"
    assert all(c[0].startswith("ip:") and len(c[0]) == 27 for c in clients[:-1])


def test_a_bogus_api_key_is_refused_and_counts_nothing(api: Api) -> None:
    ref = api.resolve()
    before = api.state()
    response = api.http.post("/api/feedback", json={**ref, "outcome": "success"},
                             headers={"x-api-key": "cg_bogus"})
    assert_problem(response, 401, "unauthorized")
    assert api.state() == before


def test_the_feedback_route_is_documented(api: Api) -> None:
    spec = api.http.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/feedback"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["comment"]["maxLength"] == COMMENT_MAX
    assert schema["properties"]["outcome"]["enum"] == ["success", "failure"]
    assert set(schema["properties"]) >= {"resolveId", "slug", "callbackToken", "matchRecordId",
                                         "clickedThrough", "source"}
    assert json.dumps(operation)  # serialisable, no stray objects
