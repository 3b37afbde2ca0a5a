"""Helper for bench/passport_rps.sh: free ports, readiness, one wrk run with CPU accounting,
and the final table. Standard library only (runs with any python3).

Subcommands:
  free-port                               print an unused 127.0.0.1 port
  wait URL [--timeout S]                  wait until URL answers 200
  fetch URL OUT                           save the response body of URL to OUT
  same-size URL... --file F               check every URL serves exactly len(F) bytes
  run --label L --url U --pgid G --results R [--threads T --conns C --duration D --warmup W]
                                          warm up, run wrk, append one JSON line to R
  quiet [--max-busy F --timeout S]        wait until other processes leave the CPU idle
  report R [--json OUT]                   print the table and the capgraph/nginx ratios
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def wait(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            status, _ = get(url, timeout=2.0)
            if status == 200:
                return
        except Exception as exc:  # connection refused while starting
            last = exc
        time.sleep(0.2)
    sys.exit(f"{url} did not answer 200 within {timeout}s ({last})")


def group_cpu_seconds(pgid: int) -> float:
    """utime+stime of every live process in a process group (the server and its workers)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # fields[0] is state; pgrp is the 5th stat field
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def busy_cpu_seconds() -> float:
    """CPU seconds spent busy on the whole machine (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def quiet(max_busy: float, timeout: float, window: float = 3.0) -> None:
    """Wait until the machine (all cores) was at most ``max_busy`` busy over ``window`` s."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + timeout
    while True:
        before = busy_cpu_seconds()
        time.sleep(window)
        busy = (busy_cpu_seconds() - before) / (window * cores)
        if busy <= max_busy:
            print(f"  machine {busy:.0%} busy over {window:.0f} s before this round")
            return
        if time.monotonic() > deadline:
            print(f"  WARNING: machine still {busy:.0%} busy (other processes) after "
                  f"{timeout:.0f} s of waiting; measuring anyway")
            return


