"""The real seed passports through a real server: import, serve, verify online and offline."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SEEDS, Server, run_cli
from tests.integration.conftest import invoke

SEED_SCORES = {"qwen-qwen3-coder": 25, "qwen-qwen3.5-flash-02-23": 23}


def _seed(slug: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEEDS / f"{slug}.passport.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def imported(server: Server) -> list[str]:
    """Both seeds imported with ``capgraph import`` into the server's data dir."""
    paths = sorted(SEEDS.glob("*.passport.json"))
    assert len(paths) == 2, f"expected the two seed passports in {SEEDS}"
    result = server.cli("import", *map(str, paths))
    for slug, score in SEED_SCORES.items():
        assert f"{slug}: version 1 (new version), UnfragileRank {score}" in result.stdout
    return sorted(SEED_SCORES)


@pytest.mark.parametrize("slug", sorted(SEED_SCORES))
def test_served_body_is_the_seed_key_for_key_in_order(
    http: httpx.Client, imported: list[str], slug: str
) -> None:
    response = http.get(f"/api/v1/passport/{slug}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served = response.json()
    seed = _seed(slug)
    # json.dumps keeps key order, so this compares keys, values, nesting and order at once.
    assert json.dumps(served["passport"]["unfragile"]) == json.dumps(seed["passport"]["unfragile"])
    assert served["passport"]["unfragile"]["trust"]["score"] == SEED_SCORES[slug]
    # Members computed after signing (e.g. a transparency-log proof) may follow, never precede.
    assert list(served)[:2] == ["passport", "_links"]
    assert list(served["passport"])[:5] == ["unfragile", "signature", "signedAt", "signedBy",
                                            "version"]
    assert served["passport"]["version"] == 1


@pytest.mark.parametrize("slug", sorted(SEED_SCORES))
def test_links_point_at_the_serving_registry(
    http: httpx.Client, server: Server, imported: list[str], slug: str
) -> None:
    served = http.get(f"/api/v1/passport/{slug}").json()
    links = served["_links"]
    assert set(links) == set(_seed(slug)["_links"])
    for name, url in links.items():
        assert url.startswith(server.url + "/"), (name, url)
    assert links["self"] == f"{server.url}/api/v1/passport/{slug}"
    assert links["verify"] == f"{server.url}/api/v1/verify?slug={slug}"
    # The advertised links work against this server.
    assert http.get(links["self"]).content == http.get(f"/api/v1/passport/{slug}").content
    assert http.get(links["verify"]).json()["valid"] is True
    assert http.get(links["publicKey"]).status_code == 200


@pytest.mark.parametrize("slug", sorted(SEED_SCORES))
def test_verify_by_slug_is_valid_with_the_key_id(
    http: httpx.Client, imported: list[str], slug: str
) -> None:
    envelope = http.get(f"/api/v1/passport/{slug}").json()
    kids = [k["kid"] for k in http.get("/api/v1/trust-passport-public-key").json()["keys"]]
    report = http.get("/api/v1/verify", params={"slug": slug}).json()
    assert report["valid"] is True
    assert report["reasons"] == []
    assert report["slug"] == slug
    assert report["keyId"] == envelope["passport"]["keyId"]
    assert report["keyId"] in kids


@pytest.mark.parametrize("slug", sorted(SEED_SCORES))
def test_posted_served_envelope_verifies(
    http: httpx.Client, imported: list[str], slug: str
) -> None:
    raw = http.get(f"/api/v1/passport/{slug}").content
    report = http.post("/api/v1/verify", content=raw,
                       headers={"content-type": "application/json"}).json()
    assert report["valid"] is True, report
    assert report["keyId"] == json.loads(raw)["passport"]["keyId"]


def _set_score(p: dict[str, Any]) -> None:
    p["unfragile"]["trust"]["score"] += 1


def _set_description(p: dict[str, Any]) -> None:
    p["unfragile"]["capabilities"][3]["description"] += " "


def _set_signed_at(p: dict[str, Any]) -> None:
    stamp = p["signedAt"]  # "...:40.507Z": one millisecond later is still a valid timestamp
    p["signedAt"] = stamp[:-2] + str((int(stamp[-2]) + 1) % 10) + "Z"


def _set_version(p: dict[str, Any]) -> None:
    p["version"] = 2


def _set_signed_by(p: dict[str, Any]) -> None:
    p["signedBy"] = p["signedBy"] + "-impostor"


def _set_slug(p: dict[str, Any]) -> None:
    p["unfragile"]["artifact"]["slug"] = "someone-else"


def _set_provenance(p: dict[str, Any]) -> None:
    p["provenance"]["trust.score"] = "declared"


def _set_signature(p: dict[str, Any]) -> None:
    sig = p["signature"]
    p["signature"] = ("B" if sig[0] == "A" else "A") + sig[1:]


def _set_key_id(p: dict[str, Any]) -> None:
    p["keyId"] = "A" * 43


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "score": _set_score,
    "capability description": _set_description,
    "signedAt": _set_signed_at,
    "version": _set_version,
    "signedBy": _set_signed_by,
    "slug": _set_slug,
    "provenance": _set_provenance,
    "signature": _set_signature,
    "keyId": _set_key_id,
}


