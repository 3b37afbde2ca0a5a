"""/docs and the OpenAPI document give publish, resolve and feedback their bodies and answers
with examples (issue 14, point 25); each example fits its schema, and each example request,
sent to a live server, gets the status the document gives for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.integration.conftest import client_for, invoke, running_server

OPERATIONS = [("post", "/api/v1/artifacts"), ("post", "/api/v1/resolve"),
              ("post", "/api/feedback")]


def _check(schema: dict[str, Any], value: Any, what: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(value)]
    assert not errors, (what, errors[:3])


def _request_example(document: dict[str, Any], method: str, path: str, media: str) -> Any:
    content = document["paths"][path][method]["requestBody"]["content"][media]
    return next(iter(content["examples"].values()))["value"]


def _answer_schema(document: dict[str, Any], method: str, path: str, status: int
                   ) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path][method]["responses"][str(status)][
        "content"]["application/json"]["schema"]
    return schema


def test_the_examples_are_documented_and_fit_their_schemas(tmp_path: Path) -> None:
    with running_server(tmp_path) as (server, _), client_for(server.url) as http:
        document = http.get("/api/v1/openapi.json").json()
        docs, mirror = http.get("/docs").text, http.get("/agent/docs").text
    for method, path in OPERATIONS:
        operation = document["paths"][path][method]
        content = operation["requestBody"]["content"]
        for media, body in content.items():
            assert body["examples"], (path, media)
            for example in body["examples"].values():
                if media == "application/yaml":
                    value = yaml.safe_load(example["value"])
                    _check(content["application/json"]["schema"], value, f"{path} yaml")
                else:
                    _check(body["schema"], example["value"], f"{path} {media}")
        answers = {s: a for s, a in operation["responses"].items() if s.startswith("2")}
        assert answers
        for status, answer in answers.items():
            media = answer["content"]["application/json"]
            assert media["schema"].get("required"), (path, status)
            _check(media["schema"], media["example"], f"{path} {status}")
            # /docs and its mirror show the example answer
            needle = json.dumps(media["example"], indent=2, ensure_ascii=False).splitlines()[1]
            assert needle.strip() in mirror, (path, status)
            assert f"Example answer <code>{status}</code>" in docs, (path, status)
    assert "Example request (<code>application/yaml</code>)" in docs
    assert "unfragile_version: &#34;1.0&#34;" in docs or 'unfragile_version: "1.0"' in docs


def test_each_example_request_gets_its_documented_status(tmp_path: Path) -> None:
    key = invoke(tmp_path, "keys", "create", "--name", "examples").stdout.strip()
    with running_server(tmp_path) as (server, _), client_for(server.url) as http:
        document = http.get("/api/v1/openapi.json").json()
        auth = {"authorization": f"Bearer {key}"}

        manifest = _request_example(document, "post", "/api/v1/artifacts", "application/yaml")
        first = http.post("/api/v1/artifacts", content=manifest,
                          headers={**auth, "content-type": "application/yaml"})
        assert first.status_code == 201, first.text
        _check(_answer_schema(document, "post", "/api/v1/artifacts", 201), first.json(), "201")
        same = _request_example(document, "post", "/api/v1/artifacts", "application/json")
        again = http.post("/api/v1/artifacts", json=same, headers=auth)
        assert again.status_code == 200 and again.json()["created"] is False  # same content
        _check(_answer_schema(document, "post", "/api/v1/artifacts", 200), again.json(), "200")

        ask = _request_example(document, "post", "/api/v1/resolve", "application/json")
        resolved = http.post("/api/v1/resolve", json=ask)
        assert resolved.status_code == 200, resolved.text
        answer = resolved.json()
        _check(_answer_schema(document, "post", "/api/v1/resolve", 200), answer, "resolve")
        top = answer["resolved"][0]
        assert top["artifact"]["slug"] == same["artifact"]["slug"]

        report = {**_request_example(document, "post", "/api/feedback", "application/json"),
                  "resolveId": answer["resolveId"], "slug": top["artifact"]["slug"],
                  "callbackToken": top["callbackToken"]}  # the ids of that live answer
        reported = http.post("/api/feedback", json=report)
        assert reported.status_code == 201, reported.text
        _check(_answer_schema(document, "post", "/api/feedback", 201), reported.json(),
               "feedback")
