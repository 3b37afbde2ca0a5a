"""Signing keys over their life, with a real server and the CLI on the same data directory:
rotation keeps old passports verifying, new publishes use the new key at once, revocation makes
what a key signed fail with a reason that says so; the log key never changes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.core.offline import verify_envelope
from capgraph.errors import SignatureInvalid
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from tests.conftest import Server
from tests.integration.conftest import client_for, invoke, running_server
from tests.integration.logaudit import audit, demo_manifest, verifier_of


@dataclass
class Live:
    server: Server
    http: httpx.Client
    key: str

    def publish(self, slug: str, *, revision: int = 0) -> dict[str, Any]:
        response = self.http.post(
            "/api/v1/artifacts", content=demo_manifest(slug, revision=revision),
            headers={"content-type": "application/yaml", "authorization": f"Bearer {self.key}"})
        assert response.status_code == 201, response.text
        return self.envelope(slug)

    def envelope(self, slug: str) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get(f"/api/v1/passport/{slug}").json()
        return data

    def jwks(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/api/v1/trust-passport-public-key").json()
        return data

    def verify(self, slug: str) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/api/v1/verify", params={"slug": slug}).json()
        return data

    def cli(self, *args: str, check: bool = True) -> tuple[int, str]:
        result = invoke(self.server.data_dir, *args, check=check)
        return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("keys") / "data"
    key = invoke(data, "keys", "create", "--name", "lifecycle").stdout.strip()
    with running_server(data) as (srv, _), client_for(srv.url) as http:
        yield Live(srv, http, key)


def by_kid(jwks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k["kid"]: k for k in jwks["keys"] if k.get("purpose") != "checkpoint"}


def offline(envelope: dict[str, Any], jwks: dict[str, Any], folder: Path) -> tuple[int, str]:
    folder.mkdir(exist_ok=True)
    (folder / "envelope.json").write_text(json.dumps(envelope))
    (folder / "jwks.json").write_text(json.dumps(jwks))
    result = invoke(folder / "no-data", "verify", str(folder / "envelope.json"), "--keys",
                    str(folder / "jwks.json"), "--require-log", check=False)
    return result.returncode, result.stdout


def test_rotation_and_revocation_through_the_cli_reach_the_running_server(
        live: Live, tmp_path: Path) -> None:
    old = live.publish("signed-before-rotation")
    old_kid = old["passport"]["keyId"]
    log_key_before = verifier_of(live.http).encode()

    code, out = live.cli("keys", "rotate")
    new_kid = out.split()[-1]
    assert code == 0 and new_kid != old_kid

    # the running server signs with the new key at once, and serves both keys
    new = live.publish("signed-after-rotation")
    assert new["passport"]["keyId"] == new_kid
    keys = by_kid(live.jwks())
    assert keys[old_kid]["status"] == "retired" and "exp" in keys[old_kid]
    assert keys[old_kid]["nbf"] <= old["passport"]["signedAt"] <= keys[old_kid]["exp"]
    assert keys[new_kid]["status"] == "active" and "exp" not in keys[new_kid]
    assert keys[new_kid]["nbf"] >= keys[old_kid]["exp"]
    assert verifier_of(live.http).encode() == log_key_before, "the log key never rotates"

    # a passport signed before the rotation still verifies, online and offline
    report = live.verify("signed-before-rotation")
    assert report["valid"] and report["keyId"] == old_kid, report
    code, out = offline(old, live.jwks(), tmp_path / "old")
    assert code == 0 and "retired" in out and "included in log" in out, out
    assert live.verify("signed-after-rotation")["valid"]

    # a new version of an old artifact is signed by the new key
    again = live.publish("signed-before-rotation", revision=1)
    assert again["passport"]["keyId"] == new_kid and again["passport"]["version"] == 2

    # revoking the old key makes what it signed fail, everywhere, saying why
    kept_old = live.http.get("/api/v1/passport/signed-before-rotation?version=1").json()
    code, _ = live.cli("keys", "revoke-signing", old_kid)
    assert code == 0
    assert by_kid(live.jwks())[old_kid]["status"] == "revoked"
    posted = live.http.post("/api/v1/verify", json=kept_old).json()
    assert not posted["valid"] and any("revoked" in r for r in posted["reasons"]), posted
    code, out = offline(kept_old, live.jwks(), tmp_path / "revoked")
    assert code == 1 and "revoked" in out, out
    with pytest.raises(SignatureInvalid, match="revoked"):
        verify_envelope(kept_old, live.jwks())
    assert live.verify("signed-after-rotation")["valid"]
    assert live.verify("signed-before-rotation")["valid"]  # its latest version is the new key's


def test_verify_by_slug_reports_a_revoked_key(live: Live) -> None:
    envelope = live.publish("revoked-by-slug")
    code, _ = live.cli("keys", "rotate")
    assert code == 0
    code, _ = live.cli("keys", "revoke-signing", envelope["passport"]["keyId"])
    assert code == 0
    report = live.verify("revoked-by-slug")
    assert report["valid"] is False
    assert report["keyId"] == envelope["passport"]["keyId"]
    assert any("revoked" in r for r in report["reasons"]), report


def test_revoking_an_unknown_key_fails(live: Live) -> None:
    code, out = live.cli("keys", "revoke-signing", "no-such-kid", check=False)
    assert code == 1 and "no-such-kid" in out


def test_a_kid_starting_with_a_dash_is_a_kid_not_an_option(live: Live) -> None:
    """Thumbprints are base64url: "-" is a possible first character (a CI run met one)."""
    code, out = live.cli("keys", "revoke-signing", "-2qZ9unknownkid", check=False)
    assert code == 1 and "-2qZ9unknownkid" in out and "No such option" not in out


def test_publishes_racing_rotations_all_verify(live: Live) -> None:
    slugs: list[str] = []
    errors: list[str] = []

    def publish_many(thread: int) -> None:
        with httpx.Client(base_url=live.server.url, timeout=30) as client:
            for i in range(12):
                slug = f"race-{thread}-{i}"
                response = client.post(
                    "/api/v1/artifacts", content=demo_manifest(slug),
                    headers={"content-type": "application/yaml",
                             "authorization": f"Bearer {live.key}"})
                if response.status_code == 201:
                    slugs.append(slug)
                else:
                    errors.append(response.text)

    threads = [threading.Thread(target=publish_many, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        assert live.cli("keys", "rotate")[0] == 0
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert not errors and len(slugs) == 36
    invalid = {s: r for s in slugs if not (r := live.verify(s))["valid"]}
    assert not invalid, invalid
    audit(live.http, verifier_of(live.http))


def test_a_rotation_between_reading_the_clock_and_reading_the_key_ring(tmp_path: Path) -> None:
    """A rotation lands while a publish is composing: the publish must still produce a
    passport whose signedAt lies inside the validity window of the key that signed it."""
    start = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
    ticks = iter(range(1_000_000))
    keys = FileKeyStore(tmp_path / "keys")
    rotate_next = threading.Event()

    def clock() -> datetime:
        now = start + timedelta(milliseconds=10 * next(ticks))
        if rotate_next.is_set():  # another process rotates right after this read
            rotate_next.clear()
            keys.rotate(now + timedelta(milliseconds=5))
        return now

    registry = assemble_registry(store=MemoryStore(), keys=keys, registry_name="race",
                        public_url="http://race.test", clock=clock)
    first = registry.publish(demo_manifest("before"), hint="yaml").stored
    rotate_next.set()
    second = registry.publish(demo_manifest("during"), hint="yaml").stored
    assert second.key_id != first.key_id
    report = registry.verify_slug("during")
    assert report.valid, report.reasons
    assert registry.verify_slug("before").valid


def test_resign_reissues_what_a_revoked_key_signed_and_the_page_says_so(live: Live) -> None:
    envelope = live.publish("resigned-after-revocation")
    old_kid = envelope["passport"]["keyId"]
    assert live.cli("keys", "rotate")[0] == 0
    assert live.cli("keys", "revoke-signing", old_kid)[0] == 0
    page = live.http.get("/resigned-after-revocation").text
    assert "Signed with a revoked key" in page
    code, out = live.cli("keys", "resign")
    assert code == 0 and "resigned-after-revocation: version 2" in out, out
    report = live.verify("resigned-after-revocation")
    assert report["valid"] is True and report["keyId"] != old_kid, report
    again = live.envelope("resigned-after-revocation")["passport"]
    assert again["version"] == 2
    assert again["unfragile"] == envelope["passport"]["unfragile"]
    assert "revoked key" in again["provenance"]["resigned"]
    assert "re-signed 0 passport(s)" in live.cli("keys", "resign")[1]
    assert "✓ Signature valid" in live.http.get("/resigned-after-revocation").text
