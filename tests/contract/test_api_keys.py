"""API keys: stored by the hash of their secret, listed oldest first, revoked in place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from capgraph.errors import NotFound, StorageError, Unauthorized
from capgraph.ports import ApiKeyRecord, Store
from capgraph.registry.access import Access, secret_hash
from tests.contract.conftest import T0, T1, T2


def add(store: Store, key_id: str, secret_hash: str, created_at: str = T0,
        name: str = "ci") -> ApiKeyRecord:
    record = ApiKeyRecord(key_id, name, created_at, revoked=False)
    with store.write() as tx:
        tx.add_api_key(record, secret_hash)
    return record


def test_a_key_is_found_by_the_hash_of_its_secret(store: Store) -> None:
    record = add(store, "key_1", "hash-1")
    assert store.api_key_by_hash("hash-1") == record
    assert store.api_key_by_hash("key_1") is None
    assert store.api_key_by_hash("other") is None
    assert store.api_keys() == [record]


def test_a_duplicate_key_id_or_secret_hash_raises_storage_error(store: Store) -> None:
    record = add(store, "key_1", "hash-1")
    for key_id, hashed in (("key_1", "hash-2"), ("key_2", "hash-1")):
        with pytest.raises(StorageError), store.write() as tx:
            tx.add_api_key(ApiKeyRecord(key_id, "dup", T1, revoked=False), hashed)
    assert store.api_keys() == [record]
    assert store.api_key_by_hash("hash-2") is None


def test_keys_are_listed_oldest_first(store: Store) -> None:
    b = add(store, "key_b", "hash-b", T1, name="second")
    c = add(store, "key_c", "hash-c", T2, name="third")
    a = add(store, "key_a", "hash-a", T0, name="first")  # older, stored last
    z = add(store, "key_0", "hash-z", T2, name="fourth")  # as old as c, stored after it
    assert store.api_keys() == [a, b, c, z]


def test_revoking_marks_the_key_revoked_and_unknown_keys_are_not_found(store: Store) -> None:
    add(store, "key_1", "hash-1")
    other = add(store, "key_2", "hash-2", T1)
    with store.write() as tx:
        assert tx.revoke_api_key("key_1") is True
        assert tx.revoke_api_key("key_9") is False
    assert store.api_key_by_hash("hash-1") == ApiKeyRecord("key_1", "ci", T0, revoked=True)
    assert store.api_keys() == [ApiKeyRecord("key_1", "ci", T0, revoked=True), other]
    with store.write() as tx:  # revoking twice changes nothing more
        assert tx.revoke_api_key("key_1") is True
    assert [k.revoked for k in store.api_keys()] == [True, False]


def test_access_creates_authenticates_and_revokes_keys(store: Store) -> None:
    access = Access(store=store, now=lambda: datetime(2026, 11, 1, 12, tzinfo=UTC))
    key_id, secret = access.create("deploy")
    record = access.authenticate(secret)
    assert (record.key_id, record.name, record.revoked) == (key_id, "deploy", False)
    assert store.api_key_by_hash(secret_hash(secret)) == record
    assert access.keys() == [record]
    for wrong in (None, "", secret + "x"):
        with pytest.raises(Unauthorized):
            access.authenticate(wrong)
    access.revoke(key_id)
    with pytest.raises(Unauthorized):
        access.authenticate(secret)
    with pytest.raises(NotFound):
        access.revoke("key_missing")
    listed = access.keys()
    assert [k.revoked for k in listed] == [True]
