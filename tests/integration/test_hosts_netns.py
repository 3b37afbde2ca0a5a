"""Two hosts as network namespaces of the test's own (``ip netns``, veth on a bridge, made and
removed by this module; separate processes on 127.0.0.1 where namespaces cannot be made, and
the mode that ran is printed and recorded as the junit suite property ``hosts_mode``), each host a
`capgraph serve` with a data dir of its own and the same key ring, on a PostgreSQL 15 cluster and
a Redis of the test's own that listen on the root namespace's side of the bridge.

- Two hosts publishing one slug concurrently get contiguous versions; a write through one host
  is served by the other, the delay measured (and bounded only by a generous "eventually").
- One Redis gives the two hosts one rate limit; Redis stopped: each host counts on its own,
  logs it, and no client sees an error.
- The cluster restarted (``pg_ctl restart -m fast``) and stopped then started again during a
  publish burst through both hosts: no acknowledged publish lost, never a 500 or a hang, 503
  problem+json with Retry-After while it is away, every checkpoint seen before consistent with
  the final log, and both hosts carry on without a restart.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import shutil
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from capgraph.core import translog
from capgraph.core.checkpoint import Checkpoint, NoteVerifier, parse_checkpoint
from tests.conftest import Server, stop_server
from tests.integration.conftest import (
    ServerLog,
    assert_problem,
    client_for,
    invoke,
    manifest,
    to_yaml,
    write_manifest,
)
from tests.integration.hostlab import PG_BIN, HostLab, OwnPostgres, OwnRedis, start_host
from tests.integration.logaudit import audit, demo_manifest, verifier_of
from tests.integration.test_postgres_faults import _audit_tables

YAML = "application/yaml"
EVENTUALLY = 10.0  # seconds: "another host's write is visible" is asserted within this


@dataclass
class Lab:
    hosts: HostLab
    postgres: OwnPostgres


@pytest.fixture(scope="module")
def lab(record_testsuite_property: Callable[[str, object], None]) -> Iterator[Lab]:
    if not (PG_BIN / "initdb").is_file() or shutil.which("redis-server") is None:
        pytest.skip(f"needs PostgreSQL 15 binaries in {PG_BIN} and redis-server")
    hosts = HostLab()
    print(f"\nmulti-host mode: {hosts.describe()}")
    record_testsuite_property("hosts_mode", hosts.mode)  # in the junit report
    try:
        postgres = OwnPostgres(hosts.server_address, hosts.subnet)
        try:
            yield Lab(hosts, postgres)
        finally:
            postgres.close()
    finally:
        hosts.close()


@dataclass
class Pair:
    a: Server
    b: Server
    logs: list[ServerLog]
    secret: str
    database: str
    env: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def two_hosts(lab: Lab, tmp_path: Path, **settings: str) -> Iterator[Pair]:
    """A fresh database on the lab's cluster, migrated, an API key, the key ring made by a
    first publish and copied to the second host's data dir, and both hosts serving."""
    database = lab.postgres.create_database(f"cg_{secrets.token_hex(4)}")
    env = {"CAPGRAPH_DATABASE_URL": database, "CAPGRAPH_PUBLIC_URL": "https://registry.example",
           "CAPGRAPH_DATABASE_TIMEOUT": "2", **settings}
    a, b = tmp_path / "h1", tmp_path / "h2"
    invoke(a, "db", "migrate", env=env)
    secret = invoke(a, "keys", "create", "--name", "hosts", env=env).stdout.strip()
    invoke(a, "publish", str(write_manifest(tmp_path, "first.yml", manifest("first"))), env=env)
    invoke(a, "passport", "first", env=env)
    shutil.copytree(a / "keys", b / "keys")
    started: list[Server] = []
    logs: list[ServerLog] = []
    try:
        for host, data in enumerate((a, b)):
            started.append(start_host(lab.hosts, host, data, env))
            logs.append(ServerLog(started[-1]))
        yield Pair(started[0], started[1], logs, secret, database, env)
    finally:
        for srv in started:
            stop_server(srv)
        for log in logs:
            log.close()


def _post(client: httpx.Client, secret: str, body: str) -> httpx.Response:
    return client.post("/api/v1/artifacts", content=body,
                       headers={"content-type": YAML, "authorization": f"Bearer {secret}"})


