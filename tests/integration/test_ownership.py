"""Ownership over real HTTP: owners, maintainers and transfers; http and dns claims against a
real local web server and a real local DNS server; every change on the transparency log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from capgraph.core import translog
from capgraph.core.compose import NOTE_UNVERIFIED
from capgraph.core.offline import verify_envelope
from tests.conftest import Server
from tests.integration.conftest import (
    assert_problem,
    client_for,
    invoke,
    manifest,
    running_server,
    to_yaml,
)
from tests.integration.logaudit import audit, entries, leaf, mth, ownership_entry, verifier_of
from tests.proofservers import LocalDns, ProofSite, proof_servers


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ProofSite, LocalDns]]:
    with proof_servers() as found:
        yield found


@pytest.fixture(scope="module")
def live(servers: tuple[ProofSite, LocalDns], tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Server]:
    """A server that may fetch proofs from loopback and asks the local DNS server."""
    _, txt = servers
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAPGRAPH_CLAIM_ALLOW_PRIVATE_NETWORKS", "true")
        patch.setenv("CAPGRAPH_DNS_NAMESERVERS", f"127.0.0.1:{txt.port}")
        with running_server(tmp_path_factory.mktemp("owned")) as (srv, _):
            yield srv


@pytest.fixture(scope="module")
def http(live: Server) -> Iterator[httpx.Client]:
    with client_for(live.url) as client:
        yield client


def key_for(server: Server, name: str, *publisher: str) -> tuple[str, str]:
    """A new key (and its publisher id): ``capgraph keys create``."""
    extra = ["--publisher", publisher[0]] if publisher else []
    secret = invoke(server.data_dir, "keys", "create", "--name", name, *extra).stdout.strip()
    listed = invoke(server.data_dir, "keys", "list").stdout.splitlines()
    return secret, listed[-1].split("\t")[-1]


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def widget(slug: str, *, url: str | None = None, revision: int = 0) -> str:
    data = manifest(slug, revision=revision)
    if url is not None:
        data["artifact"]["homepage"] = url
        data["artifact"]["repository"] = url
    return to_yaml(data)


def publish(http: httpx.Client, secret: str, text: str) -> httpx.Response:
    return http.post("/api/v1/artifacts", content=text, headers={
        **auth(secret), "Content-Type": "application/yaml"})


def log_size(http: httpx.Client) -> int:
    return int(http.get("/api/v1/log/checkpoint").text.splitlines()[1])


def ownership_events(http: httpx.Client, slug: str) -> list[str]:
    out = []
    for data in entries(http, log_size(http)):
        entry = ownership_entry(data)
        if entry is not None and entry["slug"] == slug:
            out.append(entry["event"])
    return out


def test_a_second_publisher_is_refused_and_nothing_changes(http: httpx.Client,
                                                           live: Server) -> None:
    owner, owner_id = key_for(live, "owner")
    other, _ = key_for(live, "other")
    assert publish(http, owner, widget("owned-widget")).status_code == 201
    before = http.get("/api/v1/passport/owned-widget").json()["passport"]
    size = log_size(http)
    refused = publish(http, other, widget("owned-widget", revision=1))
    assert_problem(refused, 403, "not-owner")
    imported = http.post("/api/v1/import", json={"passport": before}, headers=auth(other))
    assert_problem(imported, 403, "not-owner")
    assert http.get("/api/v1/passport/owned-widget").json()["passport"] == before
    assert log_size(http) == size
    shown = http.get("/api/v1/artifacts/owned-widget/ownership").json()
    assert (shown["owner"], shown["maintainers"], shown["verified"]) == (owner_id, [], False)
    assert ownership_events(http, "owned-widget") == ["owner-set"]


def test_owners_add_and_remove_maintainers_and_transfer(http: httpx.Client,
                                                        live: Server) -> None:
    owner, owner_id = key_for(live, "maker")
    helper, helper_id = key_for(live, "helper")
    teammate, _ = key_for(live, "teammate", owner_id)  # a second key of the same publisher
    assert publish(http, owner, widget("team-widget")).status_code == 201
    assert publish(http, teammate, widget("team-widget", revision=1)).status_code == 201
    assert_problem(http.post("/api/v1/artifacts/team-widget/maintainers",
                             json={"publisher": helper_id}, headers=auth(helper)), 403,
                   "not-owner")
    added = http.post("/api/v1/artifacts/team-widget/maintainers",
                      json={"publisher": helper_id}, headers=auth(owner))
    assert added.json()["maintainers"] == [helper_id]
    assert publish(http, helper, widget("team-widget", revision=2)).status_code == 201
    removed = http.delete(f"/api/v1/artifacts/team-widget/maintainers/{helper_id}",
                          headers=auth(owner))
    assert removed.json()["maintainers"] == []
    assert_problem(publish(http, helper, widget("team-widget", revision=3)), 403, "not-owner")
    moved = http.post("/api/v1/artifacts/team-widget/transfer",
                      json={"publisher": helper_id}, headers=auth(owner))
    assert moved.json()["owner"] == helper_id
    assert publish(http, helper, widget("team-widget", revision=3)).status_code == 201
    assert_problem(publish(http, owner, widget("team-widget", revision=4)), 403, "not-owner")
    assert ownership_events(http, "team-widget") == [
        "owner-set", "maintainer-added", "maintainer-removed", "transferred"]
    invoke(live.data_dir, "owners", "reassign", "team-widget", owner_id)
    assert http.get("/api/v1/artifacts/team-widget/ownership").json()["owner"] == owner_id
    assert ownership_events(http, "team-widget")[-1] == "reassigned"
    audit(http, verifier_of(http))  # versions and ownership entries account for the log


def test_an_unowned_artifact_must_be_claimed(http: httpx.Client, live: Server,
                                             tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text(widget("operator-widget"))
    invoke(live.data_dir, "publish", str(path))  # the operator's: no owner
    secret, _ = key_for(live, "grabber")
    body = assert_problem(publish(http, secret, widget("operator-widget", revision=1)), 403,
                          "not-owner")
    assert "claim" in body["detail"]
    assert http.get("/api/v1/artifacts/operator-widget/ownership").json()["owner"] is None


def _operator_publish(live: Server, tmp_path: Path, slug: str, url: str) -> None:
    path = tmp_path / f"{slug}.yml"
    path.write_text(widget(slug, url=url))
    invoke(live.data_dir, "publish", str(path))


def _claim(http: httpx.Client, secret: str, slug: str, method: str) -> dict[str, Any]:
    started = http.post("/api/v1/claims", json={"slug": slug, "method": method},
                        headers=auth(secret))
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    assert set(body) >= {"claimId", "token", "method", "instructions", "expiresAt"}
    return body


def _assert_verified(http: httpx.Client, slug: str, method: str, before_size: int) -> None:
    envelope = http.get(f"/api/v1/passport/{slug}").json()
    passport = envelope["passport"]
    assert passport["unfragile"]["artifact"]["verified"] is True
    assert passport["unfragile"]["trust"]["verified"] is True
    assert NOTE_UNVERIFIED not in passport["unfragile"]["trust"]["failure_modes"]
    assert any(method in str(v) for v in passport["provenance"].values()), passport["provenance"]
    jwks = http.get("/api/v1/trust-passport-public-key").json()
    verify_envelope(envelope, jwks, require_log=True)  # signed, and in the log
    assert ownership_events(http, slug)[-1] == "verified"
    size = log_size(http)
    proof = http.get("/api/v1/log/proof/consistency",
                     params={"from": before_size, "size": size}).json()
    old_root = _root(http, before_size)
    new_root = _root(http, size)
    translog.verify_consistency(before_size, size, old_root, new_root,
                                [base64.b64decode(h) for h in proof["hashes"]])


def _root(http: httpx.Client, size: int) -> bytes:
    return mth([leaf(d) for d in entries(http, size)])


def test_an_http_claim_verifies_the_builder(http: httpx.Client, live: Server,
                                            servers: tuple[ProofSite, LocalDns],
                                            tmp_path: Path) -> None:
    site, _ = servers
    _operator_publish(live, tmp_path, "web-widget", f"{site.origin}/web-widget")
    secret, publisher = key_for(live, "web-builder")
    claim = _claim(http, secret, "web-widget", "http")
    before = log_size(http)
    site.files["/.well-known/unfragile.json"] = (200, json.dumps(
        {"unfragile-claim": ["something-else", claim["token"]]}).encode())
    done = http.post(f"/api/v1/claims/{claim['claimId']}/verify", headers=auth(secret))
    assert done.status_code == 200, done.text
    assert (done.json()["owner"], done.json()["verified"]) == (publisher, True)
    _assert_verified(http, "web-widget", "http", before)
    strict = http.post("/api/v1/resolve", json={"intent": "look up a postcode",
                                                "risk": "strict", "limit": 5}).json()
    assert [r["artifact"]["slug"] for r in strict["resolved"]] == ["web-widget"], strict


def test_a_dns_claim_verifies_the_builder(http: httpx.Client, live: Server,
                                          servers: tuple[ProofSite, LocalDns],
                                          tmp_path: Path) -> None:
    _, txt = servers
    _operator_publish(live, tmp_path, "dns-widget", "https://dns-widget.example/app")
    secret, _ = key_for(live, "dns-builder")
    claim = _claim(http, secret, "dns-widget", "dns")
    before = log_size(http)
    txt.records["_unfragile.dns-widget.example"] = [f'"unfragile-claim={claim["token"]}"']
    done = http.post(f"/api/v1/claims/{claim['claimId']}/verify", headers=auth(secret))
    assert done.status_code == 200, done.text
    _assert_verified(http, "dns-widget", "dns", before)


def test_a_wrong_token_is_refused_with_what_was_seen_and_nothing_changes(
        http: httpx.Client, live: Server, servers: tuple[ProofSite, LocalDns],
        tmp_path: Path) -> None:
    _, txt = servers
    _operator_publish(live, tmp_path, "wrong-widget", "https://wrong-widget.example/")
    secret, _ = key_for(live, "wrong-builder")
    claim = _claim(http, secret, "wrong-widget", "dns")
    txt.records["_unfragile.wrong-widget.example"] = ['"unfragile-claim=not-the-token"']
    before = http.get("/api/v1/passport/wrong-widget").json()["passport"]
    size = log_size(http)
    refused = http.post(f"/api/v1/claims/{claim['claimId']}/verify", headers=auth(secret))
    body = assert_problem(refused, 422, "claim-failed")
    assert "_unfragile.wrong-widget.example" in body["lookedUp"]
    assert body["found"]
    assert http.get("/api/v1/passport/wrong-widget").json()["passport"] == before
    assert log_size(http) == size
    other, _ = key_for(live, "someone-else")
    assert_problem(http.post(f"/api/v1/claims/{claim['claimId']}/verify",
                             headers=auth(other)), 403, "not-owner")


def test_a_registry_without_the_test_setting_refuses_loopback(
        servers: tuple[ProofSite, LocalDns], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    site, _ = servers
    monkeypatch.delenv("CAPGRAPH_CLAIM_ALLOW_PRIVATE_NETWORKS", raising=False)
    with running_server(tmp_path / "strict") as (srv, _), client_for(srv.url) as client:
        _operator_publish(srv, tmp_path, "local-widget", f"{site.origin}/local-widget")
        secret, _ = key_for(srv, "local-builder")
        claim = _claim(client, secret, "local-widget", "http")
        site.files["/.well-known/unfragile.json"] = (200, json.dumps(
            {"unfragile-claim": claim["token"]}).encode())
        seen = len(site.requests)
        refused = client.post(f"/api/v1/claims/{claim['claimId']}/verify",
                              headers=auth(secret))
        assert_problem(refused, 422, "claim-failed")
        assert len(site.requests) == seen  # nothing was fetched
        assert client.get("/api/v1/artifacts/local-widget/ownership").json()["owner"] is None


WELL_KNOWN = "/.well-known/unfragile.json"


@pytest.mark.parametrize("serve", ["redirect-to-another-host", "10-mb", "slow"])
def test_an_unsafe_proof_is_refused_with_a_clear_problem_and_nothing_changes(
        http: httpx.Client, live: Server, servers: tuple[ProofSite, LocalDns],
        tmp_path: Path, serve: str) -> None:
    site, _ = servers
    slug = f"unsafe-{serve}"
    _operator_publish(live, tmp_path, slug, f"{site.origin}/{slug}")
    secret, _ = key_for(live, f"{slug}-builder")
    claim = _claim(http, secret, slug, "http")
    proof = json.dumps({"unfragile-claim": claim["token"]}).encode()
    if serve == "redirect-to-another-host":  # the token is there, on another host name
        site.files[WELL_KNOWN] = (302, b"")
        site.headers[WELL_KNOWN] = {
            "Location": f"http://localhost:{site.port}/elsewhere/unfragile.json"}
        site.files["/elsewhere/unfragile.json"] = (200, proof)
    elif serve == "10-mb":  # the token, after 10 MB of padding
        site.files[WELL_KNOWN] = (200, b" " * 10_000_000 + proof)
    else:  # the token, after longer than the 5 s deadline
        site.files[WELL_KNOWN] = (200, proof)
        site.delays[WELL_KNOWN] = 7.0
    before = http.get(f"/api/v1/passport/{slug}").json()["passport"]
    size = log_size(http)
    try:
        refused = http.post(f"/api/v1/claims/{claim['claimId']}/verify", headers=auth(secret),
                            timeout=30)
    finally:
        site.headers.pop(WELL_KNOWN, None)
        site.delays.pop(WELL_KNOWN, None)
    body = assert_problem(refused, 422, "claim-failed")
    assert WELL_KNOWN in json.dumps(body["lookedUp"]) and body["found"], body
    assert http.get(f"/api/v1/passport/{slug}").json()["passport"] == before
    assert log_size(http) == size
    owner = http.get(f"/api/v1/artifacts/{slug}/ownership").json()
    assert owner["owner"] is None and owner["verified"] is False, owner


def test_a_builder_gets_a_key_by_proving_a_domain(http: httpx.Client, live: Server,
                                                  servers: tuple[ProofSite, LocalDns],
                                                  tmp_path: Path) -> None:
    _, dns_server = servers
    _operator_publish(live, tmp_path, "corp-widget", "https://tools.corp.example/widget")
    _operator_publish(live, tmp_path, "far-widget", "https://elsewhere.example/widget")
    started = http.post("/api/v1/publishers", json={"domain": "corp.example", "method": "dns"})
    assert started.status_code == 201, started.text
    claim = started.json()
    assert "_unfragile.corp.example" in claim["instructions"]
    # Not proven yet: no key, nothing stored.
    publishers = invoke(live.data_dir, "owners", "publishers").stdout
    assert_problem(http.post(f"/api/v1/claims/{claim['claimId']}/verify"), 422, "claim-failed")
    assert invoke(live.data_dir, "owners", "publishers").stdout == publishers
    dns_server.records["_unfragile.corp.example"] = [f'"unfragile-claim={claim["token"]}"']
    issued = http.post(f"/api/v1/claims/{claim['claimId']}/verify")
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["domain"] == "corp.example" and body["key"].startswith("cg_")
    assert f"{body['publisher']}\t" in invoke(live.data_dir, "owners", "publishers").stdout
    # The key owns the domain's unowned artifacts, and nothing else.
    assert publish(http, body["key"], widget("corp-widget", url="https://tools.corp.example/widget",
                                             revision=1)).status_code == 201
    owned = http.get("/api/v1/artifacts/corp-widget/ownership").json()
    assert owned["owner"] == body["publisher"]
    assert_problem(publish(http, body["key"], widget(
        "far-widget", url="https://elsewhere.example/widget", revision=1)), 403, "not-owner")
    # the key is shown once: verifying again issues nothing new
    again = http.post(f"/api/v1/claims/{claim['claimId']}/verify")
    assert again.status_code != 201 and body["key"] not in again.text
