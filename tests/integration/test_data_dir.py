"""The data directory: owner-only key files, a signing key that never leaks into output or
logs, and CAPGRAPH_DATA_DIR honoured by every command."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from capgraph.cli.main import cli as capgraph_cli
from tests import pg
from tests.conftest import SEEDS, run_cli
from tests.integration.conftest import (
    CliResult,
    client_for,
    invoke,
    manifest,
    running_server,
    to_yaml,
    write_manifest,
)

# Commands that never open a data dir, and why; every other command must be exercised below.
NO_DATA_DIR = {
    "eval": "scores a given corpus in a temporary in-memory registry",
    "log monitor": "reads a registry over HTTP and keeps its own --state file",
}


def _commands(group: click.Group, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names |= _commands(command, f"{prefix}{name} ")
        else:
            names.add(prefix + name)
    return names


def _secrets(data_dir: Path) -> set[str]:
    """Every text form a private key could leak in: PEM body, raw bytes as hex and base64."""
    forms: set[str] = set()
    pems = list(data_dir.rglob("*.pem"))
    assert pems, f"no private keys under {data_dir}"
    for pem in pems:
        text = pem.read_text()
        forms |= {line for line in text.splitlines() if line and not line.startswith("-----")}
        key = serialization.load_pem_private_key(text.encode(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        forms |= {raw.hex(), base64.b64encode(raw).decode().rstrip("="),
                  base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return forms


def _assert_no_secret(outputs: Iterable[str], data_dir: Path) -> None:
    text = "\n".join(outputs)
    assert "PRIVATE KEY" not in text
    for secret in _secrets(data_dir):
        assert secret not in text, "private key material in output"


def _mcp_passport_over_stdio(data: Path, env: dict[str, str], slug: str) -> dict[str, Any]:
    """``capgraph mcp`` told only CAPGRAPH_DATA_DIR: initialize, then get_passport; the answer
    (read before stdin closes, so the call is not cut off)."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "data-dir-test", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "get_passport", "arguments": {"slug": slug}}},
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "capgraph.cli", "mcp"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, **env, "CAPGRAPH_DATA_DIR": str(data)})
    assert process.stdin is not None and process.stdout is not None
    try:
        for message in messages:
            process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()
        for line in process.stdout:  # bounded: the process is killed below, whatever happens
            answer: dict[str, Any] = json.loads(line)
            if answer.get("id") == 2:
                return answer
        raise AssertionError("capgraph mcp closed without answering")
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_owner_only(keys_dir: Path) -> None:
    assert _mode(keys_dir) == 0o700, oct(_mode(keys_dir))
    entries = list(keys_dir.rglob("*"))
    assert any(p.suffix == ".pem" for p in entries)
    for path in entries:
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, (path.name, oct(_mode(path)))


def test_key_files_are_owner_only_even_with_an_open_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        invoke(tmp_path, "keys", "jwks")
        invoke(tmp_path, "keys", "rotate")
    finally:
        os.umask(previous)
    _assert_owner_only(tmp_path / "keys")


