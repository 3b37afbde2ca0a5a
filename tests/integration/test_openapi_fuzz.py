"""The OpenAPI document describes what the server does: schemathesis, every check, over the
whole document, against a real server on 127.0.0.1 with the demo data (issue 14, point 22).
A few examples per operation here; `make fuzz` runs 300 (numbers in BENCHMARKS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import client_for, invoke, running_server

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def test_schemathesis_finds_nothing_with_every_check(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGRAPH_EMBEDDER", "none")
    monkeypatch.setenv("CAPGRAPH_RATE_LIMIT_ANONYMOUS", "100000000")
    monkeypatch.setenv("CAPGRAPH_RATE_LIMIT_KEY", "100000000")
    invoke(tmp_path, "demo")
    key = invoke(tmp_path, "keys", "create", "--name", "fuzz").stdout.strip()  # writes too
    with running_server(tmp_path) as (server, log):
        run = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{server.url}/api/v1/openapi.json", "--checks", "all",
             "--max-examples", "8", "--workers", "1", "--seed", "14",
             "-H", f"X-API-Key: {key}"],
            capture_output=True, text=True, timeout=900,
            cwd=Path(__file__).resolve().parents[2])  # its schemathesis.toml
        assert run.returncode == 0, run.stdout[-6000:]
        assert "No issues found" in run.stdout or " passed" in run.stdout, run.stdout[-3000:]
        assert "Exception in ASGI application" not in log.text


def test_every_answer_is_documented_and_405_lists_allow(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGRAPH_EMBEDDER", "none")
    with running_server(tmp_path) as (server, _), client_for(server.url) as http:
        document = http.get("/api/v1/openapi.json").json()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                declared = set(operation["responses"])
                assert {"400", "404", "429", "500"} <= declared, (method, path)
                assert "HTTPValidationError" not in str(operation), (method, path)
                if method != "get":
                    assert {"413", "422"} <= declared, (method, path)
        jwks = document["paths"]["/api/v1/trust-passport-public-key"]["get"]["responses"]
        assert list(jwks["200"]["content"]) == ["application/jwk-set+json"]
        answer = http.get("/api/v1/trust-passport-public-key")
        assert answer.headers["content-type"] == "application/jwk-set+json"
        refused = http.request("PUT", "/api/v1/artifacts")
        assert refused.status_code == 405
        assert refused.headers["allow"].replace(" ", "").split(",") == ["GET", "HEAD", "POST"]