def to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.M))
    total = re.search(r"(\d+) requests in ([\d.]+\w+), (\S+) read", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": to_ms(percentiles["50"]),
        "p75_ms": to_ms(percentiles["75"]),
        "p90_ms": to_ms(percentiles["90"]),
        "p99_ms": to_ms(percentiles["99"]),
        "requests": int(total.group(1)) if total else None,
        "read": total.group(3) if total else None,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def wrk(url: str, threads: int, conns: int, duration: str) -> tuple[str, float, float]:
    """Run wrk; return its output, its own CPU seconds, and the wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}", "--latency", url],
        capture_output=True, text=True, check=True, timeout=600,
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout, cpu, wall


def run(args: argparse.Namespace) -> None:
    wrk(args.url, args.threads, args.conns, args.warmup)
    server_before = group_cpu_seconds(args.pgid)
    busy_before = busy_cpu_seconds()
    output, wrk_cpu, wall = wrk(args.url, args.threads, args.conns, args.duration)
    busy = busy_cpu_seconds() - busy_before
    server_cpu = group_cpu_seconds(args.pgid) - server_before
    # The rest of the busy time: other processes, and kernel work not charged to a process
    # (part of the loopback TCP processing runs in softirq context).
    other_cpu = max(0.0, busy - server_cpu - wrk_cpu)
    result = parse_wrk(output)
    requests = result["requests"] or 1
    result.update(
        server_cpu_us_per_request=round(server_cpu / requests * 1e6, 1),
        wrk_cpu_us_per_request=round(wrk_cpu / requests * 1e6, 1),
        label=args.label, kind=args.kind, processes=args.processes, round=args.round,
        url=args.url, threads=args.threads, conns=args.conns, duration=args.duration,
        wall_s=round(wall, 2), server_cpu_s=round(server_cpu, 2), wrk_cpu_s=round(wrk_cpu, 2),
        other_cpu_s=round(other_cpu, 2), load_before=os.getloadavg()[0],
    )
    if result["non_2xx"] or result["socket_errors"]:
        print(f"WARNING {args.label}: non-2xx {result['non_2xx']}, "
              f"socket errors {result['socket_errors']!r}", file=sys.stderr)
    with open(args.results, "a") as handle:
        handle.write(json.dumps(result) + "\n")
    print(f"  {args.label:34} {result['rps']:>10.0f} req/s  p50 {result['p50_ms']:.2f} ms  "
          f"p99 {result['p99_ms']:.2f} ms  cpu s: server {server_cpu:.1f} wrk {wrk_cpu:.1f} "
          f"rest {other_cpu:.1f} in {wall:.1f} s wall; server "
          f"{result['server_cpu_us_per_request']:.0f} us CPU/request")


def report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line]
    labels: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        labels.setdefault(row["label"], []).append(row)
    summary: dict[str, dict[str, Any]] = {}
    for label, runs in labels.items():
        summary[label] = {
            "kind": runs[0]["kind"],
            "processes": runs[0]["processes"],
            "rounds": len(runs),
            "rps": round(statistics.median(r["rps"] for r in runs)),
            "rps_all": [round(r["rps"]) for r in runs],
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
            "server_cpu_s": round(statistics.median(r["server_cpu_s"] for r in runs), 1),
            "wrk_cpu_s": round(statistics.median(r["wrk_cpu_s"] for r in runs), 1),
            "other_cpu_s": round(statistics.median(r["other_cpu_s"] for r in runs), 1),
            "server_cpu_us_per_request": round(statistics.median(
                r["server_cpu_us_per_request"] for r in runs), 1),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "wall_s": round(statistics.median(r["wall_s"] for r in runs), 1),
        }
    print(f"\n{'server':26} {'proc':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU s: server':>13} {'wrk':>5} {'rest':>5} {'us CPU/req':>10}  req/s of each round")
    for label, s in summary.items():
        flag = f"  INVALID: {s['non_2xx']} non-2xx answers" if s["non_2xx"] else ""
        print(f"{label:26} {s['processes']:>4} {s['rps']:>7} {s['p50_ms']:>7} {s['p99_ms']:>7} "
              f"{s['server_cpu_s']:>13} {s['wrk_cpu_s']:>5} {s['other_cpu_s']:>5} "
              f"{s['server_cpu_us_per_request']:>10}  {s['rps_all']}{flag}")
    ratios: dict[str, float] = {}
    for label, s in summary.items():
        if s["kind"] == "nginx":
            continue
        ref = next((n for n in summary.values()
                    if n["kind"] == "nginx" and n["processes"] == s["processes"]), None)
        if ref:
            ratios[f"{label} / nginx ({s['processes']} proc)"] = round(s["rps"] / ref["rps"], 3)
            ratios[f"{label} / nginx ({s['processes']} proc), server CPU per request"] = round(
                s["server_cpu_us_per_request"] / ref["server_cpu_us_per_request"], 2)
    print()
    for name, value in ratios.items():
        print(f"ratio {name}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "ratios": ratios,
                                               "runs": rows}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="helper for bench/passport_rps.sh")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port")
    p = sub.add_parser("wait")
    p.add_argument("url")
    p.add_argument("--timeout", type=float, default=60.0)
    p = sub.add_parser("fetch")
    p.add_argument("url")
    p.add_argument("out")
    p = sub.add_parser("same-size")
    p.add_argument("urls", nargs="+")
    p.add_argument("--file", required=True)
    p = sub.add_parser("run")
    p.add_argument("--label", required=True)
    p.add_argument("--kind", required=True)
    p.add_argument("--processes", type=int, required=True)
    p.add_argument("--round", type=int, default=1)
    p.add_argument("--url", required=True)
    p.add_argument("--pgid", type=int, required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--conns", type=int, default=32)
    p.add_argument("--duration", default="10s")
    p.add_argument("--warmup", default="2s")
    p = sub.add_parser("quiet")
    p.add_argument("--max-busy", type=float, default=0.25)
    p.add_argument("--timeout", type=float, default=120.0)
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("--json", default=None)
    args = parser.parse_args()

    if args.command == "free-port":
        print(free_port())
    elif args.command == "wait":
        wait(args.url, args.timeout)
    elif args.command == "fetch":
        status, body = get(args.url)
        if status != 200:
            sys.exit(f"{args.url}: HTTP {status}")
        Path(args.out).write_bytes(body)
    elif args.command == "same-size":
        expected = Path(args.file).read_bytes()
        for url in args.urls:
            _, body = get(url)
            if len(body) != len(expected):
                sys.exit(f"{url} serves {len(body)} bytes, {args.file} has {len(expected)}")
        print(f"  all {len(args.urls)} servers answer {len(expected)} bytes")
    elif args.command == "quiet":
        quiet(args.max_busy, args.timeout)
    elif args.command == "run":
        run(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
