"""Publishers, ownership and claims: stored as given, replaced in place, read inside and
outside a write, and nothing kept from a write that failed."""

from __future__ import annotations

import pytest

from capgraph.errors import StorageError
from capgraph.ports import (
    ApiKeyRecord,
    ClaimRecord,
    OwnershipRecord,
    PublisherRecord,
    Store,
)
from tests.contract.conftest import T0, T1, T2

VERIFIED = {"method": "dns", "at": T1, "subject": "example.org"}


def claim(claim_id: str, *, subject: str = "ant", publisher: str = "pub_a",
          created_at: str = T0, status: str = "pending", kind: str = "artifact") -> ClaimRecord:
    return ClaimRecord(claim_id, kind, subject, "http", f"unfragile-{claim_id}", publisher,
                       created_at, T2, status)


def test_publishers_are_stored_as_given_and_listed_oldest_first(store: Store) -> None:
    late = PublisherRecord("pub_b", "second", T1)
    early = PublisherRecord("pub_a", "first", T0, domain="example.org")
    with store.write() as tx:
        tx.add_publisher(late)
        tx.add_publisher(early)
        assert tx.publisher("pub_a") == early  # a write sees its own writes
    assert store.publisher("pub_a") == early and store.publisher("pub_x") is None
    assert store.publishers() == [early, late]


def test_a_duplicate_publisher_raises_and_its_write_keeps_nothing(store: Store) -> None:
    first = PublisherRecord("pub_a", "first", T0)
    with store.write() as tx:
        tx.add_publisher(first)
    with pytest.raises(StorageError), store.write() as tx:
        tx.add_publisher(PublisherRecord("pub_new", "kept?", T1))
        tx.add_publisher(PublisherRecord("pub_a", "again", T1))
    assert store.publishers() == [first]


def test_a_key_names_its_publisher(store: Store) -> None:
    record = ApiKeyRecord("key_1", "ci", T0, revoked=False, publisher_id="pub_a")
    with store.write() as tx:
        tx.add_publisher(PublisherRecord("pub_a", "ci", T0))
        tx.add_api_key(record, "hash-1")
    assert store.api_key_by_hash("hash-1") == record
    assert store.api_keys()[0].publisher_id == "pub_a"


def test_ownership_is_replaced_in_place_with_its_maintainers_and_verification(
        store: Store) -> None:
    assert store.ownership("ant") is None
    owned = OwnershipRecord("ant", "pub_a", (), None, T0)
    with store.write() as tx:
        assert tx.ownership("ant") is None
        tx.put_ownership(owned)
        assert tx.ownership("ant") == owned
    assert store.ownership("ant") == owned
    assert store.verified_ownerships() == []
    changed = OwnershipRecord("ant", "pub_b", ("pub_c", "pub_a"), VERIFIED, T1)
    other = OwnershipRecord("aardvark", "pub_a", (), {**VERIFIED, "method": "http"}, T2)
    with store.write() as tx:
        tx.put_ownership(changed)
        tx.put_ownership(other)
        tx.put_ownership(OwnershipRecord("bee", "pub_a", (), None, T2))
    assert store.ownership("ant") == changed  # maintainers keep their order
    assert store.verified_ownerships() == [other, changed]  # by slug, verified only


def test_an_ownership_change_in_a_failed_write_is_not_kept(store: Store) -> None:
    owned = OwnershipRecord("ant", "pub_a", (), None, T0)
    with store.write() as tx:
        tx.put_ownership(owned)
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.put_ownership(OwnershipRecord("ant", "pub_b", (), VERIFIED, T1))
        raise RuntimeError("the use case gave up")
    assert store.ownership("ant") == owned
    assert store.verified_ownerships() == []


def test_claims_are_stored_once_and_change_status_in_place(store: Store) -> None:
    started = claim("c1")
    with store.write() as tx:
        tx.add_claim(started)
    assert store.claim("c1") == started and store.claim("c2") is None
    with pytest.raises(StorageError), store.write() as tx:
        tx.add_claim(claim("c1", subject="bee"))
    assert store.claim("c1") == started
    with store.write() as tx:
        tx.set_claim_status("c1", "verified")
    assert store.claim("c1") == claim("c1", status="verified")
    with pytest.raises(StorageError), store.write() as tx:
        tx.set_claim_status("c9", "verified")


def test_the_verified_claim_is_the_newest_verified_artifact_claim_of_that_publisher(
        store: Store) -> None:
    with store.write() as tx:
        tx.add_claim(claim("old", status="verified", created_at=T0))
        tx.add_claim(claim("new", status="verified", created_at=T1))
        tx.add_claim(claim("pending", created_at=T2))
        tx.add_claim(claim("theirs", publisher="pub_b", status="verified", created_at=T2))
        tx.add_claim(claim("domain", subject="ant", kind="domain", status="verified",
                           created_at=T2))
    assert store.verified_claim("ant", "pub_a") == claim("new", status="verified",
                                                         created_at=T1)
    assert store.verified_claim("ant", "pub_b") == claim("theirs", publisher="pub_b",
                                                         status="verified", created_at=T2)
    assert store.verified_claim("bee", "pub_a") is None