def test_every_command_uses_capgraph_data_dir_and_never_prints_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    # Where the default data dir would be: nothing may ever appear there.
    decoy = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(decoy))
    monkeypatch.delenv("CAPGRAPH_DATABASE", raising=False)
    env = {"XDG_DATA_HOME": str(decoy)}
    ran: set[str] = set()
    outputs: list[str] = []

    def cli(*args: str, check: bool = True) -> CliResult:
        result = invoke(data, *args, check=check, env=env)
        two_words = ("keys", "index", "owners", "claims", "db", "static")
        ran.add(" ".join(args[:2]) if args[0] in two_words else args[0])
        outputs.extend([result.stdout, result.stderr])
        return result

    secret = cli("keys", "create", "--name", "env").stdout.strip()
    assert (data / "capgraph.db").exists()
    assert "\tenv\t" in cli("keys", "list").stdout
    cli("import", str(SEEDS / "qwen-qwen3-coder.passport.json"))
    path = write_manifest(tmp_path, "m.yml", manifest("env-widget"))
    assert "env-widget: version 1" in cli("publish", str(path)).stdout
    assert cli("validate", str(path)).stdout.strip() == f"{path}: ok"
    envelope = json.loads(cli("passport", "env-widget").stdout)
    assert envelope["passport"]["version"] == 1
    (tmp_path / "p.json").write_text(json.dumps(envelope))
    assert "rank" in cli("versions", "env-widget").stdout
    assert "valid" in cli("verify", str(tmp_path / "p.json")).stdout  # keys from the data dir
    assert "SQLite" in cli("db", "migrate").stdout
    name, url = pg.fresh_database()  # the copy signs its checkpoints with this data dir's keys
    try:
        copied = cli("db", "copy", "--from", f"sqlite:///{data / 'capgraph.db'}", "--to", url)
        assert "consistent: the same log at the same size" in copied.stdout
    finally:
        pg.drop_database(name)
    answer = _mcp_passport_over_stdio(data, env, "env-widget")
    ran.add("mcp")
    assert "env-widget" in json.dumps(answer["result"]), answer
    # Ownership lives in the same database. The operator's own publish set no owner.
    cli("keys", "create", "--name", "other")
    rows = [line.split("\t") for line in cli("owners", "publishers").stdout.splitlines()]
    publishers = {row[1]: row[0] for row in rows}  # name -> id
    mine, other = publishers["env"], publishers["other"]
    assert "no owner" in cli("owners", "show", "env-widget").stdout
    cli("owners", "reassign", "env-widget", mine)
    assert cli("owners", "show", "env-widget").stdout.strip() == f"env-widget: owner {mine}"
    cli("owners", "add-maintainer", "env-widget", other)
    assert f"maintainer {other}" in cli("owners", "show", "env-widget").stdout
    cli("owners", "remove-maintainer", "env-widget", other)
    assert other not in cli("owners", "show", "env-widget").stdout
    assert "no verified artifacts" in cli("claims", "recheck").stdout
    assert "(env-widget, api)" in cli("search", "postcode", "lookup").stdout
    assert "(env-widget): postcode lookup" in cli("resolve", "look up a postcode").stdout
    assert " new, " in cli("demo").stdout
    assert "reindexed" in cli("index", "rebuild").stdout
    assert (data / "index" / "vectors.npz").exists()
    assert "artifacts" in cli("index", "status").stdout
    exported = cli("static", "export", "--dir", str(tmp_path / "static")).stdout
    assert "envelopes" in exported and (tmp_path / "static" / "api" / "v1" / "log"
                                        / "checkpoint").exists()
    jwks = json.loads(cli("keys", "jwks").stdout)
    old_kid = envelope["passport"]["keyId"]
    assert old_kid in {k["kid"] for k in jwks["keys"]}
    assert (data / "keys" / f"{old_kid}.pem").exists()
    new_kid = cli("keys", "rotate").stdout.split()[-1]
    assert (data / "keys" / f"{new_kid}.pem").exists()
    key_id = cli("keys", "list").stdout.split("\t")[0]
    assert cli("keys", "revoke", key_id).stdout.strip() == f"revoked {key_id}"
    cli("keys", "revoke-signing", old_kid)
    # The revocation landed in the same key ring the verifier reads.
    assert cli("verify", str(tmp_path / "p.json"), check=False).returncode == 1
    assert "env-widget: version 2" in cli("keys", "resign").stdout

    # Real processes with verbose logging on.
    for args in (("-v", "keys", "rotate"),
                 ("-v", "import", str(SEEDS / "qwen-qwen3.5-flash-02-23.passport.json"))):
        result = run_cli(data, *args)
        outputs.extend([result.stdout, result.stderr])
    listed = json.loads(cli("keys", "jwks").stdout)
    fresh = cli("keys", "create").stdout.strip()

    # `serve` told nothing but CAPGRAPH_DATA_DIR (and debug logging); it signs, so it reads
    # the private key: none of it may reach its log.
    monkeypatch.setenv("CAPGRAPH_LOG_LEVEL", "debug")
    with running_server(data) as (srv, log), client_for(srv.url) as http:
        ran.add("serve")
        total = http.get("/api/v1/artifacts").json()["total"]
        assert total >= 30 and http.get("/api/v1/passport/env-widget").status_code == 200
        served = http.get("/api/v1/trust-passport-public-key").json()
        assert {k["kid"] for k in served["keys"]} == {k["kid"] for k in listed["keys"]}
        revoked = http.post("/api/v1/artifacts", content=to_yaml(manifest("env-2")),
                            headers={"authorization": f"Bearer {secret}"})
        assert revoked.status_code == 401  # that key was revoked above, in this data dir
        auth = {"authorization": f"Bearer {fresh}"}
        assert http.post("/api/v1/artifacts", content=to_yaml(manifest("env-2")),
                         headers=auth).status_code == 201
        http.post("/api/v1/artifacts", content=b"a: [", headers=auth)
        http.post("/api/v1/artifacts", content=to_yaml({"unfragile_version": "1.0"}),
                  headers=auth)
        raw = http.get("/api/v1/passport/env-2").content
        assert http.post("/api/v1/verify", content=raw).json()["valid"] is True
    assert "Application startup complete" in log.text, log.text[-2000:]
    assert "Traceback" not in log.text, log.text[-3000:]
    assert secret not in log.text and fresh not in log.text  # nor any API key
    outputs.append(log.text)

    assert not decoy.exists(), sorted(p.name for p in decoy.rglob("*"))
    missing = _commands(capgraph_cli) - ran - set(NO_DATA_DIR)
    assert not missing, f"commands not checked against CAPGRAPH_DATA_DIR: {sorted(missing)}"
    _assert_no_secret(outputs, data)
    _assert_owner_only(data / "keys")


