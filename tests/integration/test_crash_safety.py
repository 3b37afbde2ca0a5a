"""Crash safety: a server killed with SIGKILL in the middle of a burst of publishes comes back
with a consistent log that holds every acknowledged publish and no half-written entry."""

from __future__ import annotations

import base64
import os
import signal
import threading
from pathlib import Path

import httpx

from capgraph.core import translog
from tests.integration.conftest import client_for, invoke, running_server
from tests.integration.logaudit import audit, audit_database, checkpoint, demo_manifest, verifier_of

THREADS = 6
KILL_AFTER = 30  # acknowledged publishes before the kill
BASES = ["docling.yml", "vllm.yml", "whisper-large-v3.yml", "playwright-mcp.yml"]


class Burst:
    """Publisher threads that record every 201 and stop at the first transport error."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.headers = {"content-type": "application/yaml", "authorization": f"Bearer {key}"}
        self.acknowledged: list[str] = []
        self.attempted: list[str] = []
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True)
                        for t in range(THREADS)]

    def _run(self, thread: int) -> None:
        with httpx.Client(base_url=self.url, timeout=20) as client:
            for i in range(10_000):
                if self.stop.is_set():
                    return
                slug = f"crash-{thread}-{i}"
                with self.lock:
                    self.attempted.append(slug)
                try:
                    response = client.post("/api/v1/artifacts", headers=self.headers,
                                           content=demo_manifest(slug, base=BASES[i % 4]))
                except httpx.TransportError:
                    return  # the server died under us: this publish is unacknowledged
                with self.lock:
                    if response.status_code == 201:
                        self.acknowledged.append(slug)
                        if len(self.acknowledged) >= KILL_AFTER:
                            self.enough.set()
                    else:
                        self.unexpected.append(f"{slug}: {response.status_code}")
                        return

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a publisher thread hung"


def test_sigkill_mid_burst_loses_no_acknowledged_publish_and_leaves_no_torn_entry(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = invoke(data, "keys", "create", "--name", "crash").stdout.strip()
    with running_server(data) as (srv, _):
        with client_for(srv.url) as client:
            verifier = verifier_of(client)
        burst = Burst(srv.url, key)
        burst.start()
        assert burst.enough.wait(timeout=60), f"only {len(burst.acknowledged)} publishes in 60 s"
        with client_for(srv.url) as client:
            before = checkpoint(client, verifier)  # a head a monitor saw before the crash
        os.kill(srv.process.pid, signal.SIGKILL)
        assert srv.process.wait(timeout=15) == -signal.SIGKILL
        burst.join()
    assert not burst.unexpected, burst.unexpected
    acknowledged = set(burst.acknowledged)
    in_flight = set(burst.attempted) - acknowledged
    assert in_flight, "the kill should land while publishes are in flight"

    # On disk, before any server touches it again: no torn entry, no orphan on either side.
    size = audit_database(data / "capgraph.db")

    with running_server(data) as (srv, _), client_for(srv.url) as client:
        result = audit(client, verifier)
        assert result.head.size == size == sum(result.slugs.values()) + len(result.ownership)
        # every artifact's first publish set its owner in the same transaction: no owner-set
        # entry without its version, nor the other way round
        assert result.owner_set == {slug: 1 for slug in result.slugs}
        published = set(result.slugs)
        assert acknowledged <= published, f"lost: {sorted(acknowledged - published)}"
        assert published <= acknowledged | in_flight
        assert all(result.slugs[s] == 1 for s in published)
        # the history a monitor saw before the crash is a prefix of the log after it
        assert before.size <= size
        if before.size < size:
            body = client.get("/api/v1/log/proof/consistency",
                              params={"from": before.size, "size": size}).json()
            proof = [base64.b64decode(h) for h in body["hashes"]]
            translog.verify_consistency(before.size, size, before.root, result.head.root, proof)
        else:
            assert before.root == result.head.root
        # and the log keeps growing from where it stopped
        response = client.post("/api/v1/artifacts", headers=burst.headers,
                               content=demo_manifest("crash-after-restart"))
        assert response.status_code == 201
        assert checkpoint(client, verifier).size == size + 2  # owner-set and version
    assert audit_database(data / "capgraph.db") == size + 2
