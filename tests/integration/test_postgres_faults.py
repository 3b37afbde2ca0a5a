"""Faults on PostgreSQL: the database going away (a TCP proxy of the test's own, stopped and
started again; the machine's PostgreSQL is never touched) gives 503 problem+json with
Retry-After, never a 500 or a hang, and the host reconnects on its own; a host killed with
SIGKILL mid-burst loses no acknowledged publish and leaves the tables consistent."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests import pg
from tests.conftest import free_port
from tests.integration.conftest import assert_problem, client_for, invoke, running_server
from tests.integration.logaudit import audit, checkpoint, demo_manifest, leaf, mth, verifier_of
from tests.integration.test_crash_safety import Burst


class TcpProxy:
    """127.0.0.1:``port`` forwarded to PostgreSQL while it runs; ``stop`` closes the listener
    and cuts every forwarded connection, like a database that went away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if listener is not self._listener:  # stopped meanwhile
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._open.clear()


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    name, url = pg.fresh_database()
    invoke(tmp_path / "migrate", "db", "migrate", env={"CAPGRAPH_DATABASE_URL": url})
    try:
        yield url
    finally:
        pg.drop_database(name)


def _via(url: str, port: int) -> str:
    return url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{port}/")


def test_the_database_away_gives_503_with_retry_after_and_the_host_comes_back(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    monkeypatch.setenv("CAPGRAPH_DATABASE_URL", _via(database, proxy.port))
    monkeypatch.setenv("CAPGRAPH_DATABASE_TIMEOUT", "1.5")
    data = tmp_path / "data"
    secret = invoke(data, "keys", "create").stdout.strip()
    headers = {"content-type": "application/yaml", "authorization": f"Bearer {secret}"}
    outages = 0
    try:
        with running_server(data) as (srv, log), httpx.Client(base_url=srv.url,
                                                              timeout=30) as client:
            assert client.post("/api/v1/artifacts", headers=headers,
                               content=demo_manifest("before")).status_code == 201
            for round_ in range(2):
                proxy.stop()
                outages += 1
                for method, path, body in (
                        ("GET", "/api/v1/passport/before", None),
                        ("GET", "/api/v1/artifacts", None),
                        ("POST", "/api/v1/resolve", b'{"intent": "convert a pdf"}'),
                        ("POST", "/api/v1/artifacts", demo_manifest(f"away-{round_}"))):
                    response = client.request(method, path, content=body, headers={
                        **headers, "content-type": "application/json"
                        if path.endswith("resolve") else "application/yaml"})
                    problem = assert_problem(response, 503, "storage-unavailable")
                    assert int(response.headers["retry-after"]) >= 1, problem
                proxy.start()
                # back on its own: the pool reconnects, nothing to restart
                assert client.get("/api/v1/passport/before").status_code == 200
                assert client.post("/api/v1/artifacts", headers=headers,
                                   content=demo_manifest(f"after-{round_}")).status_code == 201
            verifier = verifier_of(client)
            result = audit(client, verifier)
            assert set(result.slugs) == {"before", "after-0", "after-1"}
        assert "Traceback" not in log.text
    finally:
        proxy.stop()
    assert outages == 2


def _audit_tables(url: str) -> int:
    """The PostgreSQL tables agree: leaves 0..n-1, one per version or ownership entry, every
    stored node the MTH of the leaves it covers. Returns n."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT idx, data FROM log_leaves ORDER BY idx").fetchall()
        n = len(rows)
        assert [r[0] for r in rows] == list(range(n))
        hashes = [leaf(bytes(r[1])) for r in rows]
        versions = [r[0] for r in conn.execute("SELECT log_index FROM versions").fetchall()]
        assert len(set(versions)) == len(versions) and all(0 <= v < n for v in versions)
        nodes = conn.execute("SELECT level, idx, hash FROM log_nodes").fetchall()
        assert len(nodes) == 2 * n - bin(n).count("1")
        for level, index, digest in nodes:
            width = 1 << level
            assert bytes(digest) == mth(hashes[index * width:(index + 1) * width])
        return n


def test_sigkill_mid_burst_on_postgres_loses_no_acknowledged_publish(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGRAPH_DATABASE_URL", database)
    data = tmp_path / "data"
    key = invoke(data, "keys", "create", "--name", "crash").stdout.strip()
    with running_server(data) as (srv, _):
        with client_for(srv.url) as client:
            verifier = verifier_of(client)
        burst = Burst(srv.url, key)
        burst.start()
        assert burst.enough.wait(timeout=60), f"only {len(burst.acknowledged)} publishes"
        with client_for(srv.url) as client:
            before = checkpoint(client, verifier)
        os.kill(srv.process.pid, signal.SIGKILL)
        assert srv.process.wait(timeout=15) == -signal.SIGKILL
        burst.join()
    assert not burst.unexpected, burst.unexpected
    acknowledged = set(burst.acknowledged)
    in_flight = set(burst.attempted) - acknowledged
    size = _audit_tables(database)
    with running_server(data) as (srv, _), client_for(srv.url) as client:
        result = audit(client, verifier)
        assert result.head.size == size >= before.size
        published = set(result.slugs)
        assert acknowledged <= published, f"lost: {sorted(acknowledged - published)}"
        assert published <= acknowledged | in_flight
        print(f"kills: 1, acknowledged: {len(acknowledged)}, in flight: {len(in_flight)}, "
              f"lost: {len(acknowledged - published)}")
