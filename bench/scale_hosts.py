"""Scale out at 100,000 artifacts: SQLite vs PostgreSQL, 1 vs 2 hosts, cross-host visibility.

1. Load: N artifacts made at run time from the one-line summaries of PyPI packages
   (``--packages``, the package list this workplace keeps; nothing of it is stored in the
   repository): a one-capability manifest per package, the demo manifest ``docling.yml`` as
   the shape. They go into a SQLite registry through the registry's real write path (parse,
   validate, compose, sign, transparency-log append, index-log rows) with ``--batch``
   publishes per write transaction, and the search index brought up to date once at the end
   instead of after every publish (bulk load only; everything after it is the normal path).
   The SQLite file is then copied into a fresh PostgreSQL database with the registry's own
   ``db copy`` (``copy_database``: same log root and checkpoints on both sides).
2. Side by side on both backends, in process: ``-p`` further publishes through the normal
   ``Registry.publish`` (one transaction and index update each), ``-r`` resolves (p50/p99)
   of intents drawn from the loaded summaries, and ``-r`` passport reads.
3. HTTP on PostgreSQL: one `capgraph serve` host, then two (data dirs of their own, one key
   ring), each loaded by ``wrk`` (POST /api/v1/resolve, ``--connections`` per host) for
   ``--seconds``: requests/s and latency p50/p99 per setting.
4. Cross-host visibility: ``--visibility`` publishes over HTTP to host 1, each followed by
   polling host 2's passport until it serves it: delay from the 201 to host 2's 200.

Usage: nice .venv/bin/python bench/scale_hosts.py [-n 100000] [-p 100] [-r 300]
           [--seconds 15] [--connections 4] [--visibility 50] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backends import percentiles, timed

from capgraph.bootstrap import build_registry, copy_database
from capgraph.config import Settings
from capgraph.registry import Registry

DEMO = Path(__file__).resolve().parent.parent / "src" / "capgraph" / "demo" / "manifests"
PACKAGES = Path("/work/.library/env/packages/pypi.tsv")
_NAME = re.compile(r"[^a-z0-9]+")


def package_summaries(path: Path, n: int) -> list[tuple[str, str]]:
    """The first ``n`` packages (file order) with an English-looking summary of 40+ chars."""
    out: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        next(handle)
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5:
                continue
            name, summary = parts[0], " ".join(parts[4].split())
            if len(summary) >= 40 and summary.isascii() and len(summary.split()) >= 6:
                out.append((name, summary[:300]))
                if len(out) == n:
                    break
    if len(out) < n:
        raise SystemExit(f"only {len(out)} usable summaries in {path}")
    return out


def manifests(rows: list[tuple[str, str]], tag: str) -> list[str]:
    """One JSON manifest per package: docling.yml's shape, one capability, the summary as
    the artifact's and the capability's text."""
    base = yaml.safe_load((DEMO / "docling.yml").read_text(encoding="utf-8"))
    cap = base["capabilities"][0]
    texts = []
    for i, (name, summary) in enumerate(rows):
        data = copy.deepcopy(base)
        slug = f"{_NAME.sub('-', name.lower()).strip('-')[:60] or 'pkg'}-{tag}{i}"
        words = summary.rstrip(".")
        data["artifact"].update(
            name=name[:80], slug=slug, integrations=[], tags=["python", "pypi"],
            description=f"{words}. A Python package ({name}) published on PyPI; this entry "
                        f"was generated for a scale benchmark from its one-line summary.",
            repository=f"https://github.com/example/{slug}", homepage=None)
        data["artifact"] = {k: v for k, v in data["artifact"].items() if v is not None}
        data["capabilities"] = [{
            **cap, "id": "main", "name": f"{name[:60]} main capability",
            "description": f"{words}. Installed from PyPI as {name} and used from Python code "
                           "through its documented API, locally.",
            "intents_served": [words.lower()[:120], f"use the python package {name[:60]}"],
        }]
        texts.append(json.dumps(data))
    return texts


class _Batch:
    """The store with ``write()`` answering from one open transaction: ``--batch`` publishes
    commit together (bulk load only)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._tx: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        yield self._tx

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self._store.write() as tx:
            self._tx = tx
            yield
        self._tx = None