def test_data_dir_flag_beats_the_environment(tmp_path: Path) -> None:
    flag, env = tmp_path / "flag", tmp_path / "env"
    invoke(env, "--data-dir", str(flag), "keys", "create")
    assert (flag / "capgraph.db").exists()
    assert not env.exists()


def test_the_data_dir_and_database_files_are_owner_only(tmp_path: Path) -> None:
    """The databases hold API-key hashes, feedback and resolve intents: 0700 data dir, 0600
    files (with their -wal and -shm), whatever the umask, and tightened when found looser."""
    data_dir = tmp_path / "data"
    previous = os.umask(0o022)
    try:
        invoke(data_dir, "keys", "create", "--name", "owner-only")
        assert _mode(data_dir) == 0o700, oct(_mode(data_dir))
        databases = sorted(data_dir.glob("*.db*"))
        names = {p.name for p in databases}
        assert {"capgraph.db", "capgraph-events.db"} <= names, names
        for path in databases:
            assert _mode(path) == 0o600, (path.name, oct(_mode(path)))
        # A data dir made by an older version: opened again, it is tightened.
        os.chmod(data_dir, 0o755)
        for path in databases:
            os.chmod(path, 0o644)
        invoke(data_dir, "keys", "create", "--name", "again")
        assert _mode(data_dir) == 0o700
        for path in sorted(data_dir.glob("*.db*")):
            assert _mode(path) == 0o600, (path.name, oct(_mode(path)))
    finally:
        os.umask(previous)


def test_verify_in_an_empty_data_dir_creates_nothing_and_speaks_in_sentences(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    seed = SEEDS / "qwen-qwen3-coder.passport.json"
    result = run_cli(empty, "verify", str(seed), check=False)
    assert result.returncode == 1
    assert list(empty.iterdir()) == [], "verification created state"
    assert "signed by unfragile.ai, whose key is not known here" in result.stdout
    assert "--keys" in result.stderr
    missing = tmp_path / "never-made"
    assert run_cli(missing, "verify", str(seed), check=False).returncode == 1
    assert not missing.exists()