def test_two_namespaced_hosts_share_one_log_and_see_each_others_writes(
        lab: Lab, tmp_path: Path) -> None:
    with two_hosts(lab, tmp_path) as pair, client_for(pair.a.url) as a, \
            client_for(pair.b.url) as b:
        if lab.hosts.mode == "namespaces":  # each host listens on its own namespace's address
            assert pair.a.url.split(":")[1] != pair.b.url.split(":")[1]
        # concurrent publishes of one slug through both hosts: versions 1..n, no gap, no twin
        versions: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        start = threading.Barrier(4)

        def run(t: int) -> None:
            try:
                with client_for((pair.a, pair.b)[t % 2].url) as client:
                    start.wait(timeout=30)
                    for i in range(3):
                        response = _post(client, pair.secret,
                                         to_yaml(manifest("shared", revision=1 + t * 3 + i)))
                        assert response.status_code == 201, response.text
                        with lock:
                            versions.append(response.json()["version"])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert sorted(versions) == list(range(1, 13))
        for client in (a, b):
            rows = client.get("/api/v1/artifacts/shared/versions").json()["versions"]
            assert [r["version"] for r in rows] == list(range(1, 13))

        # a write through one host, read through the other: the delay from the 201 to the
        # other host serving it, each way
        delays = []
        for k in range(6):
            writer, reader = (a, b) if k % 2 == 0 else (b, a)
            slug = f"seen-{k}"
            assert _post(writer, pair.secret, demo_manifest(slug)).status_code == 201
            acknowledged = time.perf_counter()
            while (status := reader.get(f"/api/v1/passport/{slug}").status_code) != 200:
                assert status == 404
                assert time.perf_counter() - acknowledged < EVENTUALLY, f"{slug} never seen"
            delays.append(time.perf_counter() - acknowledged)
        print(f"cross-host visibility ({lab.hosts.mode}): median "
              f"{statistics.median(delays) * 1e3:.1f} ms, max {max(delays) * 1e3:.1f} ms "
              f"over {len(delays)} writes")
        # a resolve answered by one host is reported on through the other: one callback secret
        answer = b.post("/api/v1/resolve", json={"intent": "look up a postcode"}).json()
        entry = next(e for e in answer["resolved"] if e["artifact"]["slug"] == "shared")
        report = a.post("/api/feedback", json={
            "resolveId": answer["resolveId"], "slug": "shared",
            "callbackToken": entry["callbackToken"], "outcome": "success"})
        assert report.status_code == 201, report.text
        verifier = verifier_of(a)
        assert audit(a, verifier).head == audit(b, verifier).head
    for log in pair.logs:
        assert "Traceback" not in log.text


def _health_codes(urls: list[str], secret: str, count: int) -> list[int]:
    codes = []
    for i in range(count):
        with client_for(urls[i % len(urls)]) as client:
            response = client.get("/api/v1/health",
                                  headers={"authorization": f"Bearer {secret}"})
        codes.append(response.status_code)
    return codes


def test_one_redis_limits_both_hosts_and_without_it_each_counts_alone(
        lab: Lab, tmp_path: Path) -> None:
    limit = 15
    redis_server = OwnRedis(lab.hosts.server_address)
    try:
        with two_hosts(lab, tmp_path, CAPGRAPH_REDIS_URL=redis_server.url,
                       CAPGRAPH_RATE_LIMIT_KEY=str(limit)) as pair:
            urls = [pair.a.url, pair.b.url]
            shared = _health_codes(urls, pair.secret, 2 * limit)
            assert shared.count(200) == limit, shared  # one window for both hosts
            assert set(shared) == {200, 429}
            redis_server.stop()
            # a fresh key: its window starts empty on each host
            other = invoke(tmp_path / "h1", "keys", "create", env=pair.env).stdout.strip()
            alone = _health_codes(urls, other, 3 * limit)  # client_for refuses any 5xx
            assert alone.count(200) == 2 * limit, alone  # each host its own window
            assert set(alone) == {200, 429}
        for log in pair.logs:
            assert log.text.count("Redis is unavailable") == 1, log.text
            assert "Traceback" not in log.text
    finally:
        redis_server.stop()


@dataclass
class Tally:
    acknowledged: set[str] = field(default_factory=set)
    attempted: set[str] = field(default_factory=set)
    unavailable: int = 0  # 503 storage-unavailable with Retry-After
    server_errors: list[str] = field(default_factory=list)  # any other 5xx
    hangs: list[str] = field(default_factory=list)  # transport errors and time-outs
    other: list[str] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _classify(response: httpx.Response, tally: Tally, what: str) -> bool:
    """Counts one answer; True for a success."""
    if response.status_code in (200, 201):
        return True
    with tally.lock:
        if response.status_code == 503:
            problem = assert_problem(response, 503, "storage-unavailable")
            assert int(response.headers["retry-after"]) >= 1, problem
            tally.unavailable += 1
        elif response.status_code >= 500:
            tally.server_errors.append(f"{what}: {response.status_code} {response.text[:300]}")
        else:
            tally.other.append(f"{what}: {response.status_code} {response.text[:300]}")
    return False


