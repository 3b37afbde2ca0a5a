"""Claims in process, with a clock a test moves: expiry, domain publishers, rechecks that
withdraw the mark, shared hosts, and the rule that a verification stays with who proved it.
Proofs are looked up for real, on local servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.core.compose import NOTE_UNVERIFIED
from capgraph.errors import BadRequest, ClaimExpired, NotOwner, SelfServiceDisabled
from capgraph.proofs import NetworkProofChecker
from capgraph.registry import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from tests.conftest import FIXED_NOW
from tests.integration.conftest import manifest, to_yaml
from tests.proofservers import LocalDns, ProofSite, proof_servers
from tests.unit.feedback_kit import Clock


@pytest.fixture
def servers() -> Iterator[tuple[ProofSite, LocalDns]]:
    with proof_servers() as found:
        yield found


@pytest.fixture
def clock() -> Clock:
    return Clock(FIXED_NOW)


def _registry(tmp_path: Path, clock: Clock, txt: LocalDns, *, self_service: bool = True
              ) -> Registry:
    checker = NetworkProofChecker(allow_private=True, nameservers=[("127.0.0.1", txt.port)],
                                  timeout=2.0)
    return assemble_registry(store=MemoryStore(), keys=FileKeyStore(tmp_path / "keys"),
                             registry_name="claims", public_url="http://registry.test",
                             clock=clock, checker=checker, self_service=self_service)


def _publisher(registry: Registry, name: str) -> str:
    key_id, _ = registry.create_api_key(name)
    return next(k.publisher_id for k in registry.api_keys() if k.key_id == key_id)


def _publish(registry: Registry, slug: str, url: str, **kwargs: str | None) -> None:
    data = manifest(slug)
    data["artifact"]["homepage"] = data["artifact"]["repository"] = url
    registry.publish(to_yaml(data), hint="yaml", **kwargs)  # type: ignore[arg-type]


def _body(registry: Registry, slug: str) -> dict[str, object]:
    return registry.passport(slug).body()


def test_an_expired_claim_is_refused_and_changes_nothing(
        tmp_path: Path, clock: Clock, servers: tuple[ProofSite, LocalDns]) -> None:
    _, txt = servers
    registry = _registry(tmp_path, clock, txt)
    _publish(registry, "late-widget", "https://late.example/")
    publisher = _publisher(registry, "late")
    started = registry.start_claim("late-widget", "dns", publisher_id=publisher)
    txt.records["_unfragile.late.example"] = [f'"unfragile-claim={started.claim.token}"']
    clock.now = FIXED_NOW + timedelta(days=3)
    size = registry.store.log_size()
    with pytest.raises(ClaimExpired):
        registry.verify_claim(started.claim.claim_id, publisher_id=publisher)
    assert registry.ownership("late-widget") is None
    assert registry.store.log_size() == size


def test_a_recheck_withdraws_the_mark_when_the_proof_is_gone(
        tmp_path: Path, clock: Clock, servers: tuple[ProofSite, LocalDns]) -> None:
    _, txt = servers
    registry = _registry(tmp_path, clock, txt)
    _publish(registry, "kept-widget", "https://kept.example/")
    publisher = _publisher(registry, "keeper")
    started = registry.start_claim("kept-widget", "dns", publisher_id=publisher)
    txt.records["_unfragile.kept.example"] = [f'"unfragile-claim={started.claim.token}"']
    registry.verify_claim(started.claim.claim_id, publisher_id=publisher)
    verified = registry.passport("kept-widget")
    assert registry.recheck_claims() == [("kept-widget", True)]
    assert registry.passport("kept-widget").version == verified.version  # nothing re-issued
    del txt.records["_unfragile.kept.example"]
    assert registry.recheck_claims() == [("kept-widget", False)]
    body = _body(registry, "kept-widget")
    assert body["trust"]["verified"] is False  # type: ignore[index]
    assert NOTE_UNVERIFIED in body["trust"]["failure_modes"]  # type: ignore[index]
    owned = registry.ownership("kept-widget")
    assert owned is not None and owned.owner == publisher and owned.verification is None
    assert registry.recheck_claims() == []


def test_a_domain_proof_gives_a_key_that_owns_the_domains_artifacts(
        tmp_path: Path, clock: Clock, servers: tuple[ProofSite, LocalDns]) -> None:
    _, txt = servers
    registry = _registry(tmp_path, clock, txt)
    _publish(registry, "corp-widget", "https://tools.corp.example/widget")  # the operator's
    _publish(registry, "elsewhere-widget", "https://other.example/")
    started = registry.start_domain_claim("corp.example", "dns")
    txt.records["_unfragile.corp.example"] = [f'"unfragile-claim={started.claim.token}"']
    issued = registry.verify_domain_claim(started.claim.claim_id)
    assert registry.authenticate(issued.secret).publisher_id == issued.publisher_id
    publisher = registry.publisher(issued.publisher_id)
    assert publisher is not None and publisher.domain == "corp.example"
    _publish(registry, "corp-widget", "https://tools.corp.example/widget/v2",
             publisher_id=issued.publisher_id)
    owned = registry.ownership("corp-widget")
    assert owned is not None and owned.owner == issued.publisher_id
    with pytest.raises(NotOwner):
        _publish(registry, "elsewhere-widget", "https://other.example/v2",
                 publisher_id=issued.publisher_id)


def test_the_operator_can_turn_domain_keys_off(
        tmp_path: Path, clock: Clock, servers: tuple[ProofSite, LocalDns]) -> None:
    registry = _registry(tmp_path, clock, servers[1], self_service=False)
    with pytest.raises(SelfServiceDisabled):
        registry.start_domain_claim("corp.example", "dns")


def test_shared_hosts_need_the_repository_method(
        tmp_path: Path, clock: Clock, servers: tuple[ProofSite, LocalDns]) -> None:
    registry = _registry(tmp_path, clock, servers[1])
    _publish(registry, "hub-widget", "https://github.com/example/hub-widget")
    publisher = _publisher(registry, "hubber")
    for method in ("http", "dns"):
        with pytest.raises(BadRequest, match="repository"):
            registry.start_claim("hub-widget", method, publisher_id=publisher)
    assert registry.start_claim("hub-widget", "repository", publisher_id=publisher)
    _publish(registry, "own-widget", "https://own.example/")
    with pytest.raises(BadRequest, match="shared hosts"):
        registry.start_claim("own-widget", "repository", publisher_id=publisher)


def test_a_transfer_reissues_the_passport_unverified(
        tmp_path: Path, clock: Clock, servers: tuple[ProofSite, LocalDns]) -> None:
    site, txt = servers
    registry = _registry(tmp_path, clock, txt)
    _publish(registry, "sold-widget", f"{site.origin}/sold")
    seller, buyer = _publisher(registry, "seller"), _publisher(registry, "buyer")
    started = registry.start_claim("sold-widget", "http", publisher_id=seller)
    site.files["/.well-known/unfragile.json"] = (200, json.dumps(
        {"unfragile-claim": started.claim.token}).encode())
    registry.verify_claim(started.claim.claim_id, publisher_id=seller)
    assert _body(registry, "sold-widget")["trust"]["verified"] is True  # type: ignore[index]
    registry.transfer("sold-widget", buyer, actor=seller)
    assert _body(registry, "sold-widget")["trust"]["verified"] is False  # type: ignore[index]
    owned = registry.ownership("sold-widget")
    assert owned is not None and (owned.owner, owned.verification) == (buyer, None)
