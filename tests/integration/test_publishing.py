"""Publishing manifests over HTTP and the CLI: auth, idempotence, immutable version history."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.integration.conftest import (
    assert_problem,
    invoke,
    manifest,
    to_yaml,
    write_manifest,
)

YAML = {"content-type": "application/yaml"}


def _publish(http: httpx.Client, key: str, body: str, *, header: str = "bearer"
             ) -> httpx.Response:
    auth = {"authorization": f"Bearer {key}"} if header == "bearer" else {"x-api-key": key}
    return http.post("/api/v1/artifacts", content=body, headers={**YAML, **auth})


def _signed(raw: bytes) -> str:
    """The signed ``passport`` object and ``_links`` of an envelope, in served order. Members
    beside them (a transparency-log proof) legitimately change as the log grows."""
    envelope = json.loads(raw)
    return json.dumps([envelope["passport"], envelope["_links"]])


def _versions(http: httpx.Client, slug: str) -> list[dict[str, object]]:
    response = http.get(f"/api/v1/artifacts/{slug}/versions")
    assert response.status_code == 200
    versions: list[dict[str, object]] = response.json()["versions"]
    return versions


@pytest.mark.parametrize("headers", [
    {},
    {"authorization": "Bearer cg_not-a-real-key"},
    {"x-api-key": "cg_not-a-real-key"},
    {"authorization": "Basic dXNlcjpwYXNz"},
    {"authorization": "Bearer"},
], ids=["none", "unknown-bearer", "unknown-x-api-key", "basic", "empty-bearer"])
def test_publishing_needs_a_valid_key(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.post("/api/v1/artifacts", content=to_yaml(manifest("no-key")),
                         headers={**YAML, **headers})
    assert_problem(response, 401, "unauthorized")
    assert response.headers.get("www-authenticate", "").startswith("Bearer")
    assert_problem(http.get("/api/v1/passport/no-key"), 404, "not-found")


def test_revoked_key_is_refused(server: Server, http: httpx.Client) -> None:
    secret = invoke(server.data_dir, "keys", "create", "--name", "short-lived").stdout.strip()
    listed = invoke(server.data_dir, "keys", "list").stdout
    key_id = next(line.split("\t")[0] for line in listed.splitlines() if "\tshort-lived\t" in line)
    assert secret not in listed  # the list never shows secrets
    assert _publish(http, secret, to_yaml(manifest("revoked-key"))).status_code == 201
    invoke(server.data_dir, "keys", "revoke", key_id)
    assert_problem(_publish(http, secret, to_yaml(manifest("revoked-key", revision=1))), 401,
                   "unauthorized")
    assert len(_versions(http, "revoked-key")) == 1


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_publish_then_republish_then_change(
    http: httpx.Client, server: Server, api_key: str, header: str
) -> None:
    slug = f"pub-{header}"
    first = _publish(http, api_key, to_yaml(manifest(slug)), header=header)
    assert first.status_code == 201, first.text
    result = first.json()
    assert result["slug"] == slug and result["version"] == 1 and result["created"] is True
    assert first.headers["location"] == f"{server.url}/api/v1/artifacts/{slug}/versions/1"
    v1_bytes = http.get(first.headers["location"]).content
    v1 = _signed(v1_bytes)
    assert json.loads(v1_bytes)["passport"]["version"] == 1
    assert _signed(http.get(f"/api/v1/passport/{slug}").content) == v1

    again = _publish(http, api_key, to_yaml(manifest(slug)), header=header)
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False
    assert again.json()["version"] == 1
    assert again.json()["contentHash"] == result["contentHash"]
    assert len(_versions(http, slug)) == 1
    assert _signed(http.get(f"/api/v1/passport/{slug}").content) == v1  # not even re-signed

    # The same manifest as JSON is the same content: still no new version.
    as_json = http.post("/api/v1/artifacts", json=manifest(slug),
                        headers={"authorization": f"Bearer {api_key}"})
    assert as_json.status_code == 200 and as_json.json()["created"] is False

    changed = _publish(http, api_key, to_yaml(manifest(slug, revision=1)), header=header)
    assert changed.status_code == 201, changed.text
    assert changed.json()["version"] == 2 and changed.json()["created"] is True
    assert changed.headers["location"].endswith(f"/api/v1/artifacts/{slug}/versions/2")

    versions = _versions(http, slug)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["contentHash"] == result["contentHash"]
    assert versions[1]["contentHash"] == changed.json()["contentHash"] != result["contentHash"]
    for v in versions:
        assert str(v["url"]).startswith(server.url)

    # History is immutable: version 1 is served exactly as before, and still verifies.
    assert _signed(http.get(f"/api/v1/artifacts/{slug}/versions/1").content) == v1
    assert _signed(http.get(f"/api/v1/passport/{slug}", params={"version": 1}).content) == v1
    assert http.post("/api/v1/verify", content=v1_bytes).json()["valid"] is True
    latest = http.get(f"/api/v1/passport/{slug}").json()
    assert latest["passport"]["version"] == 2
    assert "Revision 1" in latest["passport"]["unfragile"]["capabilities"][0]["description"]
    assert http.get("/api/v1/verify", params={"slug": slug}).json()["valid"] is True

    artifact = http.get(f"/api/v1/artifacts/{slug}").json()
    assert artifact["latestVersion"] == 2
    assert [v["version"] for v in artifact["versions"]] == [1, 2]


def test_invalid_manifest_is_refused_with_its_errors(http: httpx.Client, api_key: str) -> None:
    data = manifest("invalid-pub")
    data["capabilities"][0]["description"] = "short"
    body = assert_problem(_publish(http, api_key, to_yaml(data)), 422, "invalid-manifest")
    assert {"path": "capabilities[0].description", "code": "too-short"}.items() <= \
        body["errors"][0].items()
    assert_problem(http.get("/api/v1/artifacts/invalid-pub/versions"), 404, "not-found")


def test_cli_publish_is_served_immediately(
    http: httpx.Client, server: Server, tmp_path: Path
) -> None:
    slug = "cli-published"
    path = write_manifest(tmp_path, "unfragile.yml", manifest(slug))
    assert_problem(http.get(f"/api/v1/passport/{slug}"), 404, "not-found")  # warm any cache

    result = invoke(server.data_dir, "publish", str(path))
    assert f"{slug}: version 1 (new version)" in result.stdout
    served = http.get(f"/api/v1/passport/{slug}")  # no waiting: the write is committed
    assert served.status_code == 200
    assert served.json()["passport"]["version"] == 1

    again = invoke(server.data_dir, "publish", str(path))
    assert f"{slug}: version 1 (unchanged)" in again.stdout

    write_manifest(tmp_path, "unfragile.yml", manifest(slug, revision=7))
    invoke(server.data_dir, "publish", str(path))
    assert http.get(f"/api/v1/passport/{slug}").json()["passport"]["version"] == 2
    assert "rank" in invoke(server.data_dir, "versions", slug).stdout


def test_cli_publish_refuses_an_invalid_manifest(server: Server, tmp_path: Path) -> None:
    data = manifest("cli-invalid")
    data["artifact"]["type"] = "spaceship"
    path = write_manifest(tmp_path, "bad.yml", data)
    result = invoke(server.data_dir, "publish", str(path), check=False)
    assert result.returncode == 1
    assert "artifact.type: enum" in result.stderr
    assert "Traceback" not in result.stderr
    assert invoke(server.data_dir, "versions", "cli-invalid", check=False).returncode == 1
