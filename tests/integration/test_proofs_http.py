"""Claim proofs over HTTP (proofs/): a real threaded HTTP server on 127.0.0.1 answers the
well-known file and the repository stand-in; every safety rule of a proof fetch is shown on it
(redirects, size, time, addresses, schemes). ``LocalWeb`` is reused by test_proofs_tls.py."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from capgraph.proofs import transport
from capgraph.proofs.addresses import IPAddress, resolve
from capgraph.proofs.checker import NetworkProofChecker

TOKEN = "cgc_3f9a1b7c5d2e4f60a8b9c0d1e2f3a4b5"
OTHER = "cgc_ffffeeee0000111122223333444455556666"
MB10 = 10 * 1024 * 1024
WELL_KNOWN = "/.well-known/unfragile.json"

Route = Callable[[BaseHTTPRequestHandler], None]


class LocalWeb:
    """A threaded HTTP(S) server on 127.0.0.1 with a random port: ``routes`` maps a path to
    what answers it; ``requests`` (Host header, path) and ``connections`` record what came."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []
        self.connections = 0
        self.written = 0
        self.stop = threading.Event()  # ends deliberately slow handlers at teardown
        self.done = threading.Event()  # set when a streaming handler has stopped writing
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                web.requests.append((self.headers.get("Host", ""), self.path))
                route = web.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    reply(404, b"not here")(self)
                else:
                    route(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def verify_request(self, request: Any, client_address: Any) -> bool:
                web.connections += 1
                return True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up early is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    return route


def claim(value: Any) -> Route:
    return reply(200, json.dumps({"unfragile-claim": value}).encode(),
                 {"Content-Type": "application/json"})


def redirect(location: str) -> Route:
    return reply(302, b"", {"Location": location})


def huge(web: LocalWeb, *, declared: bool) -> Route:
    """10 MB of spaces, with or without a Content-Length; ``web.written`` counts what got out."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if declared:
            handler.send_header("Content-Length", str(MB10))
        handler.end_headers()
        chunk = b" " * 65_536
        try:
            while web.written < MB10:
                handler.wfile.write(chunk)
                web.written += len(chunk)
        except OSError:
            pass  # the client hung up, as it should
        finally:
            web.done.set()
    return route


def slow(web: LocalWeb, *, wait: float) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        web.stop.wait(wait)  # the deliberate slowness (ended early at teardown)
        claim(TOKEN)(handler)
    return route


def drip(web: LocalWeb, *, every: float) -> Route:
    """Headers at once, then one byte of a 1000-byte body per ``every`` seconds."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        try:
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                if web.stop.wait(every):
                    return
        except OSError:
            pass
    return route


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    server = LocalWeb()
    yield server
    server.close()


@pytest.fixture
def checker() -> NetworkProofChecker:
    return NetworkProofChecker(allow_private=True, timeout=3.0)


# -- the well-known file -------------------------------------------------------------------
@pytest.mark.parametrize("value", [TOKEN, [OTHER, TOKEN]], ids=["string", "list"])
def test_http_proof_found(web: LocalWeb, checker: NetworkProofChecker, value: Any) -> None:
    web.routes[WELL_KNOWN] = claim(value)
    check = checker.check_http(f"{web.url}/tools/thing?page=2#top", TOKEN)
    assert check.found, check.detail
    assert check.looked_up == f"{web.url}{WELL_KNOWN}"
    assert web.requests == [(f"127.0.0.1:{web.port}", WELL_KNOWN)]


def test_a_wrong_token_is_named_by_its_first_8_characters_only(
        web: LocalWeb, checker: NetworkProofChecker) -> None:
    web.routes[WELL_KNOWN] = claim(OTHER)
    check = checker.check_http(web.url, TOKEN)
    assert not check.found
    assert check.detail == "the file holds unfragile-claim 'cgc_ffff…', not this token"
    assert OTHER[:9] not in check.detail
    web.routes[WELL_KNOWN] = claim([OTHER, "x" * 40])
    detail = checker.check_http(web.url, TOKEN).detail
    assert "'cgc_ffff…', 'xxxxxxxx…', none of them this token" in detail
    assert OTHER[:9] not in detail


@pytest.mark.parametrize(("route", "expected"), [
    (None, "answered HTTP 404"),
    (reply(200, b"<html>claim me</html>"), "the file is not JSON"),
    (reply(200, json.dumps([TOKEN]).encode()), "the file is JSON but not an object"),
    (reply(200, b'{"other": 1}'), "the file has no unfragile-claim"),
    (reply(200, b'{"unfragile-claim": 7}'), "holds unfragile-claim as int, not a string or"),
    (reply(500, b"oops"), "answered HTTP 500"),
])
def test_http_proof_not_found(web: LocalWeb, checker: NetworkProofChecker, route: Route | None,
                              expected: str) -> None:
    if route is not None:
        web.routes[WELL_KNOWN] = route
    check = checker.check_http(web.url, TOKEN)
    assert not check.found
    assert expected in check.detail


# -- redirects -----------------------------------------------------------------------------
def test_a_same_host_redirect_is_followed(web: LocalWeb, checker: NetworkProofChecker) -> None:
    web.routes[WELL_KNOWN] = redirect("/claims/current.json")
    web.routes["/claims/current.json"] = claim(TOKEN)
    check = checker.check_http(web.url, TOKEN)
    assert check.found, check.detail
    assert check.detail.startswith(f"after redirect to {web.url}/claims/current.json: ")
    assert [path for _, path in web.requests] == [WELL_KNOWN, "/claims/current.json"]


def test_a_redirect_to_another_host_is_refused(web: LocalWeb) -> None:
    checker = NetworkProofChecker(allow_private=True, timeout=3.0)  # even with private allowed
    elsewhere = f"http://localhost:{web.port}/claims.json"
    web.routes[WELL_KNOWN] = redirect(elsewhere)
    web.routes["/claims.json"] = claim(TOKEN)
    check = checker.check_http(web.url, TOKEN)
    assert not check.found
    assert check.detail == f"redirect to another host refused: {elsewhere}"
    assert [path for _, path in web.requests] == [WELL_KNOWN]


def test_at_most_3_redirects_are_followed(web: LocalWeb, checker: NetworkProofChecker) -> None:
    web.routes[WELL_KNOWN] = redirect("/1")
    web.routes["/1"] = redirect("/2")
    web.routes["/2"] = redirect("/3")
    web.routes["/3"] = redirect("/4")
    web.routes["/4"] = claim(TOKEN)
    check = checker.check_http(web.url, TOKEN)
    assert not check.found
    assert check.detail.endswith(f"more than 3 redirects, last to {web.url}/4")
    assert [path for _, path in web.requests] == [WELL_KNOWN, "/1", "/2", "/3"]


# -- size and time -------------------------------------------------------------------------
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "undeclared"])
def test_a_10_mb_body_is_refused_quickly_without_reading_it(
        web: LocalWeb, checker: NetworkProofChecker, declared: bool) -> None:
    web.routes[WELL_KNOWN] = huge(web, declared=declared)
    start = time.monotonic()
    check = checker.check_http(web.url, TOKEN)
    elapsed = time.monotonic() - start
    assert not check.found
    assert check.detail.startswith("larger than 65536 bytes")
    assert ("(Content-Length 10485760)" in check.detail) is declared
    assert elapsed < 2.0
    assert web.done.wait(5), "the server kept writing after the client hung up"
    assert web.written < MB10


