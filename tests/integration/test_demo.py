"""`capgraph demo` fills an empty registry with a varied, valid catalogue."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO
from tests.integration.conftest import InProcess, in_process, invoke

YAML = {"content-type": "application/yaml"}


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("demo-data")
    result = invoke(data, "demo")
    match = re.search(r"demo: (\d+) new, 0 unchanged", result.stdout)
    assert match, result.stdout + result.stderr
    return data


@pytest.fixture(scope="module")
def demo_http(demo_data: Path) -> Iterator[InProcess]:
    """The API over the demo data dir, in-process: reads need no server process."""
    with in_process(demo_data) as (client, _):
        yield client


@pytest.fixture(scope="module")
def listing(demo_http: InProcess) -> list[dict[str, Any]]:
    response = demo_http.get("/api/v1/artifacts", params={"limit": 500})
    assert response.status_code == 200
    artifacts: list[dict[str, Any]] = response.json()["artifacts"]
    assert response.json()["total"] == len(artifacts)
    return artifacts


def test_demo_loads_many_artifacts_of_many_types(listing: list[dict[str, Any]]) -> None:
    types = Counter(a["type"] for a in listing)
    assert len(listing) >= 30, f"{len(listing)} demo artifacts: {sorted(types.items())}"
    assert len(types) >= 8, f"{len(types)} types: {sorted(types.items())}"
    assert len(listing) == len(list(DEMO.glob("*.yml")) + list(DEMO.glob("*.yaml")))


def test_every_demo_artifact_has_three_capabilities_and_verifies(
    demo_http: InProcess, listing: list[dict[str, Any]]
) -> None:
    thin: dict[str, int] = {}
    for artifact in listing:
        envelope = demo_http.get(f"/api/v1/passport/{artifact['slug']}").json()
        body = envelope["passport"]["unfragile"]
        assert body["artifact"]["type"] == artifact["type"]
        assert body["trust"]["score"] == artifact["unfragileRank"]
        if len(body["capabilities"]) < 3:
            thin[artifact["slug"]] = len(body["capabilities"])
        verified = demo_http.post("/api/v1/verify", content=demo_http.get(
            f"/api/v1/passport/{artifact['slug']}").content).json()
        assert verified["valid"] is True, (artifact["slug"], verified)
    assert not thin, f"demo artifacts with fewer than 3 capabilities: {thin}"


def test_every_demo_manifest_validates_without_errors(tmp_path: Path) -> None:
    # Through the CLI, needing no loaded registry: a broken file is reported by name here even
    # when it stops `capgraph demo` from loading at all.
    files = sorted(DEMO.glob("*.yml"))
    cli = invoke(tmp_path, "validate", *map(str, files), check=False)
    failing: dict[str, list[str]] = {}
    for line in cli.stdout.splitlines():
        name, _, finding = line.partition(": ")
        if finding != "ok" and ": warning " not in f": {finding}":
            failing.setdefault(Path(name).name, []).append(finding)
    assert not failing, f"demo manifests with errors: {failing}"
    assert cli.returncode == 0, cli.stdout


def test_the_api_agrees_that_every_demo_manifest_is_valid(demo_http: InProcess) -> None:
    invalid = {}
    for path in sorted(DEMO.glob("*.yml")):
        report = demo_http.post("/api/v1/validate", content=path.read_bytes(),
                                headers=YAML).json()
        if not report["valid"]:
            invalid[path.name] = [f"{e['path']}: {e['code']}" for e in report["errors"]]
    assert not invalid, f"demo manifests with errors: {invalid}"


def test_demo_again_changes_nothing(demo_data: Path, demo_http: InProcess,
                                    listing: list[dict[str, Any]]) -> None:
    result = invoke(demo_data, "demo")
    assert result.stdout.strip() == f"demo: 0 new, {len(listing)} unchanged"
    again = demo_http.get("/api/v1/artifacts", params={"limit": 500}).json()["artifacts"]
    assert [(a["slug"], a["latestVersion"]) for a in again] == \
        [(a["slug"], a["latestVersion"]) for a in listing]
