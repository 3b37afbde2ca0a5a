"""The transparency log through a real server: checkpoint, proofs and entries over HTTP, the
``_log`` block of served envelopes, ``capgraph verify`` offline, and ``capgraph log monitor``
catching a log whose history was really rewritten in the database."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.core import translog
from capgraph.core.canonical import canonical_bytes
from capgraph.core.checkpoint import parse_checkpoint
from capgraph.core.offline import verify_envelope
from capgraph.core.signing import SigningKey
from capgraph.errors import BadRequest
from capgraph.registry import Registry, versions
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.sqlite import SQLiteStore
from tests.conftest import SEEDS, Server
from tests.integration.conftest import assert_problem, client_for, invoke, running_server
from tests.integration.logaudit import (
    audit,
    audit_database,
    checkpoint,
    demo_manifest,
    entries,
    leaf,
    mth,
    rewrite_entry,
    truncate,
    verifier_of,
)

YAML = {"content-type": "application/yaml"}


def publish(client: httpx.Client, key: str, slug: str, *, revision: int = 0) -> None:
    response = client.post("/api/v1/artifacts", content=demo_manifest(slug, revision=revision),
                           headers={**YAML, "authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def published(http: httpx.Client, api_key: str) -> list[str]:
    slugs = [f"log-{i}" for i in range(5)]
    for slug in slugs:
        publish(http, api_key, slug)
    publish(http, api_key, slugs[0], revision=1)
    return slugs


# -- endpoints -------------------------------------------------------------------------------
def test_every_version_is_one_entry_and_the_root_is_the_mth_of_the_entries(
        http: httpx.Client, published: list[str], server: Server) -> None:
    verifier = verifier_of(http)
    result = audit(http, verifier)
    # one entry per version, and one `owner-set` entry per artifact (its first publish)
    assert result.head.size == sum(result.slugs.values()) + len(result.ownership) >= 11
    assert result.slugs[published[0]] == 2
    assert result.owner_set == {slug: 1 for slug in result.slugs}
    assert audit_database(server.data_dir / "capgraph.db") == result.head.size


def test_checkpoint_is_a_c2sp_signed_note_under_the_jwks_verifier_key(
        http: httpx.Client, published: list[str], server: Server) -> None:
    jwks = http.get("/api/v1/trust-passport-public-key").json()
    (log_jwk,) = [k for k in jwks["keys"] if k.get("purpose") == "checkpoint"]
    verifier = verifier_of(http)
    assert log_jwk["verifierKey"] == verifier.encode()
    assert log_jwk["kty"] == "OKP" and log_jwk["crv"] == "Ed25519"
    assert base64.urlsafe_b64decode(log_jwk["x"] + "=") == verifier.raw_public
    note = http.get("/api/v1/log/checkpoint").text
    body, signatures = note.split("\n\n")
    origin, size, root = body.split("\n")
    assert origin == f"{server.url.removeprefix('http://')}/log" == verifier.name
    assert int(size) >= 6 and len(base64.b64decode(root, validate=True)) == 32
    assert signatures.startswith(f"\u2014 {origin} ") and signatures.endswith("\n")
    assert parse_checkpoint(note, verifier).size == int(size)


def test_inclusion_proofs_verify_for_every_entry_and_older_sizes(
        http: httpx.Client, published: list[str]) -> None:
    head = checkpoint(http, verifier_of(http))
    data = entries(http, head.size)
    for size in range(1, head.size + 1):
        root = head.root if size == head.size else mth([leaf(d) for d in data[:size]])
        for index in range(size):
            body = http.get("/api/v1/log/proof/inclusion",
                            params={"index": index, "size": size}).json()
            assert (body["index"], body["treeSize"]) == (index, size)
            assert base64.b64decode(body["leafHash"]) == leaf(data[index])
            proof = [base64.b64decode(h, validate=True) for h in body["hashes"]]
            translog.verify_inclusion(index, size, leaf(data[index]), proof, root)


def test_consistency_proofs_verify_between_every_pair_of_sizes(
        http: httpx.Client, published: list[str]) -> None:
    head = checkpoint(http, verifier_of(http))
    hashes = [leaf(d) for d in entries(http, head.size)]
    for size in range(1, head.size + 1):
        for old in range(1, size + 1):
            body = http.get("/api/v1/log/proof/consistency",
                            params={"from": old, "size": size}).json()
            assert (body["from"], body["treeSize"]) == (old, size)
            proof = [base64.b64decode(h, validate=True) for h in body["hashes"]]
            translog.verify_consistency(old, size, mth(hashes[:old]), mth(hashes[:size]), proof)


@pytest.mark.parametrize("path,params", [
    ("/api/v1/log/proof/inclusion", {"index": 6, "size": 6}),
    ("/api/v1/log/proof/inclusion", {"index": 0, "size": 10_000}),
    ("/api/v1/log/proof/inclusion", {"index": -1, "size": 3}),
    ("/api/v1/log/proof/inclusion", {"index": "x", "size": 3}),
    ("/api/v1/log/proof/consistency", {"from": 0, "size": 3}),
    ("/api/v1/log/proof/consistency", {"from": 4, "size": 3}),
    ("/api/v1/log/proof/consistency", {"from": 1, "size": 10_000}),
    ("/api/v1/log/entries", {"start": 3, "end": 3}),
    ("/api/v1/log/entries", {"start": 0, "end": 10_000}),
    ("/api/v1/log/entries", {"start": 0}),
])
def test_out_of_range_log_requests_are_bad_requests(
        http: httpx.Client, published: list[str], path: str, params: dict[str, Any]) -> None:
    assert_problem(http.get(path, params=params), 400, "bad-request")


# -- envelopes and capgraph verify ------------------------------------------------------------
def test_served_envelopes_carry_a_verifiable_log_block_outside_the_passport(
        http: httpx.Client, published: list[str]) -> None:
    jwks = http.get("/api/v1/trust-passport-public-key").json()
    size = checkpoint(http, verifier_of(http)).size
    for path in (f"/api/v1/passport/{published[1]}",  # the ASGI fast path
                 f"/api/v1/passport/{published[0]}?version=1",
                 f"/api/v1/artifacts/{published[0]}/versions/2"):
        envelope = http.get(path).json()
        log = envelope["_log"]
        assert "_log" not in envelope["passport"]
        assert log["index"] < size and log["treeSize"] == log["index"] + 1  # its own tree
        assert base64.b64decode(log["leafHash"]) == leaf(canonical_bytes(envelope["passport"]))
        result = verify_envelope(envelope, jwks, require_log=True)
        assert result.log_index == log["index"]


@pytest.fixture
def saved(http: httpx.Client, published: list[str], tmp_path: Path) -> tuple[Path, Path]:
    envelope = tmp_path / "envelope.json"
    envelope.write_bytes(http.get(f"/api/v1/passport/{published[2]}").content)
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(http.get("/api/v1/trust-passport-public-key").content)
    return envelope, jwks


def test_capgraph_verify_checks_signature_and_inclusion_offline(
        saved: tuple[Path, Path], tmp_path: Path) -> None:
    envelope, jwks = saved
    nowhere = tmp_path / "no-data-dir"
    result = invoke(nowhere, "verify", str(envelope), "--keys", str(jwks), "--require-log")
    assert "signature valid" in result.stdout
    index = json.loads(envelope.read_text())["_log"]["index"]
    assert f"at index {index} of" in result.stdout and "checkpoint signature valid" in result.stdout
    assert not nowhere.exists(), "offline verification must not touch a data directory"


@pytest.mark.parametrize("change", ["index", "proof", "checkpoint", "drop-log"])
def test_capgraph_verify_refuses_a_broken_log_block(
        saved: tuple[Path, Path], tmp_path: Path, change: str) -> None:
    envelope, jwks = saved
    data = json.loads(envelope.read_text())
    log = data["_log"]
    if change == "index":
        log["index"] ^= 1  # another entry (or past the tree)
    elif change == "proof":
        log["inclusionProof"][-1] = base64.b64encode(b"\x00" * 32).decode()
    elif change == "checkpoint":
        log["checkpoint"] = log["checkpoint"].replace("\n\u2014 ", "\n\u2014 x")
    else:
        del data["_log"]
    envelope.write_text(json.dumps(data))
    result = invoke(tmp_path / "none", "verify", str(envelope), "--keys", str(jwks),
                    "--require-log", check=False)
    assert result.returncode == 1 and "INVALID" in result.stdout


# -- capgraph log monitor --------------------------------------------------------------------
def monitor(state: Path, url: str) -> tuple[int, str]:
    result = invoke(state.parent / "monitor-data", "log", "monitor", "--state", str(state),
                    "--url", url, check=False)
    return result.returncode, result.stdout + result.stderr


def test_monitor_pins_the_key_and_follows_a_growing_log(
        server: Server, http: httpx.Client, api_key: str, published: list[str],
        tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    code, out = monitor(state, server.url)
    assert code == 0 and "pinned verifier key" in out
    first = json.loads(state.read_text())
    assert first["verifierKey"] == verifier_of(http).encode()
    publish(http, api_key, "log-monitor-grows")  # a new slug: its owner-set and its version
    grown = first["size"] + 2
    code, out = monitor(state, server.url)
    assert code == 0 and f"consistent, size {first['size']} -> {grown}" in out
    code, out = monitor(state, server.url)
    assert code == 0 and f"size {grown} -> {grown}" in out


@dataclass
class Honest:
    data_dir: Path
    state: str
    """The monitor's state file after it saw the honest log."""
    key: str
    entries: list[bytes]


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Honest]:
    """A stopped registry with twelve log entries that a monitor has seen: six artifacts, each
    an `owner-set` entry followed by its first version."""
    root = tmp_path_factory.mktemp("honest")
    data = root / "data"
    key = invoke(data, "keys", "create", "--name", "tamper").stdout.strip()
    with running_server(data) as (srv, _), client_for(srv.url) as client:
        for i in range(6):
            publish(client, key, f"honest-{i}")
        state = root / "state.json"
        code, out = monitor(state, srv.url)
        assert code == 0, out
        seen = entries(client, 12)
    yield Honest(data, state.read_text(), key, seen)


