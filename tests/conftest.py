"""Shared fixtures: registries on each backend, the seeds, and a real server subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.registry import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from capgraph.storage.sqlite import SQLiteStore

# The suites make thousands of requests from one address; the rate limits have tests of
# their own that set them low explicitly.
os.environ.setdefault("CAPGRAPH_RATE_LIMIT_ANONYMOUS", "1000000")
os.environ.setdefault("CAPGRAPH_RATE_LIMIT_KEY", "1000000")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CAPGRAPH_SHARED", ROOT.parent / "shared"))
SEEDS = SHARED / "seeds"
DEMO = ROOT / "src" / "capgraph" / "demo" / "manifests"
FIXED_NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def seed_paths() -> list[Path]:
    paths = sorted(SEEDS.glob("*.passport.json"))
    assert len(paths) == 2, f"expected the two seed passports in {SEEDS}"
    return paths


@pytest.fixture(params=["memory", "sqlite"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """A Registry on each storage backend, with a fixed clock and its own keys."""
    store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "cg.db")
    reg = assemble_registry(
        store=store, keys=FileKeyStore(tmp_path / "keys"), registry_name="capgraph-test",
        public_url="http://registry.test", clock=lambda: FIXED_NOW,
    )
    yield reg
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(self.data_dir, *args, check=check)


def run_cli(data_dir: Path, *args: str, check: bool = True,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAPGRAPH_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "capgraph.cli", *args], env=env, capture_output=True, text=True,
        check=check, timeout=120, input=input,
    )


def start_server(data_dir: Path, *extra: str, workers: int = 1, host: str = "127.0.0.1",
                 port: int | None = None, prefix: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, wait: float = 60) -> Server:
    """`capgraph serve` on ``host``:``port`` (a free one by default), its command run under
    ``prefix`` (e.g. ``ip netns exec NS``), once its health check answers."""
    port = port or free_port()
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "capgraph.cli", "serve", "--host", host, "--port",
         str(port), "--workers", str(workers), *extra],
        env={**os.environ, **(env or {}), "CAPGRAPH_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return Server(url, data_dir, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not answer within {wait} s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)
    if server.process.stderr is not None:
        server.process.stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real capgraph server on 127.0.0.1 with an empty database of its own."""
    srv = start_server(tmp_path_factory.mktemp("server-data"))
    yield srv
    stop_server(srv)
