"""What the worst inputs of issue 14 (points 17 and 18) cost a server, before and after, in one
run on this machine.

Two servers run side by side, one after the other, each a real `capgraph serve` on 127.0.0.1
with the demo data: "before" is the source tree of ``--before`` (a commit, default the one this
work started from), taken with ``git archive`` into a temporary folder and put first on
PYTHONPATH (the same .venv, so the same libraries); "after" is this worktree. For each:

- a 200,000-item YAML list (800 KB) posted to the anonymous /api/v1/validate, four at once;
- one request whose head is ``--header-mb`` MB (a single header line), then its end;

and, meanwhile, another client reading a passport in a loop. Reported: the attack's wall time
and the server's CPU seconds (from /proc), and the other client's p50/p99 latency, against its
latency with no attack.

    .venv/bin/python bench/hostile_inputs.py [--before 5a9cb3a] [--header-mb 32]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
YAML_LIST = "\n".join("- a" for _ in range(200_000)).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, src: Path, data_dir: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(src), "CAPGRAPH_DATA_DIR": str(data_dir),
               "CAPGRAPH_EMBEDDER": "none", "CAPGRAPH_RATE_LIMIT_ANONYMOUS": "1000000"}
        subprocess.run([sys.executable, "-m", "capgraph.cli", "demo"], env=env, check=True,
                       capture_output=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "capgraph.cli", "serve", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def victim_latencies(url: str, stop: threading.Event) -> list[float]:
    out: list[float] = []
    with httpx.Client(base_url=url, timeout=120) as http:
        slug = http.get("/api/v1/artifacts", params={"limit": 1}).json()["artifacts"][0]["slug"]
        while not stop.is_set():
            start = time.perf_counter()
            http.get(f"/api/v1/passport/{slug}")
            out.append((time.perf_counter() - start) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def under_attack(server: Server, attack: Callable[[], object]) -> dict[str, float]:
    stop = threading.Event()
    result: list[list[float]] = []
    victim = threading.Thread(target=lambda: result.append(victim_latencies(server.url, stop)))
    victim.start()
    time.sleep(0.3)
    cpu = cpu_seconds(server.process.pid)
    start = time.perf_counter()
    attack()
    wall = time.perf_counter() - start
    cpu = cpu_seconds(server.process.pid) - cpu
    stop.set()
    victim.join()
    latencies = result[0]
    return {"wall": wall, "cpu": cpu, "p50": p(latencies, 50), "p99": p(latencies, 99),
            "rss": peak_rss_mb(server.process.pid)}


def yaml_attack(url: str) -> Callable[[], object]:
    def one() -> None:
        with httpx.Client(timeout=300) as http:
            http.post(f"{url}/api/v1/validate", content=YAML_LIST,
                      headers={"content-type": "application/yaml"})

    def four() -> None:
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return four


def header_attack(port: int, megabytes: int) -> Callable[[], object]:
    def send() -> None:
        chunk = b"a" * 65536
        with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
            try:
                sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
                for _ in range(megabytes * 16):
                    sock.sendall(chunk)
                sock.sendall(b"\r\n\r\n")
            except OSError:
                pass  # refused and closed by the server: the answer is already there
            with contextlib.suppress(OSError):
                sock.recv(65536)
    return send


def measure(name: str, src: Path, header_mb: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(src, Path(tmp) / "data")
        try:
            quiet = under_attack(server, lambda: time.sleep(3))
            yaml_cost = under_attack(server, yaml_attack(server.url))
            head_cost = under_attack(server, header_attack(server.port, header_mb))
        finally:
            server.stop()
    return [
        f"| {name} | no attack (3 s) | - | - | {quiet['p50']:.1f} | {quiet['p99']:.1f} | - |",
        f"| {name} | 4 x 800 KB YAML list to /api/v1/validate | {yaml_cost['wall']:.2f} | "
        f"{yaml_cost['cpu']:.2f} | {yaml_cost['p50']:.1f} | {yaml_cost['p99']:.1f} | "
        f"{yaml_cost['rss']:.0f} |",
        f"| {name} | one {header_mb} MB request header | {head_cost['wall']:.2f} | "
        f"{head_cost['cpu']:.2f} | {head_cost['p50']:.1f} | {head_cost['p99']:.1f} | "
        f"{head_cost['rss']:.0f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="5a9cb3a", help="the commit to compare with")
    parser.add_argument("--header-mb", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "src"],
                                 check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        rows = measure(f"before ({args.before})", Path(tmp) / "src", args.header_mb)
    rows += measure("after", ROOT / "src", args.header_mb)
    print("| server | attack | attack wall s | server CPU s | other client p50 ms | "
          "p99 ms | server peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
