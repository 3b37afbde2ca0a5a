"""Ed25519 passport signatures, RFC 7638 key ids and the JWK Set (PROTOCOL.md B.1, B.2)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core.canonical import canonical_bytes
from capgraph.core.signing import (
    PublicKey,
    SigningKey,
    signed_bytes,
    thumbprint,
    verify_passport,
)
from capgraph.errors import SignatureInvalid, UnknownKey
from tests.unit.factories import seed_by_slug

PROPERTY = settings(max_examples=150, deadline=None)
CREATED = "2026-01-01T00:00:00.000Z"
SIGNED = "2026-06-20T22:42:20.394Z"
KEY = SigningKey.generate(created_at=CREATED)
KEYS = {KEY.kid: KEY.public}

# RFC 8037 appendix A.1-A.3: an Ed25519 key pair and its RFC 7638 thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsigned(slug: str = "qwen-qwen3-coder", **extra: Any) -> dict[str, Any]:
    inner = copy.deepcopy(seed_by_slug(slug)["passport"])
    del inner["signature"]
    inner.update({"signedAt": SIGNED, "signedBy": "capgraph-test", "version": 1,
                  "keyId": KEY.kid, **extra})
    return inner


def signed(key: SigningKey = KEY, **extra: Any) -> dict[str, Any]:
    inner = unsigned(keyId=key.kid, **extra)
    inner["signature"] = key.sign(inner)
    return inner


def reasons_of(passport: dict[str, Any], keys: dict[str, PublicKey]) -> list[str]:
    with pytest.raises(SignatureInvalid) as info:
        verify_passport(passport, keys)
    assert info.value.reasons
    return info.value.reasons


# -- key ids and JWKs ------------------------------------------------------------------------


def test_key_id_is_the_rfc7638_thumbprint_of_the_rfc8037_example_key() -> None:
    private = Ed25519PrivateKey.from_private_bytes(_b64url_decode(RFC8037_D))
    key = SigningKey(private, created_at=CREATED)
    assert key.public.to_jwk()["x"] == RFC8037_X
    assert key.kid == RFC8037_KID
    assert thumbprint(_b64url_decode(RFC8037_X)) == RFC8037_KID


def test_key_id_is_sha256_of_the_required_members_in_lexical_order() -> None:
    x = KEY.public.to_jwk()["x"]
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}'
    digest = hashlib.sha256(members.encode()).digest()
    assert KEY.kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_jwk_has_the_members_the_protocol_names() -> None:
    jwk = KEY.public.to_jwk()
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use")} == {
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"}
    assert jwk["kid"] == KEY.kid
    assert len(_b64url_decode(jwk["x"])) == 32
    assert "d" not in jwk  # never the private part


@pytest.mark.parametrize(
    "public",
    [KEY.public, replace(KEY.public, status="retired", not_after="2026-07-01T00:00:00.000Z"),
     replace(KEY.public, status="revoked", not_after="2026-07-01T00:00:00.000Z")],
)
def test_jwk_round_trips_through_from_jwk(public: PublicKey) -> None:
    jwk = public.to_jwk()
    assert PublicKey.from_jwk(jwk) == public
    assert PublicKey.from_jwk(json.loads(json.dumps(jwk))) == public


@pytest.mark.parametrize(
    "change",
    [{"kty": "EC"}, {"crv": "X25519"}, {"x": _b64url_decode(RFC8037_X).hex()},
     {"x": "AAAA"}, {"kid": RFC8037_KID}],
)
def test_malformed_or_mismatched_jwk_is_an_unknown_key(change: dict[str, str]) -> None:
    with pytest.raises(UnknownKey):
        PublicKey.from_jwk({**KEY.public.to_jwk(), **change})


def test_jwk_without_x_is_an_unknown_key() -> None:
    jwk = KEY.public.to_jwk()
    del jwk["x"]
    with pytest.raises(UnknownKey):
        PublicKey.from_jwk(jwk)


def test_signing_key_repr_shows_no_key_material() -> None:
    text = repr(KEY) + str(KEY)
    pem = KEY.to_pem().decode()
    body = "".join(pem.splitlines()[1:-1])
    assert KEY.kid in text
    assert body not in text and "PRIVATE" not in text
    raw_private = base64.b64decode(body)[-32:]
    for encoded in (raw_private.hex(), base64.b64encode(raw_private).decode(),
                    base64.urlsafe_b64encode(raw_private).decode().rstrip("=")):
        assert encoded not in text


def test_signing_key_survives_a_pem_round_trip() -> None:
    again = SigningKey.from_pem(KEY.to_pem(), created_at=CREATED)
    assert again.kid == KEY.kid
    assert again.sign(unsigned()) == KEY.sign(unsigned())


# -- what is signed --------------------------------------------------------------------------


def test_signature_covers_canonical_json_of_the_passport_without_signature() -> None:
    passport = {"unfragile": {"b": [1, 2], "a": "x"}, "signedAt": SIGNED, "version": 1,
                "signedBy": "capgraph-test", "keyId": KEY.kid}
    # Independently built canonical bytes (ASCII-only, so sorted compact JSON is RFC 8785).
    expected = json.dumps(passport, sort_keys=True, separators=(",", ":")).encode()
    assert signed_bytes({**passport, "signature": "ignored"}) == expected
    private = Ed25519PrivateKey.from_private_bytes(_b64url_decode(RFC8037_D))
    key = SigningKey(private, created_at=CREATED)
    passport["keyId"] = key.kid
    expected = json.dumps(passport, sort_keys=True, separators=(",", ":")).encode()
    passport["signature"] = base64.b64encode(private.sign(expected)).decode()
    assert verify_passport(passport, {key.kid: key.public}) == key.public


def test_signing_ignores_an_existing_signature_member_and_is_deterministic() -> None:
    inner = unsigned()
    first = KEY.sign(inner)
    assert KEY.sign({**inner, "signature": "something else"}) == first
    assert len(base64.b64decode(first, validate=True)) == 64


def test_seed_passports_keep_their_original_signed_bytes_stable() -> None:
    inner = seed_by_slug("qwen-qwen3-coder")["passport"]
    assert signed_bytes(inner) == canonical_bytes(
        {k: v for k, v in inner.items() if k != "signature"})


# -- verification ----------------------------------------------------------------------------


def test_sign_then_verify_returns_the_signing_key() -> None:
    assert verify_passport(signed(), KEYS) == KEY.public


def test_verify_accepts_the_passport_after_a_json_round_trip() -> None:
    passport = json.loads(json.dumps(signed(), ensure_ascii=True, indent=2))
    assert verify_passport(passport, KEYS) == KEY.public


def test_unknown_kid_fails() -> None:
    other = SigningKey.generate(created_at=CREATED)
    passport = signed(other)
    assert reasons_of(passport, KEYS) == [
        f"signed by {passport['signedBy']}, whose key {other.kid} is not known here"]


def test_missing_key_id_fails() -> None:
    passport = signed()
    del passport["keyId"]
    assert reasons_of(passport, KEYS) == [
        f"signed by {passport['signedBy']}, whose key is not known here (the passport names no "
        "key id)"]


def test_revoked_key_fails_with_a_revoked_reason() -> None:
    keys = {KEY.kid: replace(KEY.public, status="revoked")}
    assert any("revoked" in r for r in reasons_of(signed(), keys))


def test_retired_key_still_verifies_inside_its_window() -> None:
    keys = {KEY.kid: replace(KEY.public, status="retired", not_after="2026-07-01T00:00:00.000Z")}
    assert verify_passport(signed(), keys).status == "retired"


def test_signed_at_after_the_key_window_fails() -> None:
    keys = {KEY.kid: replace(KEY.public, status="retired", not_after="2026-06-01T00:00:00.000Z")}
    assert any("after" in r for r in reasons_of(signed(), keys))


def test_signed_at_before_the_key_was_created_fails() -> None:
    passport = signed(signedAt="2025-12-31T23:59:59.999Z")
    assert any("before" in r for r in reasons_of(passport, KEYS))


def test_signed_at_on_the_window_edges_verifies() -> None:
    keys = {KEY.kid: replace(KEY.public, not_after=SIGNED)}
    assert verify_passport(signed(), keys)
    assert verify_passport(signed(signedAt=CREATED), KEYS)


@pytest.mark.parametrize("stamp", ["2026-06-20T22:42:20", "2026-06-20"])
def test_signed_at_without_an_offset_is_read_as_utc(stamp: str) -> None:
    assert verify_passport(signed(signedAt=stamp), KEYS) == KEY.public
    early = {KEY.kid: replace(KEY.public, created_at="2026-06-21")}
    assert any("before" in r for r in reasons_of(signed(signedAt=stamp), early))


def test_unreadable_signed_at_fails() -> None:
    assert any("ISO-8601" in r for r in reasons_of(signed(signedAt="yesterday"), KEYS))


def test_every_problem_is_reported_together() -> None:
    keys = {KEY.kid: replace(KEY.public, status="revoked", not_after="2026-02-01T00:00:00.000Z")}
    passport = signed()
    passport["version"] = 2
    reasons = reasons_of(passport, keys)
    assert len(reasons) == 3
    assert any("revoked" in r for r in reasons)
    assert any("after" in r for r in reasons)
    assert any("does not match" in r for r in reasons)


@pytest.mark.parametrize("signature", [None, "", "not base64!", "AAAA", 12])
def test_missing_or_malformed_signature_fails(signature: Any) -> None:
    passport = signed()
    passport["signature"] = signature
    reasons_of(passport, KEYS)


# -- properties ------------------------------------------------------------------------------

json_leaves = (st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
               | st.floats(min_value=-1e15, max_value=1e15, allow_nan=False) | st.text(max_size=20))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)


@PROPERTY
@given(json_values, st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3))
def test_sign_then_verify_passes_for_any_body(body: Any, provenance: dict[str, str]) -> None:
    passport: dict[str, Any] = {"unfragile": body, "signedAt": SIGNED, "signedBy": "x",
                                "version": 1, "keyId": KEY.kid, "provenance": provenance}
    passport["signature"] = KEY.sign(passport)
    assert verify_passport(passport, KEYS) == KEY.public


SIGNED_COPY = signed()


@PROPERTY
@given(st.integers(0, 63), st.integers(1, 255))
def test_flipping_any_signature_byte_fails(index: int, mask: int) -> None:
    raw = bytearray(base64.b64decode(SIGNED_COPY["signature"]))
    raw[index] ^= mask
    passport = {**SIGNED_COPY, "signature": base64.b64encode(bytes(raw)).decode()}
    assert any("does not match" in r for r in reasons_of(passport, KEYS))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


TAMPER_PATHS = [p for p in _paths(SIGNED_COPY) if p[0] != "signature"]


@PROPERTY
@given(st.sampled_from(TAMPER_PATHS), json_values)
def test_changing_any_value_in_the_passport_fails(path: tuple[Any, ...], value: Any) -> None:
    passport = copy.deepcopy(SIGNED_COPY)
    parent: Any = passport
    for step in path[:-1]:
        parent = parent[step]
    if canonical_bytes(value) == canonical_bytes(parent[path[-1]]):
        value = [value]  # the same JSON value: wrap it so the passport really changes
    parent[path[-1]] = value
    reasons_of(passport, KEYS)


@PROPERTY
@given(st.sampled_from(TAMPER_PATHS))
def test_removing_any_member_fails(path: tuple[Any, ...]) -> None:
    passport = copy.deepcopy(SIGNED_COPY)
    parent: Any = passport
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    reasons_of(passport, KEYS)


@PROPERTY
@given(st.text(min_size=1, max_size=10), json_values)
def test_adding_any_member_fails(name: str, value: Any) -> None:
    passport = copy.deepcopy(SIGNED_COPY)
    if name in passport:
        return
    passport[name] = value
    reasons_of(passport, KEYS)