def _publisher(url: str, secret: str, name: str, tally: Tally, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=20) as client:
        for i in range(10_000):
            if stop.is_set():
                return
            slug = f"burst-{name}-{i}"
            with tally.lock:
                tally.attempted.add(slug)
            try:
                response = _post(client, secret, demo_manifest(slug))
            except httpx.TransportError as exc:
                with tally.lock:
                    tally.hangs.append(f"{slug}: {exc!r}")
                return
            if _classify(response, tally, slug):
                with tally.lock:
                    tally.acknowledged.add(slug)
            elif response.status_code == 503:
                time.sleep(min(float(response.headers["retry-after"]), 0.5))
            else:
                return


def _monitor(urls: list[str], verifier: NoteVerifier, tally: Tally, stop: threading.Event) -> None:
    """A monitor reading both hosts' checkpoints throughout."""
    clients = [httpx.Client(base_url=u, timeout=20) for u in urls]
    try:
        k = 0
        while not stop.wait(0.2):
            k += 1
            try:
                response = clients[k % 2].get("/api/v1/log/checkpoint")
            except httpx.TransportError as exc:
                with tally.lock:
                    tally.hangs.append(f"checkpoint: {exc!r}")
                return
            if _classify(response, tally, "checkpoint"):
                head = parse_checkpoint(response.text, verifier)
                with tally.lock:
                    tally.checkpoints.append(head)
    finally:
        for client in clients:
            client.close()


def _wait_for_more(tally: Tally, count: int, timeout: float = 90) -> None:
    with tally.lock:
        target = len(tally.acknowledged) + count
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with tally.lock:
            if len(tally.acknowledged) >= target or tally.hangs or tally.server_errors:
                return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} more publishes in {timeout} s: {tally}")


def test_postgres_restarted_and_stopped_mid_burst_loses_nothing_and_hosts_recover(
        lab: Lab, tmp_path: Path) -> None:
    with two_hosts(lab, tmp_path) as pair:
        with client_for(pair.a.url) as a:
            verifier = verifier_of(a)
        tally, stop = Tally(), threading.Event()
        threads = [threading.Thread(target=_publisher, daemon=True,
                                    args=(srv.url, pair.secret, f"h{h}t{t}", tally, stop))
                   for h, srv in enumerate((pair.a, pair.b), 1) for t in range(2)]
        threads.append(threading.Thread(target=_monitor, daemon=True,
                                        args=([pair.a.url, pair.b.url], verifier, tally, stop)))
        for thread in threads:
            thread.start()
        restarts = stops = 0
        try:
            _wait_for_more(tally, 4)
            lab.postgres.restart()  # pg_ctl restart -m fast: every connection cut
            restarts += 1
            _wait_for_more(tally, 4)  # both hosts' pools reconnected on their own
            lab.postgres.stop()
            stops += 1
            away = time.monotonic()
            # while it is away, a read and a write on each host: 503 problem+json, no hang
            for srv in (pair.a, pair.b):
                with httpx.Client(base_url=srv.url, timeout=20) as client:
                    for response in (client.get("/api/v1/passport/first"),
                                     _post(client, pair.secret, demo_manifest("while-away"))):
                        assert_problem(response, 503, "storage-unavailable")
                        assert int(response.headers["retry-after"]) >= 1
            time.sleep(max(0.0, 1.5 - (time.monotonic() - away)))
            lab.postgres.start()
            _wait_for_more(tally, 4)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a client thread hung"
        assert not tally.hangs, tally.hangs
        assert not tally.server_errors, tally.server_errors
        assert not tally.other, tally.other

        with client_for(pair.a.url) as a, client_for(pair.b.url) as b:
            final_a, final_b = audit(a, verifier), audit(b, verifier)
            assert final_a.head == final_b.head
            published = set(final_a.slugs)
            lost = tally.acknowledged - published
            assert not lost, f"lost: {sorted(lost)}"
            assert published - {"first"} <= tally.attempted
            # every checkpoint a monitor saw before is a prefix of the final log
            final = final_a.head
            for seen in tally.checkpoints:
                assert seen.size <= final.size
                if seen.size == final.size:
                    assert seen.root == final.root
                    continue
                body = b.get("/api/v1/log/proof/consistency",
                             params={"from": seen.size, "size": final.size}).json()
                proof = [base64.b64decode(h) for h in body["hashes"]]
                translog.verify_consistency(seen.size, final.size, seen.root, final.root, proof)
        assert _audit_tables(pair.database) == final.size
        unacknowledged = len(tally.attempted - tally.acknowledged)
        print(f"PostgreSQL faults ({lab.hosts.mode}): restarts: {restarts}, stop/start: {stops}, "
              f"acknowledged: {len(tally.acknowledged)}, unacknowledged: {unacknowledged}, "
              f"lost: {len(lost)}, 503 with Retry-After: {tally.unavailable} + 4 probes, 500: "
              f"{len(tally.server_errors)}, hangs: {len(tally.hangs)}, checkpoints checked: "
              f"{len(tally.checkpoints)}")
    for log in pair.logs:
        assert "Traceback" not in log.text, log.text[-3000:]
