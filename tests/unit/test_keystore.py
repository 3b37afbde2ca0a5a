"""Signing keys on disk: permissions, reloading, rotation and revocation."""

from __future__ import annotations

import os
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from capgraph.core.compose import iso_ms
from capgraph.core.signing import verify_passport
from capgraph.errors import NotFound, SignatureInvalid
from capgraph.storage.keystore import FileKeyStore
from tests.conftest import FIXED_NOW

LATER = FIXED_NOW + timedelta(days=30)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def sign_at(store: FileKeyStore, when: Any) -> dict[str, Any]:
    key = store.signing_key(when)
    passport: dict[str, Any] = {"unfragile": {"artifact": {"slug": "x"}}, "signedAt": iso_ms(when),
                                "signedBy": "capgraph-test", "version": 1, "keyId": key.kid}
    passport["signature"] = key.sign(passport)
    return passport


def test_key_files_are_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "data" / "keys"
    store = FileKeyStore(directory)
    key = store.signing_key(FIXED_NOW)
    assert mode(directory) == 0o700
    files = [p for p in directory.iterdir() if p.is_file()]
    assert directory / f"{key.kid}.pem" in files
    assert directory / "keyring.json" in files
    for path in files:
        assert mode(path) == 0o600, path.name
    assert not list(directory.glob("*.tmp"))


def test_existing_key_directory_is_tightened_to_0700(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    FileKeyStore(directory).signing_key(FIXED_NOW)
    assert mode(directory) == 0o700


def test_key_files_stay_owner_only_after_rotation(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    store.signing_key(FIXED_NOW)
    store.rotate(LATER)
    for path in (tmp_path / "keys").iterdir():
        if path.is_file():
            assert mode(path) == 0o600, path.name


def test_private_key_file_holds_a_pkcs8_pem(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    key = store.signing_key(FIXED_NOW)
    assert (tmp_path / "keys" / f"{key.kid}.pem").read_bytes() == key.to_pem()
    assert key.to_pem().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_the_same_key_is_used_again_and_reloaded_by_a_second_store(tmp_path: Path) -> None:
    first = FileKeyStore(tmp_path / "keys").signing_key(FIXED_NOW)
    again = FileKeyStore(tmp_path / "keys").signing_key(LATER)
    assert again.kid == first.kid
    assert again.created_at == first.created_at == iso_ms(FIXED_NOW)
    assert again.to_pem() == first.to_pem()
    assert FileKeyStore(tmp_path / "keys").public_keys().keys() == {first.kid}


def test_concurrent_first_use_creates_exactly_one_key(tmp_path: Path) -> None:
    stores = [FileKeyStore(tmp_path / "keys") for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        kids = set(pool.map(lambda s: s.signing_key(FIXED_NOW).kid, stores))
    assert len(kids) == 1
    assert set(FileKeyStore(tmp_path / "keys").public_keys()) == kids


def test_public_keys_is_empty_before_any_key_exists(tmp_path: Path) -> None:
    assert FileKeyStore(tmp_path / "keys").public_keys() == {}


def test_rotate_retires_the_old_key_and_keeps_it_listed(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    old = store.signing_key(FIXED_NOW)
    new = store.rotate(LATER)
    assert new.kid != old.kid
    assert store.signing_key(LATER + timedelta(days=1)).kid == new.kid
    keys = store.public_keys()
    assert list(keys) == [old.kid, new.kid]
    assert keys[old.kid].status == "retired"
    assert keys[old.kid].not_after == iso_ms(LATER)
    assert keys[new.kid].status == "active"
    assert keys[new.kid].not_after is None
    assert keys[new.kid].created_at == iso_ms(LATER)


def test_passport_signed_before_rotation_still_verifies_after(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    before = sign_at(store, FIXED_NOW + timedelta(days=1))
    store.rotate(LATER)
    after = sign_at(store, LATER + timedelta(days=1))
    keys = FileKeyStore(tmp_path / "keys").public_keys()
    assert verify_passport(before, keys).status == "retired"
    assert verify_passport(after, keys).status == "active"


def test_retired_key_cannot_sign_after_its_window(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    old = store.signing_key(FIXED_NOW)
    store.rotate(LATER)
    late: dict[str, Any] = {"unfragile": {}, "signedAt": iso_ms(LATER + timedelta(days=1)),
                            "keyId": old.kid}
    late["signature"] = old.sign(late)
    with pytest.raises(SignatureInvalid) as info:
        verify_passport(late, store.public_keys())
    assert any("after" in r for r in info.value.reasons)


def test_revoke_makes_what_the_key_signed_fail(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    passport = sign_at(store, FIXED_NOW)
    assert verify_passport(passport, store.public_keys())
    store.revoke(passport["keyId"], LATER)
    keys = FileKeyStore(tmp_path / "keys").public_keys()
    assert keys[passport["keyId"]].status == "revoked"
    with pytest.raises(SignatureInvalid) as info:
        verify_passport(passport, keys)
    assert any("revoked" in r for r in info.value.reasons)


def test_revoking_the_active_key_makes_a_new_one_sign(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    old = store.signing_key(FIXED_NOW)
    store.revoke(old.kid, LATER)
    assert store.signing_key(LATER).kid != old.kid


def test_revoking_an_unknown_kid_is_not_found(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    store.signing_key(FIXED_NOW)
    with pytest.raises(NotFound):
        store.revoke("no-such-kid", LATER)


def test_signing_key_repr_shows_no_key_material(tmp_path: Path) -> None:
    key = FileKeyStore(tmp_path / "keys").signing_key(FIXED_NOW)
    pem_body = "".join(key.to_pem().decode().splitlines()[1:-1])
    assert pem_body not in repr(key)
    assert repr(key) == f"SigningKey(kid={key.kid!r})"


def test_the_log_key_comes_with_the_secrets_every_host_must_share(tmp_path: Path) -> None:
    """A ring copied to a second host after the first passport (docs/SCALING.md step 3) holds
    the rate-limit and callback secrets: a host never makes its own, which would split the
    shared Redis buckets and refuse the other host's callback tokens."""
    first = FileKeyStore(tmp_path / "a" / "keys")
    first.secret("callback")  # made earlier by a resolve: kept, not replaced
    callback = first.secret("callback")
    first.log_key(FIXED_NOW, "registry.example/log")
    assert mode(tmp_path / "a" / "keys" / "ratelimit.secret") == 0o600
    copied = shutil.copytree(tmp_path / "a" / "keys", tmp_path / "b" / "keys")
    second = FileKeyStore(copied)
    assert second.secret("ratelimit") == first.secret("ratelimit")
    assert second.secret("callback") == callback
