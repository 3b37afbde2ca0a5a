"""Rate limits over real HTTP: a server started with low limits answers 429 problem+json with
Retry-After on every kind of endpoint; a valid key gets its own, higher limit; a bogus key
gets the anonymous one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server
from tests.integration.conftest import assert_problem, client_for, invoke, running_server

ANON, KEYED = 5, 8


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data_dir = tmp_path_factory.mktemp("limited")
    secret = invoke(data_dir, "keys", "create", "--name", "limits").stdout.strip()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAPGRAPH_RATE_LIMIT_ANONYMOUS", str(ANON))
        mp.setenv("CAPGRAPH_RATE_LIMIT_KEY", str(KEYED))
        mp.setenv("CAPGRAPH_EMBEDDER", "none")
        with running_server(data_dir) as (srv, _):
            yield srv, secret


def test_limits_over_real_http(limited: tuple[Server, str]) -> None:
    server, secret = limited
    # One address: ANON requests of any kind a minute pass, the next one is refused. The
    # start-up probe spent one of them (or none, when it was a minute ago).
    requests = [("GET", "/api/v1/search?q=notes", {}),
                ("POST", "/api/v1/resolve", {"json": {"intent": "summarize notes"}}),
                ("GET", "/methodology", {}), ("GET", "/api/v1/trust-passport-public-key", {}),
                ("GET", "/api/v1/health", {})]
    with client_for(server.url) as http:
        codes = [http.request(method, path, **kwargs).status_code
                 for method, path, kwargs in requests]
        assert codes in ([200] * (ANON - 1) + [429], [200] * ANON), codes
        for method, path, kwargs in [("POST", "/api/feedback",
                                      {"json": {"outcome": "success", "matchRecordId": "m_x"}}),
                                     ("GET", "/api/v1/passport/nothing-here", {}),
                                     ("GET", "/api/v1/health", {})]:
            response = http.request(method, path, **kwargs)
            problem = assert_problem(response, 429, "rate-limited")
            retry = int(response.headers["retry-after"])
            assert 1 <= retry <= 60  # when the oldest request leaves the minute
            assert problem["retry_after"] == retry and problem["instance"] == path
        # A bogus key is the address again: refused at once.
        for headers in ({"x-api-key": "cg_bogus"}, {"authorization": "Bearer cg_bogus"}):
            assert_problem(http.get("/api/v1/health", headers=headers), 429, "rate-limited")
        # A browser asking for a page gets a page; the API stays problem+json.
        browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        page = http.get("/methodology", headers=browser)
        assert page.status_code == 429 and page.headers["retry-after"]
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "rate limit of" in page.text and "<h1>" in page.text
        assert_problem(http.get("/api/v1/health", headers=browser), 429, "rate-limited")
        # A valid key: its own bucket, with the keyed limit, in either header.
        codes = [http.get("/api/v1/health", headers={"x-api-key": secret}).status_code
                 for _ in range(KEYED - 1)]
        codes.append(http.get("/api/v1/health",
                              headers={"authorization": f"Bearer {secret}"}).status_code)
        assert codes == [200] * KEYED
        response = http.get("/api/v1/health", headers={"x-api-key": secret})
        assert_problem(response, 429, "rate-limited")
        assert 1 <= int(response.headers["retry-after"]) <= 60