def bulk_load(registry: Registry, texts: list[str], batch: int) -> dict[str, Any]:
    publishing = registry._publishing
    store, after = publishing._store, publishing._after_write
    batched = _Batch(store)
    publishing._store, publishing._after_write = batched, lambda slug: None
    t0 = time.perf_counter()
    try:
        for start in range(0, len(texts), batch):
            with batched.batch():
                for text in texts[start:start + batch]:
                    assert registry.publish(text, hint="json").created
            done = start + batch
            if done % (batch * 10) == 0:
                rate = done / (time.perf_counter() - t0)
                print(f"  loaded {done} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    finally:
        publishing._store, publishing._after_write = store, after
    appended = time.perf_counter() - t0
    t1 = time.perf_counter()
    registry.search("parse a file")  # brings the keyword index up to date: every new row
    indexed = time.perf_counter() - t1
    return {"artifacts": len(texts), "append_s": round(appended, 1),
            "append_per_s": round(len(texts) / appended, 1), "index_s": round(indexed, 1)}


def in_process(name: str, settings: Settings, further: list[str], intents: list[str],
               slugs: list[str]) -> dict[str, Any]:
    registry = build_registry(settings)
    t0 = time.perf_counter()
    registry.search("parse a file")  # a fresh host's start: replay the index logs
    replay = time.perf_counter() - t0
    registry.resolve(intents[0])
    t0 = time.perf_counter()
    published = timed(lambda t: registry.publish(t, hint="json"), further)
    rate = len(further) / (time.perf_counter() - t0)
    out = {"backend": name, "first_search_replay_s": round(replay, 1),
           "publish": {**published, "per_s": round(rate, 1)},
           "resolve": timed(registry.resolve, intents),
           "passport_read": timed(lambda s: registry.envelope_bytes(s, "http://b"), slugs)}
    registry.close()
    return out


def serve(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    with contextlib.closing(__import__("socket").socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "capgraph.cli", "serve", "--port", str(port)],
        env={**os.environ, **env, "CAPGRAPH_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                # the first search replays the index logs (minutes at 100k): not timed below
                httpx.post(f"{url}/api/v1/resolve", json={"intent": "parse a file"},
                           timeout=900)
                return process, url
        time.sleep(0.5)
    process.kill()
    raise SystemExit("a host did not start")


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(urls: list[str], seconds: int, connections: int, folder: Path,
        intents: list[str]) -> dict[str, Any]:
    """One wrk per host at once; requests/s summed, latency percentiles per host."""
    script = folder / "resolve.lua"
    bodies = ", ".join(json.dumps(json.dumps({"intent": i})) for i in intents[:50])
    script.write_text(
        f"local bodies = {{{bodies}}}\nlocal n = 0\nwrk.method = 'POST'\n"
        "wrk.headers['content-type'] = 'application/json'\n"
        "request = function() n = n + 1\n"
        "  return wrk.format(nil, '/api/v1/resolve', nil, bodies[n % #bodies + 1]) end\n")
    runs = [subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                              "-s", str(script), u], stdout=subprocess.PIPE, text=True)
            for u in urls]
    outs = [r.communicate(timeout=seconds + 120)[0] for r in runs]
    total, per_host = 0.0, []
    for text in outs:
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        lat = {}
        for q, value, unit in _LATENCY.findall(text):
            lat[f"p{q}_ms"] = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
        per_host.append({"req_per_s": rate, **lat,
                         "non_2xx": int(non2xx.group(1)) if non2xx else 0})
        total += rate
    return {"hosts": len(urls), "req_per_s": round(total, 1), "per_host": per_host}


def visibility(a: str, b: str, secret: str, texts: list[str]) -> dict[str, Any]:
    delays, polls = [], []
    with httpx.Client(base_url=a, timeout=60) as one, httpx.Client(base_url=b, timeout=60) as two:
        for text in texts:
            slug = json.loads(text)["artifact"]["slug"]
            r = one.post("/api/v1/artifacts", content=text, headers={
                "content-type": "application/json", "authorization": f"Bearer {secret}"})
            assert r.status_code == 201, r.text
            t0 = time.perf_counter()
            count = 0
            while True:
                count += 1
                if two.get(f"/api/v1/passport/{slug}").status_code == 200:
                    break
                assert time.perf_counter() - t0 < 30
            delays.append(time.perf_counter() - t0)
            polls.append(count)
    return {**percentiles(delays), "polls_max": max(polls),
            "seen_on_first_poll": sum(p == 1 for p in polls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("-p", type=int, default=100, help="further publishes per backend")
    parser.add_argument("-r", type=int, default=300, help="resolves and passport reads")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--visibility", type=int, default=50)
    parser.add_argument("--packages", type=Path, default=PACKAGES)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("CAPGRAPH_RATE_LIMIT_ANONYMOUS", "100000000")
    os.environ.setdefault("CAPGRAPH_RATE_LIMIT_KEY", "100000000")
    os.environ["CAPGRAPH_EMBEDDER"] = "none"
    extra = args.p + args.visibility
    rows = package_summaries(args.packages, args.n + extra + args.r)
    texts = manifests(rows[:args.n], "s")
    further = manifests(rows[args.n:args.n + args.p], "f")
    seen = manifests(rows[args.n + args.p:args.n + extra], "v")
    intents = [f"{s.rstrip('.').lower()}" for _, s in rows[args.n + extra:args.n + extra
                                                              + args.r]]
    slugs = [json.loads(texts[(i * 7919) % args.n])["artifact"]["slug"] for i in range(args.r)]
    database = f"capgraph_bench_{secrets.token_hex(4)}"
    url = args.postgres.rsplit("/", 1)[0] + "/" + database
    result: dict[str, Any] = {"n": args.n, "embedder": "none",
                              "load_average_start": os.getloadavg()}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="capgraph-scale-") as tmp:
        root = Path(tmp)
        sqlite = Settings(data_dir=root / "sqlite", embedder="none")
        print(f"loading {args.n} artifacts into SQLite", file=sys.stderr, flush=True)
        registry = build_registry(sqlite)
        result["load_sqlite"] = bulk_load(registry, texts, args.batch)
        registry.close()
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"'.encode())
        try:
            pg_dir = root / "pg-a"
            pg_dir.mkdir(mode=0o700)
            shutil.copytree(root / "sqlite" / "keys", pg_dir / "keys")
            t0 = time.perf_counter()
            pg = Settings(data_dir=pg_dir, embedder="none", database_url=url)
            copied = copy_database(pg, f"sqlite:///{sqlite.database_path}", url)
            result["copy_to_postgres_s"] = round(time.perf_counter() - t0, 1)
            result["copy_report"] = str(copied)[:300]
            print("in process, side by side", file=sys.stderr, flush=True)
            result["sqlite"] = in_process("sqlite", sqlite, further[:args.p // 2], intents,
                                          slugs)
            result["postgresql"] = in_process("postgresql", pg, further[args.p // 2:], intents,
                                              slugs)
            env = {"CAPGRAPH_DATABASE_URL": url, "CAPGRAPH_EMBEDDER": "none",
                   "CAPGRAPH_PUBLIC_URL": "https://registry.example"}
            host_b = root / "pg-b"
            host_b.mkdir(mode=0o700)
            shutil.copytree(pg_dir / "keys", host_b / "keys")
            print("HTTP: one host", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            proc_a, url_a = serve(pg_dir, env)  # its index is up to date (in_process above)
            procs.append(proc_a)
            result["host_1_start_s"] = round(time.perf_counter() - t0, 1)
            result["http_1_host"] = wrk([url_a], args.seconds, args.connections, root, intents)
            print("HTTP: two hosts", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            proc_b, url_b = serve(host_b, env)  # a new data dir: replays every index log
            procs.append(proc_b)
            result["host_2_start_with_replay_s"] = round(time.perf_counter() - t0, 1)
            result["http_2_hosts"] = wrk([url_a, url_b], args.seconds, args.connections, root,
                                         intents)
            secret = subprocess.run(
                [sys.executable, "-m", "capgraph.cli", "keys", "create"], check=True,
                env={**os.environ, **env, "CAPGRAPH_DATA_DIR": str(pg_dir)},
                capture_output=True, text=True).stdout.strip()
            print("cross-host visibility", file=sys.stderr, flush=True)
            result["visibility"] = visibility(url_a, url_b, secret, seen)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'.encode())
    result["load_average_end"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)


if __name__ == "__main__":
    main()