def test_a_slow_server_is_given_up_on_in_bounded_time(web: LocalWeb) -> None:
    web.routes[WELL_KNOWN] = slow(web, wait=10)
    start = time.monotonic()
    check = NetworkProofChecker(allow_private=True, timeout=0.5).check_http(web.url, TOKEN)
    assert time.monotonic() - start < 1.5
    assert (check.found, check.detail) == (False, "timed out after 0.5 s")


def test_the_timeout_bounds_the_whole_body_not_each_read(web: LocalWeb) -> None:
    web.routes[WELL_KNOWN] = drip(web, every=0.1)  # each read is quick; the body takes 100 s
    start = time.monotonic()
    check = NetworkProofChecker(allow_private=True, timeout=0.5).check_http(web.url, TOKEN)
    assert time.monotonic() - start < 1.5
    assert (check.found, check.detail) == (False, "timed out after 0.5 s")


# -- addresses and schemes -----------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_before_any_connection(web: LocalWeb, host: str) -> None:
    web.routes[WELL_KNOWN] = claim(TOKEN)
    check = NetworkProofChecker().check_http(f"https://{host}:{web.port}/", TOKEN)
    assert not check.found
    assert check.detail.endswith("refused loopback address 127.0.0.1")
    assert (web.connections, web.requests) == (0, [])


