"""Offline verification (core/offline.py): a served envelope plus the JWK Set is enough to check
the signature, the key's status, and that the passport is the log entry its proof says."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from capgraph.core import translog
from capgraph.core.canonical import canonical_bytes
from capgraph.core.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from capgraph.core.offline import log_verifiers, verify_envelope
from capgraph.core.signing import SigningKey
from capgraph.errors import ProofInvalid, SignatureInvalid
from capgraph.registry import Registry
from tests.conftest import DEMO, FIXED_NOW

BASE = "http://registry.test"


def publish_demo(registry: Registry, count: int = 5) -> list[str]:
    slugs = []
    for path in sorted(DEMO.glob("*.yml"))[:count]:
        slugs.append(registry.publish(path.read_text(), hint="yaml").stored.slug)
    return slugs


def envelope(registry: Registry, slug: str, version: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(registry.envelope_bytes(slug, BASE, version=version))
    return data


@pytest.fixture
def published(registry: Registry) -> tuple[Registry, list[str]]:
    return registry, publish_demo(registry)


def test_every_served_envelope_verifies_offline(published: tuple[Registry, list[str]]) -> None:
    registry, slugs = published
    jwks = json.loads(json.dumps(registry.jwks()))  # only what a client would download
    for slug in slugs:
        env = envelope(registry, slug)
        result = verify_envelope(env, jwks, require_log=True)
        stored = registry.passport(slug)
        assert result.log_index == stored.log_index == env["_log"]["index"]
        # in the tree its own entry made, whatever came after
        assert result.checkpoint is not None and result.checkpoint.size == stored.log_index + 1
        assert result.key.kid == env["passport"]["keyId"]


def test_log_block_sits_beside_the_passport_with_standard_base64(
        published: tuple[Registry, list[str]]) -> None:
    registry, slugs = published
    env = envelope(registry, slugs[2])
    assert set(env) == {"passport", "_links", "_log"}
    log = env["_log"]
    assert set(log) == {"index", "treeSize", "leafHash", "inclusionProof", "checkpoint"}
    leaf = canonical_bytes(env["passport"])  # the whole passport, signature included
    assert json.loads(leaf)["signature"] == env["passport"]["signature"]
    assert base64.b64decode(log["leafHash"], validate=True) == translog.leaf_hash(leaf)
    assert registry.store.log_entries(log["index"], log["index"] + 1) == [leaf]
    for h in log["inclusionProof"]:
        assert len(base64.b64decode(h, validate=True)) == 32
        assert "-" not in h and "_" not in h
    head = parse_checkpoint(log["checkpoint"], registry.log_verifier())
    assert head.size == log["treeSize"] and head.origin == "registry.test/log"


def test_the_log_block_is_not_covered_by_the_signature(
        published: tuple[Registry, list[str]]) -> None:
    registry, slugs = published
    jwks = registry.jwks()
    env = envelope(registry, slugs[0])
    bare = {"passport": env["passport"]}
    assert verify_envelope(bare, jwks).checkpoint is None
    assert verify_envelope(env["passport"], jwks).log_index is None
    with pytest.raises(ProofInvalid, match="no _log"):
        verify_envelope(bare, jwks, require_log=True)


def test_an_envelope_never_changes_as_the_log_grows(registry: Registry) -> None:
    slug = publish_demo(registry, 1)[0]
    old = registry.envelope_bytes(slug, "http://registry.test")
    publish_demo(registry, 6)
    assert registry.checkpoint()[0].size == 6
    assert registry.envelope_bytes(slug, "http://registry.test") == old
    assert registry.envelope_bytes(slug, "http://registry.test", version=1) == old
    new = json.loads(old)
    assert new["_log"]["treeSize"] == 1 and new["_log"]["index"] == 0
    result = verify_envelope(new, registry.jwks(), require_log=True)
    assert result.checkpoint is not None and result.checkpoint.size == 1
    # and the tree it names is a prefix of today's (what a reader checks next)
    hashes = [base64.b64decode(h) for h in registry.consistency(1, 6)["hashes"]]
    translog.verify_consistency(1, 6, result.checkpoint.root, registry.checkpoint()[0].root,
                                hashes)


def _tampered(env: dict[str, Any], change: str) -> dict[str, Any]:
    out = copy.deepcopy(env)
    log = out["_log"]
    if change == "index":
        log["index"] ^= 1  # another entry (or past the tree)
    elif change == "proof-hash":
        raw = bytearray(base64.b64decode(log["inclusionProof"][0]))
        raw[7] ^= 0x10
        log["inclusionProof"][0] = base64.b64encode(bytes(raw)).decode()
    elif change == "proof-short":
        log["inclusionProof"].pop()
    elif change == "tree-size":
        log["treeSize"] += 1
    elif change == "not-base64":
        log["inclusionProof"][0] = "%%%"
    elif change == "missing":
        del log["checkpoint"]
    elif change == "signature":
        out["passport"]["signature"] = out["passport"]["signature"][:-4] + "AAA="
    return out


@pytest.mark.parametrize("change", ["index", "proof-hash", "proof-short", "tree-size",
                                    "not-base64", "missing"])
def test_a_tampered_log_block_fails_as_proof_invalid(
        published: tuple[Registry, list[str]], change: str) -> None:
    registry, slugs = published
    env = envelope(registry, slugs[1])
    with pytest.raises(ProofInvalid):
        verify_envelope(_tampered(env, change), registry.jwks())


def test_a_tampered_passport_fails(published: tuple[Registry, list[str]]) -> None:
    registry, slugs = published
    env = envelope(registry, slugs[1])
    changed = copy.deepcopy(env)
    changed["passport"]["unfragile"]["trust"]["score"] = 100
    with pytest.raises(SignatureInvalid):
        verify_envelope(changed, registry.jwks())
    with pytest.raises(SignatureInvalid):
        verify_envelope(_tampered(env, "signature"), registry.jwks())


def test_a_passport_swapped_into_another_entrys_log_block_fails(
        published: tuple[Registry, list[str]]) -> None:
    registry, slugs = published
    first, second = envelope(registry, slugs[0]), envelope(registry, slugs[1])
    swapped = {"passport": first["passport"], "_log": second["_log"]}
    with pytest.raises(ProofInvalid):
        verify_envelope(swapped, registry.jwks())


def test_a_checkpoint_not_signed_by_the_published_log_key_fails(
        published: tuple[Registry, list[str]]) -> None:
    registry, slugs = published
    env = envelope(registry, slugs[0])
    head = parse_checkpoint(env["_log"]["checkpoint"], registry.log_verifier())
    impostor = SigningKey.generate(created_at="2026-01-01T00:00:00.000Z")
    forged = copy.deepcopy(env)
    forged["_log"]["checkpoint"] = sign_checkpoint(head, impostor, name=head.origin)
    with pytest.raises(SignatureInvalid, match="not signed"):
        verify_envelope(forged, registry.jwks())
    # a forged root under a forged signature, proof recomputed to match: still refused
    lying = Checkpoint(head.origin, head.size, b"\x00" * 32)
    forged["_log"]["checkpoint"] = sign_checkpoint(lying, impostor, name=head.origin)
    with pytest.raises(SignatureInvalid):
        verify_envelope(forged, registry.jwks())
    altered = copy.deepcopy(env)
    altered["_log"]["checkpoint"] = env["_log"]["checkpoint"].replace(
        f"\n{head.size}\n", f"\n{head.size + 1}\n")
    with pytest.raises(SignatureInvalid):
        verify_envelope(altered, registry.jwks())


def test_a_key_set_without_a_checkpoint_key_cannot_check_the_log(
        published: tuple[Registry, list[str]]) -> None:
    registry, slugs = published
    jwks = registry.jwks()
    passport_only = {"keys": [k for k in jwks["keys"] if k.get("purpose") != "checkpoint"]}
    env = envelope(registry, slugs[0])
    with pytest.raises(SignatureInvalid, match="no checkpoint verifier"):
        verify_envelope(env, passport_only)
    verify_envelope({"passport": env["passport"]}, passport_only)


def test_jwks_publishes_the_checkpoint_key_as_a_verifier_key(registry: Registry) -> None:
    jwks = registry.jwks()
    marked = [k for k in jwks["keys"] if k.get("purpose") == "checkpoint"]
    assert len(marked) == 1
    assert marked[0]["verifierKey"] == registry.log_verifier().encode()
    assert log_verifiers(jwks) == [registry.log_verifier()]
    # the log key is not a passport key: no passport's keyId is ever the checkpoint key
    slug = publish_demo(registry, 1)[0]
    assert envelope(registry, slug)["passport"]["keyId"] != marked[0]["kid"]


def test_a_passport_signed_by_a_revoked_key_fails_offline(registry: Registry) -> None:
    slug = publish_demo(registry, 1)[0]
    env = envelope(registry, slug)
    registry.keys.revoke(env["passport"]["keyId"], FIXED_NOW)  # type: ignore[attr-defined]
    with pytest.raises(SignatureInvalid) as caught:
        verify_envelope(env, registry.jwks())
    assert any("revoked" in reason for reason in caught.value.reasons)


def test_a_passport_signed_before_rotation_still_verifies_offline(registry: Registry) -> None:
    slug = publish_demo(registry, 1)[0]
    old = envelope(registry, slug)
    new_key = registry.keys.rotate(FIXED_NOW)  # type: ignore[attr-defined]
    second = publish_demo(registry, 2)[1]
    jwks = registry.jwks()
    assert verify_envelope(old, jwks).key.status == "retired"
    fresh = envelope(registry, second)
    assert fresh["passport"]["keyId"] == new_key.kid != old["passport"]["keyId"]
    assert verify_envelope(fresh, jwks, require_log=True).key.status == "active"
