"""Errors are problem documents with stable codes, limits hold, and bad input changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server
from tests.integration.conftest import KNOWN_CODES, assert_problem, invoke, manifest, to_yaml

MIB = 1024 * 1024
YAML = {"content-type": "application/yaml"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def auth(api_key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}"}


@pytest.fixture(scope="module")
def published(http: httpx.Client, auth: dict[str, str]) -> str:
    """One artifact with two versions to read and to try to damage."""
    for revision in (0, 1):
        body = to_yaml(manifest("kept", revision=revision))
        response = http.post("/api/v1/artifacts", content=body, headers={**YAML, **auth})
        assert response.status_code == 201, response.text
    return "kept"


@pytest.mark.parametrize("path", [
    "/api/v1/passport/no-such-artifact",
    "/api/v1/passport/no-such-artifact?version=1",
    "/api/v1/artifacts/no-such-artifact",
    "/api/v1/artifacts/no-such-artifact/versions",
    "/api/v1/artifacts/no-such-artifact/versions/1",
    "/api/v1/verify?slug=no-such-artifact",
])
def test_unknown_slug_is_a_not_found_problem(http: httpx.Client, path: str) -> None:
    body = assert_problem(http.get(path), 404, "not-found")
    assert "no-such-artifact" in body["detail"]


def test_unknown_version_is_a_not_found_problem(http: httpx.Client, published: str) -> None:
    assert_problem(http.get(f"/api/v1/artifacts/{published}/versions/99"), 404, "not-found")
    assert_problem(http.get(f"/api/v1/passport/{published}", params={"version": 99}), 404,
                   "not-found")


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/passport/x", "/api/v1/passport/",
                                  "/api/v1/passport/a/b", "/api/v1/artifacts/a/b/c/d",
                                  "/api/v1/openapi.yaml"])
def test_unknown_api_route_is_a_not_found_problem(http: httpx.Client, path: str) -> None:
    assert_problem(http.get(path), 404, "not-found")
    posted = http.post(path, content=b"{}")
    assert posted.status_code in (404, 405)
    assert_problem(posted, posted.status_code)


@pytest.mark.parametrize("path", ["/no-such-page", "/a/b/c/d", "/%FF"])
def test_unknown_page_is_a_404_without_a_traceback(http: httpx.Client, path: str) -> None:
    # Outside /api, `/<slug>` is an artifact page for people: its 404 may be HTML (the web
    # layer's choice), but it is a 404 and never an error trace.
    response = http.get(path)
    assert response.status_code == 404
    assert "Traceback" not in response.text


def test_wrong_method_is_a_problem(http: httpx.Client) -> None:
    assert_problem(http.delete("/api/v1/validate"), 405, "method-not-allowed")
    assert_problem(http.put("/api/v1/passport/kept", content=b"{}"), 405, "method-not-allowed")


@pytest.mark.parametrize("query", [
    "limit=0", "limit=501", "limit=-1", "limit=ten", "offset=-1", "type=spaceship",
])
def test_bad_query_parameters_are_bad_request_problems(http: httpx.Client, query: str) -> None:
    body = assert_problem(http.get(f"/api/v1/artifacts?{query}"), 400, "bad-request")
    assert query.split("=")[0] in body["detail"]


def test_bad_verify_and_version_parameters(http: httpx.Client) -> None:
    assert_problem(http.get("/api/v1/verify"), 400, "bad-request")
    assert_problem(http.get("/api/v1/verify?slug="), 400, "bad-request")
    assert_problem(http.get("/api/v1/passport/kept?version=0"), 400, "bad-request")
    assert_problem(http.get("/api/v1/passport/kept?version=x"), 400, "bad-request")
    assert_problem(http.get("/api/v1/artifacts/kept/versions/x"), 400, "bad-request")


def _oversize(size: int = MIB + 1) -> bytes:
    prefix = b"unfragile_version: '1.0'\ncomment: "
    return prefix + b"x" * (size - len(prefix))


def _chunks(size: int = 2 * MIB) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b"y" * 65536
        sent += 65536


@pytest.mark.parametrize("path", ["/api/v1/validate", "/api/v1/artifacts", "/api/v1/verify",
                                  "/api/v1/import"])
def test_oversize_body_is_refused(http: httpx.Client, auth: dict[str, str], path: str) -> None:
    body = assert_problem(http.post(path, content=_oversize(), headers={**YAML, **auth}), 413,
                          "payload-too-large")
    assert str(MIB) in body["detail"]
    # Without a Content-Length (chunked), the limit is enforced while reading.
    assert_problem(http.post(path, content=_chunks(), headers={**YAML, **auth}), 413,
                   "payload-too-large")


def test_body_at_the_limit_is_read(http: httpx.Client) -> None:
    response = http.post("/api/v1/validate", content=_oversize(MIB), headers=YAML)
    assert response.status_code == 200
    assert response.json()["valid"] is False


@pytest.mark.parametrize(("body", "line", "column"), [
    (b'{"unfragile_version": "1.0",\n "artifact": {"name": }\n}', 2, 23),
    (b'{"a": 1,}', 1, 9),
    (b'{\n\n  "a" 1}', 3, 7),
])
def test_malformed_json_reports_line_and_column(
    http: httpx.Client, auth: dict[str, str], body: bytes, line: int, column: int
) -> None:
    for path in ("/api/v1/validate", "/api/v1/artifacts", "/api/v1/verify"):
        problem = assert_problem(http.post(path, content=body, headers={**JSON, **auth}), 400,
                                 "parse-error")
        assert (problem["line"], problem["column"]) == (line, column), (path, problem)


@pytest.mark.parametrize(("body", "line"), [
    (b"unfragile_version: '1.0'\nartifact: [1, 2\ncapabilities: []\n", 3),
    (b"a: b\n  c: d\n", 2),
    (b"a: 'unterminated\n", 2),
    (b"- x\ny: z\n", 2),
    (b"a: &anchor 1\nb: *anchor\n", 2),  # aliases are refused (billion laughs)
    (b"a: !!binary aGk=\n", 1),  # not JSON data: could never be signed
    (b"a: !!set {x, y}\n", 1),
    (b"a: !!python/object:os.system {}\n", 1),
    (b"a: 1\nb:\n  c: 1\n  c: 2\n", 4),  # duplicate keys: YAML forbids them
])
def test_malformed_yaml_reports_line_and_column(
    http: httpx.Client, auth: dict[str, str], body: bytes, line: int
) -> None:
    for path in ("/api/v1/validate", "/api/v1/artifacts"):
        problem = assert_problem(http.post(path, content=body, headers={**YAML, **auth}), 400,
                                 "parse-error")
        assert problem["line"] == line, (path, problem)
        assert isinstance(problem["column"], int) and problem["column"] >= 1


@pytest.mark.parametrize("body", [
    b"\xff\xfe\x00garbage",
    b'{"a": "\\ud800"}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a": ' + b"9" * 5000 + b"}",
], ids=["not-utf8", "lone-surrogate", "too-deep", "huge-integer"])
def test_unparseable_input_is_a_parse_error_everywhere(
    http: httpx.Client, auth: dict[str, str], body: bytes
) -> None:
    for path in ("/api/v1/validate", "/api/v1/artifacts", "/api/v1/verify", "/api/v1/import"):
        assert_problem(http.post(path, content=body, headers={**JSON, **auth}), 400,
                       "parse-error")


def test_invalid_manifest_is_unprocessable_with_errors(
    http: httpx.Client, auth: dict[str, str]
) -> None:
    data = manifest("unprocessable")
    data["artifact"]["type"] = "spaceship"
    data["capabilities"] = []
    problem = assert_problem(http.post("/api/v1/artifacts", json=data, headers=auth), 422,
                             "invalid-manifest")
    assert {(e["path"], e["code"]) for e in problem["errors"]} == {
        ("artifact.type", "enum"), ("capabilities", "empty")}
    assert isinstance(problem["warnings"], list)


def test_openapi_lists_the_main_paths(http: httpx.Client) -> None:
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/passport/{slug}", "get"),
        ("/api/v1/verify", "get"),
        ("/api/v1/verify", "post"),
        ("/api/v1/validate", "post"),
        ("/api/v1/artifacts", "get"),
        ("/api/v1/artifacts", "post"),
        ("/api/v1/artifacts/{slug}/versions", "get"),
        ("/api/v1/artifacts/{slug}/versions/{number}", "get"),
        ("/api/v1/trust-passport-public-key", "get"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    content = paths["/api/v1/validate"]["post"]["requestBody"]["content"]
    assert {"application/yaml", "application/json"} <= set(content)


def test_known_codes_cover_the_error_hierarchy() -> None:
    from capgraph import errors

    codes = {getattr(errors, name).code for name in errors.__all__
             if isinstance(getattr(errors, name), type)
             and issubclass(getattr(errors, name), errors.CapgraphError)}
    codes.discard("error")  # the abstract root
    codes.discard("api-error")  # raised by capgraph.client from an answer, never answered
    assert codes <= KNOWN_CODES, codes - KNOWN_CODES


def _snapshot(http: httpx.Client, slug: str) -> tuple[bytes, ...]:
    versions = http.get(f"/api/v1/artifacts/{slug}/versions")
    latest = http.get(f"/api/v1/passport/{slug}")
    listing = http.get("/api/v1/artifacts", params={"limit": 500})
    history = tuple(http.get(f"/api/v1/artifacts/{slug}/versions/{v['version']}").content
                    for v in versions.json()["versions"])
    return (versions.content, latest.content, listing.content, *history)


def test_a_stream_of_bad_publishes_loses_nothing(
    http: httpx.Client, server: Server, auth: dict[str, str], published: str
) -> None:
    before = _snapshot(http, published)
    keys_before = sorted(p.name for p in (server.data_dir / "keys").iterdir())

    good = manifest(published, revision=1)
    bad_type = json.loads(json.dumps(good))
    bad_type["artifact"]["type"] = "spaceship"
    no_caps = json.loads(json.dumps(good))
    no_caps["capabilities"] = []
    short = json.loads(json.dumps(good))
    short["capabilities"][0]["description"] = "changed, but too short"
    dup = json.loads(json.dumps(good))
    dup["capabilities"][1]["id"] = dup["capabilities"][0]["id"]
    text = to_yaml(good)
    attempts: list[tuple[bytes, dict[str, str], int]] = [
        (text[: len(text) // 2].encode() + b"\n  - [unclosed", YAML, 400),
        (b"\t" + text.encode(), YAML, 400),
        # A duplicated key must not quietly publish under the second slug.
        (text.replace("slug: kept", "slug: kept\n  slug: again").encode(), YAML, 400),
        (json.dumps(good).replace('"slug": "kept"', '"slug": "kept", "slug": "again"').encode(),
         JSON, 400),
        (to_yaml(bad_type).encode(), YAML, 422),
        (to_yaml(no_caps).encode(), YAML, 422),
        (to_yaml(short).encode(), YAML, 422),
        (to_yaml(dup).encode(), YAML, 422),
        (json.dumps(good).encode()[:-5], JSON, 400),
        (json.dumps(good).replace('"kept"', '"KEPT!"').encode(), JSON, 422),
        (_oversize(), YAML, 413),
        (text.encode() + b"\npadding: " + b"z" * MIB, YAML, 413),
        (text.encode().replace(b"1.0", b"\xff"), YAML, 400),
        (b"", YAML, 422),
        (b"[]", JSON, 422),
    ]
    for body, headers, status in attempts * 2:
        response = http.post("/api/v1/artifacts", content=body, headers={**headers, **auth})
        problem = assert_problem(response, response.status_code)
        assert response.status_code == status, (body[:80], problem)

    assert _snapshot(http, published) == before
    assert sorted(p.name for p in (server.data_dir / "keys").iterdir()) == keys_before
    assert http.get("/api/v1/verify", params={"slug": published}).json()["valid"] is True
    assert "2\t" in invoke(server.data_dir, "versions", published).stdout