@pytest.mark.parametrize("slug", sorted(SEED_SCORES))
@pytest.mark.parametrize("what", list(MUTATIONS))
def test_any_single_change_makes_the_envelope_invalid(
    http: httpx.Client, imported: list[str], slug: str, what: str
) -> None:
    envelope = http.get(f"/api/v1/passport/{slug}").json()
    changed = copy.deepcopy(envelope)
    MUTATIONS[what](changed["passport"])
    assert changed != envelope
    report = http.post("/api/v1/verify", json=changed).json()
    assert report["valid"] is False, (what, report)
    assert report["reasons"] and all(isinstance(r, str) and r for r in report["reasons"])
    # The untouched envelope still verifies: the change, not the request, made it fail.
    assert http.post("/api/v1/verify", json=envelope).json()["valid"] is True


def test_public_key_set_shape(http: httpx.Client, imported: list[str]) -> None:
    response = http.get("/api/v1/trust-passport-public-key")
    assert response.status_code == 200
    assert "json" in response.headers["content-type"]
    keys = response.json()["keys"]
    assert keys
    for jwk in keys:
        assert jwk["kty"] == "OKP"
        assert jwk["crv"] == "Ed25519"
        assert jwk["alg"] == "EdDSA"
        assert jwk["use"] == "sig"
        assert isinstance(jwk["kid"], str) and jwk["kid"]
        assert isinstance(jwk["x"], str) and jwk["x"]
        assert "d" not in jwk  # never the private part
    assert len({k["kid"] for k in keys}) == len(keys)


def _flip_one_char(raw: bytes) -> bytes:
    """Change one letter inside a capability description: still valid JSON, one byte off."""
    start = raw.index(b'"description":"') + len(b'"description":"') + 10
    for i in range(start, start + 200):
        if chr(raw[i]).isalpha():
            return raw[:i] + bytes([raw[i] ^ 0x20]) + raw[i + 1:]
    raise AssertionError("no letter found to flip")


@pytest.mark.parametrize(("slug", "runner"), [
    ("qwen-qwen3-coder", "subprocess"), ("qwen-qwen3.5-flash-02-23", "in-process"),
])
def test_offline_verify_with_downloaded_key_set(
    http: httpx.Client, imported: list[str], slug: str, runner: str, tmp_path: Path
) -> None:
    verify = run_cli if runner == "subprocess" else invoke
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(http.get("/api/v1/trust-passport-public-key").content)
    passport = tmp_path / f"{slug}.json"
    raw = http.get(f"/api/v1/passport/{slug}").content
    passport.write_bytes(raw)
    # An unrelated, empty data dir: the only keys the verifier has are the downloaded ones.
    offline = tmp_path / "offline-data"

    ok = verify(offline, "verify", str(passport), "--keys", str(jwks), check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "valid" in ok.stdout and "INVALID" not in ok.stdout
    assert json.loads(raw)["passport"]["keyId"] in ok.stdout

    tampered = _flip_one_char(raw)
    assert sum(a != b for a, b in zip(raw, tampered, strict=True)) == 1
    json.loads(tampered)  # still well-formed: only the signature can catch it
    passport.write_bytes(tampered)
    bad = verify(offline, "verify", str(passport), "--keys", str(jwks), check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "INVALID" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


def test_offline_verify_rejects_a_key_set_without_the_signer(
    http: httpx.Client, imported: list[str], tmp_path: Path
) -> None:
    passport = tmp_path / "p.json"
    passport.write_bytes(http.get("/api/v1/passport/qwen-qwen3-coder").content)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": []}))
    result = invoke(tmp_path / "offline", "verify", str(passport), "--keys", str(jwks),
                    check=False)
    assert result.returncode == 1
    assert "INVALID" in result.stdout


@pytest.mark.parametrize(("passport_text", "keys_text"), [
    (None, "[1, 2]"),
    (None, '{"keys": "x"}'),
    (None, '{"keys": [1]}'),
    (None, "not json"),
    ("EXP", None),
    ('{"passport": {"unfragile": 1, "keyId": 5}}', None),
    ("[1]", None),
    ("NAIVE", None),
], ids=["set-is-list", "keys-is-str", "key-is-int", "not-json", "exp-not-str",
        "odd-passport", "passport-is-list", "naive-signedAt"])
def test_offline_verify_refuses_malformed_files_without_a_traceback(
    http: httpx.Client, imported: list[str], tmp_path: Path,
    passport_text: str | None, keys_text: str | None,
) -> None:
    envelope = http.get("/api/v1/passport/qwen-qwen3-coder").json()
    jwks = http.get("/api/v1/trust-passport-public-key").json()
    if passport_text == "NAIVE":
        envelope["passport"]["signedAt"] = envelope["passport"]["signedAt"].rstrip("Z")
        passport_text = json.dumps(envelope)
    if keys_text is None and passport_text == "EXP":
        for jwk in jwks["keys"]:
            jwk["exp"] = 5
        passport_text = None
    passport = tmp_path / "p.json"
    passport.write_text(passport_text if passport_text is not None else json.dumps(envelope))
    keys = tmp_path / "k.json"
    keys.write_text(keys_text if keys_text is not None else json.dumps(jwks))
    # In-process with exceptions re-raised: a crash fails here instead of printing a trace.
    result = invoke(tmp_path / "offline", "verify", str(passport), "--keys", str(keys),
                    check=False)
    assert result.returncode == 1, result
    assert "INVALID" in result.stdout or "not a passport" in result.stderr
