"""`capgraph validate` and POST /api/v1/validate: the same findings for the same file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.integration.conftest import (
    InProcess,
    assert_problem,
    in_process,
    invoke,
    manifest,
    to_yaml,
    write_manifest,
)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    """The API in-process: validation is stateless, so no server process is needed here."""
    with in_process(tmp_path_factory.mktemp("validate-data")) as (client, _):
        yield client


_LINE = re.compile(r"^(?P<file>.+?): (?P<path>\S+): (?P<label>(?:warning )?[a-z-]+): (?P<msg>.+)$")


def _cli_findings(output: str, file: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Parse `FILE: path: code: message` lines into (errors, warnings) as the API shapes them."""
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    for line in output.splitlines():
        match = _LINE.match(line)
        assert match, f"not a `FILE: path: code: message` line: {line!r}"
        assert match["file"] == str(file)
        label = match["label"]
        finding = {"path": match["path"], "code": label.removeprefix("warning "),
                   "message": match["msg"]}
        (warnings if label.startswith("warning ") else errors).append(finding)
    return errors, warnings


def _broken() -> dict[str, Any]:
    data = manifest("broken-widget")
    data["artifact"]["type"] = "spaceship"
    data["artifact"]["slug"] = "Not A Slug"
    del data["artifact"]["maintainer"]
    data["capabilities"][1]["description"] = "too short"
    data["capabilities"][2]["intents_served"] = []
    data["pricing"]["model"] = "barter"
    data["execution"]["protocol"] = "carrier-pigeon"
    data["mystery"] = True  # a warning among the errors
    return data


def _warnings_only() -> dict[str, Any]:
    data = manifest("warned-widget")
    data["capabilities"] = data["capabilities"][:2]
    del data["failure_modes"]
    del data["execution"]
    return data


CASES = {"broken": _broken, "warnings-only": _warnings_only, "clean": lambda: manifest("clean")}


def test_cli_prints_one_line_per_finding_and_fails_on_errors(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, "broken.yml", _broken())
    result = run_cli(tmp_path / "data", "validate", str(path), check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    errors, warnings = _cli_findings(result.stdout, path)
    codes = {(e["path"], e["code"]) for e in errors}
    assert {
        ("artifact.slug", "slug"),
        ("artifact.type", "enum"),
        ("artifact.maintainer", "required"),
        ("capabilities[1].description", "too-short"),
        ("capabilities[2].intents_served", "empty"),
        ("pricing.model", "enum"),
        ("execution.protocol", "enum"),
    } <= codes, codes
    assert ("mystery", "unknown-field") in {(w["path"], w["code"]) for w in warnings}
    assert "Traceback" not in result.stderr


def test_cli_exits_zero_when_there_are_only_warnings(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, "warned.yml", _warnings_only())
    result = invoke(tmp_path / "data", "validate", str(path), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    errors, warnings = _cli_findings(result.stdout, path)
    assert errors == []
    assert {w["code"] for w in warnings} == {"few-capabilities", "no-failure-modes",
                                             "no-execution"}


def test_cli_says_ok_for_a_clean_manifest_and_checks_every_file(tmp_path: Path) -> None:
    clean = write_manifest(tmp_path, "clean.yml", manifest("clean"))
    broken = write_manifest(tmp_path, "broken.json", _broken(), as_json=True)
    result = invoke(tmp_path / "data", "validate", str(clean), str(broken), check=False)
    assert result.returncode == 1
    assert f"{clean}: ok" in result.stdout.splitlines()
    assert any(line.startswith(f"{broken}: ") for line in result.stdout.splitlines())


def test_cli_reports_malformed_yaml_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("unfragile_version: '1.0'\nartifact: [1, 2\ncapabilities: {}\n")
    result = invoke(tmp_path / "data", "validate", str(path), check=False)
    assert result.returncode == 1
    assert re.match(rf"^{re.escape(str(path))}: line \d+, column \d+: parse-error: ",
                    result.stdout), result.stdout


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("as_json", [False, True], ids=["yaml", "json"])
def test_api_reports_the_same_findings_as_the_cli(
    http: InProcess, tmp_path: Path, case: str, as_json: bool
) -> None:
    data = CASES[case]()
    path = write_manifest(tmp_path, "m.json" if as_json else "m.yml", data, as_json=as_json)
    cli = invoke(tmp_path / "data", "validate", str(path), check=False)
    kind = "application/json" if as_json else "application/yaml"
    response = http.post("/api/v1/validate", content=path.read_bytes(),
                         headers={"content-type": kind})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    report = response.json()
    assert set(report) == {"valid", "errors", "warnings"}
    for finding in report["errors"] + report["warnings"]:
        assert set(finding) == {"path", "code", "message"}
    assert report["valid"] is (cli.returncode == 0) is (report["errors"] == [])
    if case == "clean":
        assert cli.stdout.strip() == f"{path}: ok"
        assert report["errors"] == report["warnings"] == []
        return
    errors, warnings = _cli_findings(cli.stdout, path)
    assert report["errors"] == errors
    assert report["warnings"] == warnings


def test_api_takes_yaml_and_json_bodies_alike(http: InProcess) -> None:
    data = _broken()
    as_yaml = http.post("/api/v1/validate", content=to_yaml(data),
                        headers={"content-type": "application/yaml"}).json()
    as_json = http.post("/api/v1/validate", json=data).json()
    # No Content-Type at all: the parser sniffs JSON from the leading brace, YAML otherwise.
    sniffed_json = http.post("/api/v1/validate", content=json.dumps(data)).json()
    sniffed_yaml = http.post("/api/v1/validate", content=to_yaml(data)).json()
    assert as_yaml == as_json == sniffed_json == sniffed_yaml
    assert as_yaml["valid"] is False


def test_validate_never_writes(http: InProcess) -> None:
    before = http.get("/api/v1/artifacts").json()
    assert http.post("/api/v1/validate", json=manifest("validate-only")).json()["valid"]
    assert http.get("/api/v1/artifacts").json() == before
    assert_problem(http.get("/api/v1/passport/validate-only"), 404, "not-found")