@pytest.fixture
def copy(honest: Honest, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the honest data directory and of the monitor's state, to tamper with."""
    data = tmp_path / "data"
    shutil.copytree(honest.data_dir, data)
    state = tmp_path / "state.json"
    state.write_text(honest.state)
    return data, state


def assert_alarm(state: Path, url: str, honest: Honest, *, why: str) -> None:
    code, out = monitor(state, url)
    assert code == 3, out
    assert "LOG INCONSISTENT" in out and why in out, out
    assert state.read_text() == honest.state, "the evidence must be kept"


def test_monitor_is_quiet_when_an_untouched_log_restarts(
        honest: Honest, copy: tuple[Path, Path]) -> None:
    data, state = copy
    with running_server(data) as (srv, _), client_for(srv.url) as client:
        publish(client, honest.key, "honest-after-restart")
        code, out = monitor(state, srv.url)
    assert code == 0 and "consistent, size 12 -> 14" in out, out


def test_monitor_catches_an_early_entry_rewritten_with_every_node_recomputed(
        honest: Honest, copy: tuple[Path, Path]) -> None:
    data, state = copy
    forged = json.loads(honest.entries[1])  # honest-0's passport (entry 0 is its owner-set)
    forged["unfragile"]["trust"]["score"] = 99
    rewrite_entry(data / "capgraph.db", 1, canonical_bytes(forged))
    with running_server(data) as (srv, _), client_for(srv.url) as client:
        # The operator covered their tracks: the served log is self-consistent, signed by the
        # real key, same size; only its history differs from what the monitor saw.
        head = checkpoint(client, verifier_of(client))
        served = entries(client, head.size)
        assert head.size == 12 and served[1] != honest.entries[1]
        assert mth([leaf(d) for d in served]) == head.root
        assert_alarm(state, srv.url, honest, why="same tree size with a different root")
        # and once the log has grown past the rewrite, the consistency proof gives it away
        publish(client, honest.key, "after-rewrite-1")
        publish(client, honest.key, "after-rewrite-2")
        assert_alarm(state, srv.url, honest, why="does not extend")


def test_monitor_catches_a_truncated_log(honest: Honest, copy: tuple[Path, Path]) -> None:
    data, state = copy
    truncate(data / "capgraph.db", 4)
    assert audit_database(data / "capgraph.db") == 4
    with running_server(data) as (srv, _):
        assert_alarm(state, srv.url, honest, why="shrank from 12 to 4")


def test_monitor_catches_a_checkpoint_signed_with_a_different_key(
        honest: Honest, copy: tuple[Path, Path]) -> None:
    data, state = copy
    impostor = SigningKey.generate(created_at="2026-01-01T00:00:00.000Z")
    (data / "keys" / "log.pem").write_bytes(impostor.to_pem())
    with running_server(data) as (srv, _):
        assert_alarm(state, srv.url, honest, why="does not verify with the pinned key")


# -- the log contract on every storage backend (in-process) -----------------------------------
def _demo_texts(count: int) -> list[str]:
    return [demo_manifest(f"contract-{i}") for i in range(count)]


def test_an_empty_log_has_the_empty_root_and_no_proofs(registry: Registry) -> None:
    head, note = registry.checkpoint()
    assert head.size == 0 and head.root == hashlib.sha256(b"").digest()
    assert parse_checkpoint(note, registry.log_verifier()) == head
    with pytest.raises(BadRequest):
        registry.inclusion(0, 1)
    with pytest.raises(BadRequest):
        registry.consistency(1, 1)
    with pytest.raises(BadRequest):
        registry.log_entries(0, 1)


def test_each_new_version_appends_exactly_its_passport_and_nothing_else_does(
        registry: Registry) -> None:
    texts = _demo_texts(3)
    for text in texts:
        registry.publish(text, hint="yaml")
    assert registry.publish(texts[1], hint="yaml").created is False
    registry.create_api_key("not a log entry")
    assert registry.store.log_size() == 3
    # our own passport imported again is the version we hold: no entry
    again = registry.import_passport(json.loads(registry.envelope_bytes("contract-0", "x")))
    assert not again.created and registry.store.log_size() == 3
    # another registry's passport is a new version: one entry
    seed = json.loads((SEEDS / "qwen-qwen3-coder.passport.json").read_text())
    imported = registry.import_passport(seed)
    assert imported.created and imported.stored.log_index == 3
    registry.publish(demo_manifest("contract-2", revision=1), hint="yaml")
    assert registry.store.log_size() == 5
    seen = set()
    for slug in ("contract-0", "contract-1", "contract-2", imported.stored.slug):
        for stored in registry.versions(slug):
            passport = json.loads(stored.passport)
            assert registry.log_entries(stored.log_index, stored.log_index + 1) == \
                [canonical_bytes(passport)]
            seen.add(stored.log_index)
    assert seen == set(range(5))
    head, _ = registry.checkpoint()
    assert head.root == mth([leaf(e) for e in registry.log_entries(0, 5)])


def test_a_publish_that_fails_leaves_the_log_untouched(
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.publish(demo_manifest("untouched-0"), hint="yaml")
    before = registry.checkpoint()[0]

    def broken(now: object) -> object:
        raise RuntimeError("the key ring is unreadable")

    with monkeypatch.context() as patch:
        patch.setattr(registry.keys, "signing_key", broken)
        with pytest.raises(RuntimeError):
            registry.publish(demo_manifest("untouched-1"), hint="yaml")
    assert registry.checkpoint()[0] == before
    registry.publish(demo_manifest("untouched-1"), hint="yaml")
    assert registry.store.log_size() == 2


def test_sqlite_rolls_back_the_log_append_with_the_rest_of_the_publish(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "cg.db")
    registry = assemble_registry(store=store, keys=FileKeyStore(tmp_path / "keys"),
                        registry_name="rollback", public_url="http://rollback.test")
    registry.publish(demo_manifest("rollback-0"), hint="yaml")
    original = versions.append_leaf

    def append_then_fail(tx: Any, data: bytes) -> int:
        original(tx, data)
        raise RuntimeError("crash after the log append, before the version row")

    monkeypatch.setattr(versions, "append_leaf", append_then_fail)
    with pytest.raises(RuntimeError):
        registry.publish(demo_manifest("rollback-1"), hint="yaml")
    monkeypatch.undo()
    store.close()
    assert audit_database(tmp_path / "cg.db") == 1
    registry.publish(demo_manifest("rollback-1"), hint="yaml")
    assert audit_database(tmp_path / "cg.db") == 2
    store.close()