def test_plain_http_is_refused_unless_private_networks_are_allowed(web: LocalWeb) -> None:
    web.routes[WELL_KNOWN] = claim(TOKEN)
    check = NetworkProofChecker().check_http(web.url, TOKEN)
    assert not check.found
    assert check.detail.startswith("refused plain http: ")
    assert (web.connections, web.requests) == (0, [])
    assert NetworkProofChecker(allow_private=True).check_http(web.url, TOKEN).found


def test_other_schemes_and_non_urls_are_refused(checker: NetworkProofChecker) -> None:
    assert "refused scheme 'ftp'" in checker.check_http("ftp://example.com/x", TOKEN).detail
    check = checker.check_http("not a url", TOKEN)
    assert (check.found, check.detail) == (False, "not a URL with a host name; nothing was "
                                                  "fetched")


def test_a_closed_port_is_reported_not_raised(web: LocalWeb, checker: NetworkProofChecker
                                              ) -> None:
    url = web.url
    web.close()
    check = checker.check_http(url, TOKEN)
    assert not check.found
    assert check.detail.startswith("could not connect: ")


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
        web: LocalWeb, checker: NetworkProofChecker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolution is done once, by the checker; the connection uses that answer's address
    while the request keeps the name (Host header here; SNI with TLS, see test_proofs_tls)."""
    asked: list[str] = []

    def answer(host: str, port: int, timeout: float) -> list[IPAddress]:
        asked.append(host)
        return resolve("127.0.0.1" if host == "claims.example" else host, port, timeout)

    monkeypatch.setattr(transport, "resolve", answer)
    web.routes[WELL_KNOWN] = claim(TOKEN)
    check = checker.check_http(f"http://claims.example:{web.port}/", TOKEN)
    assert check.found, check.detail
    assert asked == ["claims.example"]
    assert web.requests == [(f"claims.example:{web.port}", WELL_KNOWN)]


def test_every_resolved_address_is_checked(web: LocalWeb, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    def answer(host: str, port: int, timeout: float) -> list[IPAddress]:
        return [*resolve("93.184.216.34", port, timeout), *resolve("10.0.0.1", port, timeout)]

    monkeypatch.setattr(transport, "resolve", answer)
    check = NetworkProofChecker().check_http("https://rebinding.example/", TOKEN)
    assert check.detail == "rebinding.example: refused private address 10.0.0.1"


# -- the repository method, through a local stand-in for the raw-file hosts ------------------
@pytest.fixture
def repo_checker(web: LocalWeb) -> NetworkProofChecker:
    return NetworkProofChecker(allow_private=True, timeout=3.0, repository_raw={
        "github.com": f"{web.url}/gh/{{owner}}/{{repo}}/unfragile.yml",
        "huggingface.co": f"{web.url}/hf/{{path}}/unfragile.yml",
    })


def yml(text: str) -> Route:
    return reply(200, text.encode(), {"Content-Type": "text/plain"})


@pytest.mark.parametrize(("url", "path", "document"), [
    ("https://github.com/acme/tool", "/gh/acme/tool/unfragile.yml", f"unfragile-claim: {TOKEN}"),
    ("https://github.com/acme/tool.git", "/gh/acme/tool/unfragile.yml",
     f"name: tool\nunfragile-claim: [{OTHER}, {TOKEN}]\n"),
    ("github.com/acme/tool/tree/main/src", "/gh/acme/tool/unfragile.yml",
     f"unfragile-claim:\n  - {TOKEN}\n"),
    ("https://huggingface.co/acme/model-7b", "/hf/acme/model-7b/unfragile.yml",
     f"unfragile-claim: '{TOKEN}'"),
    ("https://huggingface.co/spaces/acme/demo", "/hf/spaces/acme/demo/unfragile.yml",
     f"unfragile-claim: {TOKEN}"),
    ("https://hf.co/datasets/acme/corpus/tree/main", "/hf/datasets/acme/corpus/unfragile.yml",
     f"unfragile-claim: {TOKEN}"),
])
def test_repository_proof_found(web: LocalWeb, repo_checker: NetworkProofChecker, url: str,
                                path: str, document: str) -> None:
    web.routes[path] = yml(document)
    check = repo_checker.check_repository(url, TOKEN)
    assert check.found, check.detail
    assert check.looked_up == f"{web.url}{path}"
    assert [p for _, p in web.requests] == [path]


@pytest.mark.parametrize(("document", "expected"), [
    (f"unfragile-claim: {OTHER}", "holds unfragile-claim 'cgc_ffff…', not this token"),
    ("- a\n- list\n", "is YAML but not a mapping"),
    ("unfragile-claim: [unclosed", "is not YAML"),
    ("unfragile-claim: !!python/object/apply:os.system ['true']", "is not YAML"),
])
def test_repository_proof_not_found(web: LocalWeb, repo_checker: NetworkProofChecker,
                                    document: str, expected: str) -> None:
    web.routes["/gh/acme/tool/unfragile.yml"] = yml(document)
    check = repo_checker.check_repository("https://github.com/acme/tool", TOKEN)
    assert not check.found
    assert check.detail == f"unfragile.yml of github.com/acme/tool {expected}"


def test_a_missing_repository_file_says_so(web: LocalWeb, repo_checker: NetworkProofChecker
                                           ) -> None:
    check = repo_checker.check_repository("https://huggingface.co/acme/model", TOKEN)
    assert not check.found
    assert check.detail == ("answered HTTP 404 (no unfragile.yml of huggingface.co/acme/model "
                            "on its default branch, or a private repository)")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/acme", "names no repository (expected github.com/{owner}/{repo})"),
    ("https://github.com/", "names no repository"),
    ("https://github.com/orgs/acme", "is a GitHub page, not a repository"),
    ("https://huggingface.co/docs/transformers", "is a Hugging Face page, not a repository"),
    ("https://huggingface.co/spaces/acme", "names no repository"),
    ("https://pypi.org/project/tool/", "pypi.org is a shared host the repository method does "
                                       "not cover"),
    ("https://example.com/acme/tool", "'example.com' is not github.com or huggingface.co"),
])
def test_a_url_that_names_no_repository_fetches_nothing(
        web: LocalWeb, repo_checker: NetworkProofChecker, url: str, expected: str) -> None:
    check = repo_checker.check_repository(url, TOKEN)
    assert not check.found
    assert expected in check.detail
    assert check.detail.endswith("; nothing was fetched")
    assert web.connections == 0


def test_repository_fetches_follow_the_same_rules(web: LocalWeb) -> None:
    strict = NetworkProofChecker(repository_raw={
        "github.com": f"https://127.0.0.1:{web.port}/gh/{{owner}}/{{repo}}/unfragile.yml"})
    check = strict.check_repository("https://github.com/acme/tool", TOKEN)
    assert check.detail == "refused loopback address 127.0.0.1"
    assert web.connections == 0
