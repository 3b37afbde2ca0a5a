"""The test run's own hosts and servers for the multi-host tests: network namespaces joined by
a bridge, a PostgreSQL 15 cluster and a Redis of the run's own, and `capgraph serve` inside a
namespace.

``HostLab`` makes namespaces ``cg-h1-<pid>``, ``cg-h2-<pid>`` (veth pairs on a bridge in the
root namespace, a private /24 no route of the machine uses, loopback up in each) and removes
them again (``close``, also registered with atexit). Where namespaces cannot be made (not root,
no permission), or with ``CAPGRAPH_TEST_HOSTS=processes``, it falls back to separate processes on
127.0.0.1 and says so in ``mode``.

``OwnPostgres`` is an initdb'd cluster in a temporary folder owned by the ``postgres`` user
(initdb refuses root), listening on the lab's root-side address on a free port: tests may stop
and restart it, which they must never do to the machine's shared PostgreSQL.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.conftest import Server, free_port, start_server

PG_BIN = Path(os.environ.get("CAPGRAPH_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
NAMESPACES = "namespaces"
PROCESSES = "processes"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def _unused_subnet() -> ipaddress.IPv4Network:
    """A 10.251.x.0/24 that no route of the machine covers (x from the pid, then onwards)."""
    routes = _ip("-4", "route", "show", "table", "all", check=False).stdout.split()
    taken = []
    for word in routes:
        with contextlib.suppress(ValueError):
            taken.append(ipaddress.ip_network(word, strict=False))
    start = os.getpid() % 200
    for k in range(200):
        net = ipaddress.ip_network(f"10.251.{(start + k) % 200 + 20}.0/24")
        if not any(net.overlaps(t) for t in taken if t.prefixlen > 0):
            return net
    raise RuntimeError("no free 10.251.x.0/24 for the test hosts")


class HostLab:
    """Two test hosts: network namespaces when possible, else processes on 127.0.0.1."""

    def __init__(self, count: int = 2) -> None:
        self.tag = str(os.getpid())
        self.namespaces: list[str] = []
        self.bridge = f"cgb{self.tag}"
        self.mode = PROCESSES
        self.why = ""
        self.server_address = "127.0.0.1"  # where the lab's PostgreSQL and Redis listen
        self.host_addresses = ["127.0.0.1"] * count
        self.subnet: ipaddress.IPv4Network | None = None
        atexit.register(self.close)
        if os.environ.get("CAPGRAPH_TEST_HOSTS") == PROCESSES:
            self.why = "CAPGRAPH_TEST_HOSTS=processes"
            return
        try:
            self._make(count)
        except (subprocess.CalledProcessError, OSError, RuntimeError) as exc:
            self.close()
            self.namespaces = []
            self.server_address = "127.0.0.1"
            self.host_addresses = ["127.0.0.1"] * count
            self.why = getattr(exc, "stderr", "") or str(exc)
            self.mode = PROCESSES

    def _make(self, count: int) -> None:
        if shutil.which("ip") is None:
            raise RuntimeError("no `ip` command")
        net = _unused_subnet()
        hosts = list(net.hosts())
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{hosts[0]}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        addresses = []
        for k in range(count):
            ns = f"cg-h{k + 1}-{self.tag}"
            outside, inside = f"cgv{self.tag}h{k + 1}", f"cgw{self.tag}h{k + 1}"
            _ip("netns", "add", ns)
            self.namespaces.append(ns)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", outside, "master", self.bridge, "up")
            _ip("link", "set", inside, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{hosts[k + 1]}/24", "dev", inside)
            _ip("-n", ns, "link", "set", inside, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            addresses.append(str(hosts[k + 1]))
        self.subnet = net
        self.server_address = str(hosts[0])
        self.host_addresses = addresses
        self.mode = NAMESPACES

    def describe(self) -> str:
        if self.mode == NAMESPACES:
            return (f"hosts as network namespaces {', '.join(self.namespaces)} on {self.subnet} "
                    f"(bridge {self.bridge}, databases at {self.server_address})")
        return f"hosts as separate processes on 127.0.0.1 (namespaces unavailable: {self.why})"

    def close(self) -> None:
        for ns in self.namespaces:  # deleting a namespace deletes its veth pair
            _ip("netns", "delete", ns, check=False)
        self.namespaces = []
        if self.mode == NAMESPACES or _ip("link", "show", self.bridge, check=False).returncode == 0:
            _ip("link", "delete", self.bridge, check=False)


def start_host(lab: HostLab, host: int, data_dir: Path, env: dict[str, str]) -> Server:
    """`capgraph serve` on test host ``host`` with ``data_dir``, answering on its address."""
    prefix = ["ip", "netns", "exec", lab.namespaces[host]] if lab.mode == NAMESPACES else []
    return start_server(data_dir, host=lab.host_addresses[host], prefix=prefix, env=env,
                        port=8000 if lab.mode == NAMESPACES else None, wait=90)


class OwnPostgres:
    """A PostgreSQL 15 cluster of the test's own (trust auth for the lab), to stop and restart."""

    def __init__(self, address: str, subnet: ipaddress.IPv4Network | None) -> None:
        self.address = address
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="capgraph-own-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        atexit.register(self.close)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(PG_BIN / "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        # appended by this process (root or the cluster's owner): the files keep their owner
        allowed = str(subnet) if subnet is not None else "127.0.0.1/32"
        with (self.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write(f"host all all {allowed} trust\n")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '{address}'\n"
                       f"unix_socket_directories = '{self.root}'\nmax_connections = 60\n")
        self.start()

    def _run(self, *argv: str | Path) -> None:
        command = [str(a) for a in argv]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", *args)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.address}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def close(self) -> None:
        if self.data.is_dir():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._run(PG_BIN / "pg_ctl", "-D", str(self.data), "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class OwnRedis:
    """A redis-server of the test's own on the lab's root-side address, to stop at will."""

    def __init__(self, address: str) -> None:
        self.port = free_port()
        self.url = f"redis://{address}:{self.port}/0"
        self.root = Path(tempfile.mkdtemp(prefix="capgraph-own-redis-"))
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            ["redis-server", "--bind", address, "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--protected-mode", "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(self.stop)
        import redis  # the client, as the registry uses it

        deadline = time.monotonic() + 20
        while True:
            try:
                with redis.Redis.from_url(self.url) as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
