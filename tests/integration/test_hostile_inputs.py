"""Bad input and load never crash or stall the server (issue 14, section C), over real HTTP on
127.0.0.1: integers past 64 bits, non-ASCII callback tokens, an error's keep-alive connection,
request heads of any size, YAML that costs seconds to build, made-up Host headers, and the
listing's total under a type filter."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from capgraph.config import Settings
from capgraph.core.manifest import MAX_DEPTH, MAX_NODES
from capgraph.http.app import create_app
from capgraph.http.protocol import BoundedHttpToolsProtocol
from tests.conftest import Server, free_port
from tests.integration.conftest import (
    assert_problem,
    client_for,
    in_process,
    invoke,
    manifest,
    running_server,
    to_yaml,
    write_manifest,
)

HUGE = ["9223372036854775808", "18446744073709551616", "-9223372036854775809", "1" + "0" * 40]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A real server with two artifacts of different types and a generous rate limit."""
    data_dir = tmp_path_factory.mktemp("hostile")
    folder = tmp_path_factory.mktemp("manifests")
    files = []
    for slug, kind in (("widget-api", "api"), ("widget-tool", "mcp")):
        data = manifest(slug)
        data["artifact"]["type"] = kind
        files.append(str(write_manifest(folder, f"{slug}.yml", data)))
    invoke(data_dir, "publish", *files, env={"CAPGRAPH_EMBEDDER": "none"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAPGRAPH_RATE_LIMIT_ANONYMOUS", "100000")
        env.setenv("CAPGRAPH_EMBEDDER", "none")
        with running_server(data_dir) as (srv, _):
            yield srv, "widget-api"


# -- 14: integers beyond 64 bits -------------------------------------------------------------


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize("path", [
    "/api/v1/artifacts?offset={n}", "/api/v1/artifacts?limit={n}",
    "/api/v1/artifacts/{slug}/versions/{n}", "/api/v1/passport/{slug}?version={n}",
    "/api/v1/artifacts/{slug}/score?version={n}", "/api/v1/log/proof/inclusion?index={n}&size=1",
    "/api/v1/log/proof/inclusion?index=0&size={n}", "/api/v1/log/proof/consistency?from={n}&size=2",
    "/api/v1/log/proof/consistency?from=1&size={n}", "/api/v1/log/entries?start={n}&end=1",
    "/api/v1/log/entries?start=0&end={n}",
])
def test_integers_past_64_bits_are_a_400_not_a_500(served: tuple[Server, str], path: str,
                                                  number: str) -> None:
    server, slug = served
    with client_for(server.url) as http:
        problem = assert_problem(http.get(path.format(n=number, slug=slug)), 400, "bad-request")
    assert problem["errors"], problem


def test_every_integer_parameter_is_bounded_in_the_openapi_document(
        served: tuple[Server, str]) -> None:
    with client_for(served[0].url) as http:
        document = http.get("/api/v1/openapi.json").json()
    seen = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                kinds = [schema, *schema.get("anyOf", [])]
                for kind in (k for k in kinds if k.get("type") == "integer"):
                    seen += 1
                    assert "maximum" in kind and "minimum" in kind, (method, path, parameter)
    assert seen >= 11


# -- 15: callback tokens ---------------------------------------------------------------------


@pytest.mark.parametrize("token", ["v1.1.\u00e9", "v1.+1." + "A" * 43, "\u0661.\u0662"])
def test_a_non_ascii_or_respelt_callback_token_is_refused(served: tuple[Server, str],
                                                          token: str) -> None:
    server, slug = served
    with client_for(server.url) as http:
        response = http.post("/api/feedback", json={
            "resolveId": "r_x", "slug": slug, "callbackToken": token, "outcome": "success"})
    assert_problem(response, 403, "token-invalid")


# -- 16: an unexpected error keeps the connection usable -----------------------------------


@pytest.fixture
def failing_server(tmp_path: Path) -> Iterator[str]:
    """The real app, plus one route that fails the way any bug would, served by uvicorn with
    the protocol `capgraph serve` uses, in a thread of this process."""
    settings = Settings(data_dir=tmp_path, embedder="none", rate_limit_anonymous=100000)
    with in_process(tmp_path) as (_, registry):
        app = create_app(registry, settings)
        inner: Any = app
        while not isinstance(inner, FastAPI):
            inner = inner.app

        @inner.get("/test-only/fails")
        def fails() -> None:
            raise RuntimeError("a bug")

        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                                http=BoundedHttpToolsProtocol, lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            with httpx.Client() as probe:
                for _ in range(600):
                    try:
                        probe.get(f"http://127.0.0.1:{port}/api/v1/health")
                        break
                    except httpx.TransportError:
                        threading.Event().wait(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response with a Content-Length: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the body"
        body += chunk
    return head, body


def test_after_a_500_the_same_connection_answers_the_next_request(failing_server: str) -> None:
    port = int(failing_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /test-only/fails HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, body = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 500"), head
        assert b"content-type: application/problem+json" in head.lower()
        assert b'"code": "internal-error"' in body and b"a bug" not in body
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, body = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 200"), head
    # And through a keep-alive client: one connection, no reset.
    with httpx.Client(base_url=failing_server) as http:
        assert http.get("/test-only/fails").status_code == 500
        assert http.get("/api/v1/health").status_code == 200


# -- 17: request heads are bounded -----------------------------------------------------------


def test_a_request_head_past_the_limit_gets_431_and_others_are_served_meanwhile(
        served: tuple[Server, str]) -> None:
    server, slug = served
    limit = Settings.model_fields["max_header_bytes"].default
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as attacker:
        attacker.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        attacker.sendall(b"a" * (limit // 2))  # a head still open, half the limit
        with client_for(server.url) as http:  # another client meanwhile
            assert http.get(f"/api/v1/passport/{slug}").status_code == 200
        attacker.sendall(b"a" * limit)  # now past it: refused, and nothing more is read
        head, body = _read_response(attacker)
        assert head.startswith(b"HTTP/1.1 431"), head
        assert b"connection: close" in head.lower()
        assert b'"code": "headers-too-large"' in body
        assert attacker.recv(1) == b""  # closed by the server
    with client_for(server.url) as http:
        # Big but within the limit: served. A large body is not a large head.
        fine = http.get("/api/v1/health", headers={"X-Padding": "b" * (limit // 2)})
        assert fine.status_code == 200
        body = to_yaml({"items": ["word"] * 50_000}).encode()
        assert len(body) > 8 * limit
        response = http.post("/api/v1/validate", content=body,
                             headers={"content-type": "application/yaml"})
        assert response.status_code == 400 and "values" in response.json()["detail"]


# -- 18: parsing work is bounded -------------------------------------------------------------


@pytest.mark.parametrize(("text", "why"), [
    ("\n".join("- a" for _ in range(200_000)), f"more than {MAX_NODES} values"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels"),
    ("{" + ", ".join(f"k{i}: 1" for i in range(MAX_NODES)) + "}", "values"),
])
def test_yaml_that_would_take_seconds_to_build_is_refused(served: tuple[Server, str], text: str,
                                                          why: str) -> None:
    with client_for(served[0].url) as http:
        response = http.post("/api/v1/validate", content=text.encode(),
                             headers={"content-type": "application/yaml"})
    problem = assert_problem(response, 400, "parse-error")
    assert why in problem["detail"], problem


def test_json_bodies_have_the_same_bounds(served: tuple[Server, str]) -> None:
    with client_for(served[0].url) as http:
        wide = http.post("/api/v1/resolve", content=b"[" + b"0," * 300_000 + b"0]",
                         headers={"content-type": "application/json"})
        deep = http.post("/api/v1/verify", content=b"[" * 100 + b"]" * 100,
                         headers={"content-type": "application/json"})
    assert "values" in assert_problem(wide, 400, "parse-error")["detail"]
    assert "levels" in assert_problem(deep, 400, "parse-error")["detail"]


# -- 19: no cache keyed on what a client chooses -------------------------------------------


def test_made_up_host_headers_are_served_but_not_cached(tmp_path: Path) -> None:
    invoke(tmp_path, "publish", str(write_manifest(tmp_path, "w.yml", manifest("widget"))),
           env={"CAPGRAPH_EMBEDDER": "none"})
    with in_process(tmp_path) as (client, registry):
        public = Settings(data_dir=tmp_path).base_url
        for i in range(300):
            response = client.get("/api/v1/passport/widget", headers={"host": f"h{i}.example"})
            assert response.json()["_links"]["self"].startswith(f"http://h{i}.example/")
        client.get("/api/v1/passport/widget", headers={"host": public.split("//", 1)[1]})
        cached = registry._reading._envelopes  # what the process holds on to
        assert list(cached) == ["widget"], len(cached)


# -- 7: the listing's total counts what the filter selects ---------------------------------


def test_total_counts_the_filtered_set(served: tuple[Server, str]) -> None:
    with client_for(served[0].url) as http:
        everything = http.get("/api/v1/artifacts").json()
        mcp = http.get("/api/v1/artifacts", params={"type": "mcp", "limit": 1}).json()
        none = http.get("/api/v1/artifacts", params={"type": "dataset"}).json()
    assert everything["total"] == 2
    assert (mcp["total"], [a["slug"] for a in mcp["artifacts"]]) == (1, ["widget-tool"])
    assert (none["total"], none["artifacts"]) == (0, [])
