"""Search at scale (issue 3): 100,000 artifacts x 10 capabilities = 1,000,000 capabilities.

Builds a registry from real short texts (the package summaries of the workplace's PyPI list,
read at run time from /work/.library/env/packages/pypi.tsv, never copied into the repo), then
measures index build time per phase, the peak memory of a fresh serving process, and search /
resolve latency at 1 and 8 concurrent clients next to the floor (one query embedding + a vector
top-k + a keyword top-k, alone) measured in the same process and the same run.

Everything lives in one temporary data directory (default under /tmp), deleted at the end
unless --keep. The phases are subcommands so a long build can run in the background:

    .venv/bin/python bench/scale_search.py all [--keep] [--json bench/out/scale_search.json]
    .venv/bin/python bench/scale_search.py embed-base --data DIR  # 1. embed the base texts
    .venv/bin/python bench/scale_search.py embed-sample --data DIR # publish-path embed cost
    .venv/bin/python bench/scale_search.py build --data DIR       # 2. passports, FTS, vectors
    .venv/bin/python bench/scale_search.py index --data DIR       # 3. vector log -> snapshot
    .venv/bin/python bench/scale_search.py query --data DIR       # 4. fresh process: latency
    .venv/bin/python bench/scale_search.py query --short 4 ...    #    intent-length queries
    .venv/bin/python bench/scale_search.py ann --data DIR         # 4b. HNSW saved + mmapped
    .venv/bin/python bench/scale_search.py publish --data DIR     # 5. writes at full size

How the corpus is made (and why it is not 1,000,000 independent embeddings): on this shared
2-core machine MiniLM int8 embedded 45 summaries/s under load average 5-9, and the publish
path's own ``Registry._embed`` (two texts per capability) costs ~16 ms per capability even at
load ~1.5: 4.5 hours for 1,000,000. Instead ``--base`` distinct real summaries (default 32,000)
are embedded once with the project's embedder (cached in DATA/base-*.npy), and every capability
is composed from them: capability c of artifact a takes base summary m_c as its name source,
intent and description, padded with the next member's summary (and the one after, until the
description has >= 100 characters); its vector is the mean of the embeddings of exactly those
summaries (capgraph's own vectors are also a mean of two text embeddings). So every vector is
a real-text vector consistent with its capability's text. Artifacts are 10 consecutive items
of a seeded permutation of the base, a new permutation for each pass over it, so each base
summary recurs in ~2 x 1M / base capabilities: near-ties in vector search (the ``ann`` phase
reports the score gap beside recall). Term document frequencies are those of the PyPI
summaries (the base is a uniform sample), but the vocabulary is the base's: query words absent
from it match nothing. Queries are other summaries of the same file, held out of the base.

How the registry is written (``build``): every artifact goes through
``Registry.import_passport`` (no embedder). The first ``--exact-first`` exactly as in
production; the rest with ``--txn`` publishes per transaction and ``rfc8785.dumps`` replaced by
a checked equivalent (see ``install_fast_canonical``). The vector log is then bulk-inserted in
the store's own row format.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

PYPI = Path("/work/.library/env/packages/pypi.tsv")
CAPS = 10
_BASE_OFFSET = 2_000
_WORD_SPLIT = re.compile(r"[-_.]+")
_TYPES = ("api", "mcp", "model", "agent", "cli", "framework", "dataset", "app", "skill",
          "workflow")


# -- corpus -------------------------------------------------------------------------------------
def read_summaries(path: Path, *, seed: int) -> list[tuple[str, str]]:
    """(package name, summary) for each distinct summary of >= 20 characters, shuffled."""
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        next(handle)
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5:
                continue
            name, summary = parts[0].strip(), " ".join(parts[4].split())
            key = summary.lower()
            if len(summary) < 20 or len(summary) > 300 or not name or key in seen:
                continue
            seen.add(key)
            rows.append((name, summary))
    random.Random(seed).shuffle(rows)
    return rows


class Corpus:
    """The base texts, the held-out queries, and how artifacts are composed from the base."""

    def __init__(self, *, base: int, queries: int, seed: int) -> None:
        rows = read_summaries(PYPI, seed=seed)
        if len(rows) < _BASE_OFFSET + base + queries:
            raise SystemExit(f"only {len(rows)} usable summaries in {PYPI}")
        # The base starts after a fixed offset and the queries are the file's last summaries
        # (after the shuffle), so changing either count never changes the other set.
        self.queries = [s for _, s in rows[len(rows) - queries:]]
        self.base = rows[_BASE_OFFSET:_BASE_OFFSET + base]
        self.seed = seed
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, r: int) -> np.ndarray:
        if r not in self._perms:
            self._perms[r] = np.random.default_rng([self.seed, r]).permutation(len(self.base))
        return self._perms[r]

    def members(self, a: int) -> list[int]:
        out = []
        for c in range(CAPS):
            g = a * CAPS + c
            out.append(int(self._perm(g // len(self.base))[g % len(self.base)]))
        return out

    def artifact(self, a: int) -> tuple[dict[str, Any], str, list[list[int]]]:
        """A corpus entry for ``body_from_entry``, the artifact summary, and for each
        capability (in id order) the base items its text and vector are made of."""
        members = self.members(a)
        caps, parts_of = [], []
        for c in range(CAPS):
            parts = [members[c]]
            text = self.base[members[c]][1]
            k = 1
            while len(text) < 100 and k < CAPS:
                nxt = members[(c + k) % CAPS]
                parts.append(nxt)
                text += " " + self.base[nxt][1]
                k += 1
            name, summary = self.base[members[c]]
            caps.append({"name": " ".join(w for w in _WORD_SPLIT.split(name) if w) or name,
                         "description": text, "intents": [summary]})
            parts_of.append(parts)
        lead = self.base[members[0]][0]
        entry = {"slug": f"{lead}-{a}", "name": f"{lead} {a}", "type": _TYPES[a % len(_TYPES)],
                 "description": self.base[members[0]][1], "capabilities": caps,
                 "tags": [], "categories": [], "url": f"https://example.org/{a}"}
        return entry, self.base[members[0]][1], parts_of


# -- helpers ------------------------------------------------------------------------------------
def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(pct(values, 0.5) * 1000, 2),
            "p90": round(pct(values, 0.9) * 1000, 2), "p99": round(pct(values, 0.99) * 1000, 2),
            "mean": round(statistics.fmean(values) * 1000, 2)}


def emit(out: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def base_files(data: Path, args: argparse.Namespace) -> Path:
    return data / f"base-{args.seed}-{args.base}.npy"


# -- phase 1: embed the base --------------------------------------------------------------------
def cmd_embed_base(args: argparse.Namespace) -> dict[str, Any]:
    from capgraph.search.embedding import MiniLMEmbedder

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    target = base_files(data, args)
    corpus = Corpus(base=args.base, queries=args.query_pool, seed=args.seed)
    if target.exists():
        log(f"base embeddings already in {target}")
        return json.loads((data / "embed-base.json").read_text())
    embedder = MiniLMEmbedder(threads=args.threads)
    texts = [s for _, s in corpus.base]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    load0 = loadavg()
    t0 = time.perf_counter()
    for start in range(0, len(order), args.batch):
        idx = order[start:start + args.batch]
        out[idx] = embedder.embed([texts[i] for i in idx])
        if (start // args.batch) % 50 == 0:
            done = start + len(idx)
            log(f"embedded {done}/{len(texts)} ({done / (time.perf_counter() - t0):.0f}/s)")
    seconds = time.perf_counter() - t0
    np.save(target, out)
    result = {"texts": len(texts), "seconds": round(seconds, 1),
              "texts_per_s": round(len(texts) / seconds, 1), "batch": args.batch,
              "threads": args.threads, "load_before": load0, "load_after": loadavg()}
    (data / "embed-base.json").write_text(json.dumps(result))
    log(f"embed-base: {result}")
    return result




# -- a faster RFC 8785 for the bulk load ---------------------------------------------------------
def _jcs_ready(value: Any) -> Any:
    """The value with integral floats as ints (RFC 8785 writes 1.0 as 1); other floats must
    be in the range where Python's repr equals ECMAScript's shortest form."""
    if isinstance(value, dict):
        return {k: _jcs_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jcs_ready(v) for v in value]
    if isinstance(value, float) and not isinstance(value, bool):
        if value.is_integer():
            return int(value)
        if not 1e-6 <= abs(value) < 1e21:
            raise ValueError(f"float outside the fast path: {value!r}")
    return value


def install_fast_canonical(check_every: int) -> dict[str, int]:
    """Replace ``rfc8785.dumps`` (which capgraph.core.canonical calls) by json.dumps with
    sorted keys after ``_jcs_ready``: the same bytes for these passports (ASCII keys, short
    floats), ~10x faster. Every ``check_every``-th call is compared with the real
    ``rfc8785.dumps`` and a difference stops the run."""
    import rfc8785

    real = rfc8785.dumps
    stats = {"calls": 0, "checked": 0}

    def dumps(value: Any) -> bytes:
        if not isinstance(value, dict):
            return real(value)
        out = json.dumps(_jcs_ready(value), sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False, allow_nan=False).encode()
        stats["calls"] += 1
        if (stats["calls"] - 1) % check_every == 0:
            stats["checked"] += 1
            if real(value) != out:
                raise SystemExit("fast canonical JSON differs from rfc8785: rerun with "
                                 "--exact-canonical")
        return out

    rfc8785.dumps = dumps
    return stats


# -- phase 2: passports, keyword index, vector log ----------------------------------------------
def open_registry(data: Path, *, embedder: Any = None, index_dir: Path | None = None) -> Any:
    from capgraph.service import Registry
    from capgraph.storage.keystore import FileKeyStore
    from capgraph.storage.sqlite import SQLiteStore

    return Registry(store=SQLiteStore(data / "capgraph.db"), keys=FileKeyStore(data / "keys"),
                    registry_name="capgraph-scale", public_url="http://127.0.0.1:8000",
                    embedder=embedder, index_dir=index_dir)


_FTS_DELETE = "DELETE FROM capability_fts WHERE slug = ?"


class _BulkConn:
    """The store's connection, minus the one statement that made a bulk load quadratic in the
    src this was first run against: ``DELETE FROM capability_fts WHERE slug = ?`` (slug is an
    UNINDEXED FTS5 column, so it scans every row; for a new slug it deletes nothing). Since
    SQLiteStore deletes by rowid through ``capability_fts_rows`` the statement no longer
    occurs and nothing is skipped (``fts_deletes_skipped`` is then 0). Everything else passes
    through."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn
        self.skipped = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.strip() == _FTS_DELETE:
            self.skipped += 1
            return None
        return self._c.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)


def batch_transactions(store: Any, every: int) -> Callable[[], dict[str, int]]:
    """Make ``store.append`` group ``every`` publishes per transaction (the store's own
    ``_write`` commits each); returns a function that commits what is open."""
    from contextlib import contextmanager

    state = {"open": 0, "commits": 0}
    bulk = _BulkConn(store._conn())

    @contextmanager
    def write() -> Iterator[Any]:
        conn = bulk._c
        if not state["open"]:
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield bulk
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        state["open"] += 1
        if state["open"] >= every:
            finish()

    def finish() -> dict[str, int]:
        if state["open"]:
            bulk._c.execute("UPDATE meta SET generation = generation + 1 WHERE id = 1")
            bulk._c.execute("COMMIT")
            state["open"] = 0
            state["commits"] += 1
        return {"commits": state["commits"], "fts_deletes_skipped": bulk.skipped}

    store._write = write
    return finish


def cmd_import_part(args: argparse.Namespace, corpus: Corpus | None = None) -> dict[str, Any]:
    """Artifacts [start, stop) through ``Registry.import_passport``: the first
    ``--exact-first`` exactly as in production (one durable transaction each), the rest with
    ``--txn`` publishes per transaction and the FTS delete of a new slug skipped."""
    from capgraph.search.corpus import body_from_entry

    data = Path(args.data)
    stats = None if args.exact_canonical else install_fast_canonical(args.check_every)
    corpus = corpus or Corpus(base=args.base, queries=args.query_pool, seed=args.seed)
    registry = open_registry(data)
    store = registry.store
    start = store.count()  # resumable: artifacts are stored in order
    out: dict[str, Any] = {"canonical": stats}
    timing = {"exact": [0, 0.0, 0.0], "bulk": [0, 0.0, 0.0]}  # n, wall s, cpu s
    finish: Callable[[], dict[str, int]] | None = None
    t_last, n_last = time.perf_counter(), start
    for a in range(start, args.artifacts):
        mode = "exact" if a < args.exact_first else "bulk"
        if mode == "bulk" and finish is None:
            finish = batch_transactions(store, args.txn)
        t, c = time.perf_counter(), time.process_time()
        entry, summary, _ = corpus.artifact(a)
        body = body_from_entry(entry, version="2026-11")
        registry.import_passport({"passport": {"unfragile": body}}, summary=summary)
        rec = timing[mode]
        rec[0] += 1
        rec[1] += time.perf_counter() - t
        rec[2] += time.process_time() - c
        if (a + 1) % 5000 == 0:
            now = time.perf_counter()
            log(f"imported {a + 1}/{args.artifacts} ({(a + 1 - n_last) / (now - t_last):.0f}/s,"
                f" load {loadavg()})")
            t_last, n_last = now, a + 1
    if finish is not None:
        out["bulk"] = finish()
    for mode, (n, wall, cpu) in timing.items():
        out[mode] = {**out.get(mode, {}), "artifacts": n, "seconds": round(wall, 1),
                     "ms_per_artifact": round(1000 * wall / max(n, 1), 2),
                     "cpu_ms_per_artifact": round(1000 * cpu / max(n, 1), 2)}
    return out


def cmd_build(args: argparse.Namespace) -> dict[str, Any]:
    """Artifacts through ``Registry.import_passport`` (rescore, canonical hash, sign, translog
    append, keyword + intent index; no embedder) in ``--workers`` processes, then the vector
    log written in bulk from the base embeddings."""

    data = Path(args.data)
    base = np.load(base_files(data, args))
    corpus = Corpus(base=args.base, queries=args.query_pool, seed=args.seed)
    registry = open_registry(data)
    registry.jwks()  # the signing key
    store = registry.store
    previous = data / "build.json"
    result: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    if store.count() < args.artifacts:
        load0 = loadavg()
        t0 = time.perf_counter()
        part = cmd_import_part(args, corpus)
        result["passports"] = part
        result["passports_seconds"] = round(time.perf_counter() - t0, 1)
        result["passports_load"] = [load0, loadavg()]
    result["artifacts"] = store.count()
    emit(result, data / "build.json")

    # The vector log, written exactly as SQLiteStore._index writes it (a reset marker per
    # artifact, then one float16 row per capability in id order), 5,000 artifacts per
    # transaction, then the generation bumped once so every process's VectorIndex syncs.
    conn = sqlite3.connect(data / "capgraph.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    have = conn.execute("SELECT count(*) FROM capability_vectors").fetchone()[0]
    if have != args.artifacts * (CAPS + 1):  # none yet, or a run that stopped half-way
        conn.execute("DELETE FROM capability_vectors")
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'capability_vectors'")
        t0 = time.perf_counter()
        rows: list[tuple[str, str, str, bytes | None]] = []
        by_number = {int(name.rsplit(" ", 1)[1]): (slug, kind) for slug, name, kind in
                     conn.execute("SELECT slug, name, type FROM artifacts")}
        check = set(random.Random(1).sample(range(args.artifacts), 50))
        for a in range(args.artifacts):
            _, _, parts_of = corpus.artifact(a)
            slug, kind = by_number[a]
            # capability ids are f"{slug}__cap_{n}" (search/corpus.py), stored in id order
            rows.append((slug, "", kind, None))
            for n, parts in enumerate(parts_of):
                vec = base[parts].mean(axis=0).astype(np.float16)
                rows.append((slug, f"{slug}__cap_{n}", kind, vec.tobytes()))
            if a in check:  # the same capability ids as the passport import_passport stored
                blob = conn.execute("SELECT passport FROM versions WHERE slug = ?",
                                    (slug,)).fetchone()[0]
                stored = [c["id"] for c in json.loads(blob)["unfragile"]["capabilities"]]
                assert stored == [r[1] for r in rows[-CAPS:]], (slug, stored)
            if len(rows) >= 5000 * (CAPS + 1) or a == args.artifacts - 1:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT INTO capability_vectors (slug, cap_id, type, vec) "
                                 "VALUES (?,?,?,?)", rows)
                conn.execute("COMMIT")
                rows = []
        conn.execute("UPDATE meta SET generation = generation + 1 WHERE id = 1")
        result["vector_log_seconds"] = round(time.perf_counter() - t0, 1)
        result["vector_rows"] = conn.execute(
            "SELECT count(*) FROM capability_vectors").fetchone()[0]
    result["fts_rows"] = conn.execute("SELECT count(*) FROM capability_fts").fetchone()[0]
    result["db_mb"] = round(sum(f.stat().st_size for f in data.glob("capgraph.db*")) / 1e6)
    conn.close()
    result["builder_peak_rss_mb"] = round(peak_mb())
    log(f"build: {result}")
    return result


def cmd_embed_sample(args: argparse.Namespace) -> dict[str, Any]:
    """What embedding on the real publish path costs: Registry._embed (two texts per
    capability, batches of 32) on a sample of artifacts, extrapolated to the full corpus."""
    from capgraph.search.corpus import body_from_entry
    from capgraph.search.documents import documents_for
    from capgraph.search.embedding import MiniLMEmbedder

    corpus = Corpus(base=args.base, queries=args.query_pool, seed=args.seed)
    registry = open_registry(Path(args.data) / "sample", embedder=MiniLMEmbedder(threads=2))
    docs = []
    for a in range(args.sample):
        entry, summary, _ = corpus.artifact(a)
        docs.append(documents_for(body_from_entry(entry, version="2026-11"), summary=summary))
    registry._embed(docs[0])
    t0 = time.perf_counter()
    for d in docs:
        registry._embed(d)
    seconds = time.perf_counter() - t0
    caps = args.sample * CAPS
    per_cap = seconds / caps
    out = {"artifacts": args.sample, "capabilities": caps, "seconds": round(seconds, 1),
           "ms_per_capability": round(per_cap * 1000, 2),
           "extrapolated_hours_for_corpus": round(per_cap * args.artifacts * CAPS / 3600, 2),
           "load": loadavg()}
    log(f"embed-sample: {out}")
    shutil.rmtree(Path(args.data) / "sample", ignore_errors=True)
    return out



# -- phase 3: the vector index ------------------------------------------------------------------
class _PrefixStore:
    """A store whose vector log ends at ``cutoff`` (to time a replay on a prefix)."""

    def __init__(self, store: Any, cutoff: int) -> None:
        self._s = store
        self.cutoff = cutoff

    def vector_changes(self, since: int, *, limit: int) -> list[Any]:
        rows = self._s.vector_changes(since, limit=limit)
        return [r for r in rows if r[0] <= self.cutoff]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)


def cmd_index(args: argparse.Namespace) -> dict[str, Any]:
    """Replay the vector log and save the snapshot every server process starts from, with
    VectorIndex's own sync and save_snapshot (ANN switched off for this replay: see below);
    then time the production replay (HNSW from 20,000 vectors on, one add per vector) on a
    prefix of the log."""
    from capgraph.search.vectors import VectorIndex
    from capgraph.storage.sqlite import SQLiteStore

    data = Path(args.data)
    store = SQLiteStore(data / "capgraph.db")
    snapshot = data / "index" / "vectors.npz"
    out: dict[str, Any] = {"load": [loadavg()]}
    t0 = time.perf_counter()
    index = VectorIndex(store, dim=384, snapshot=None, ann_threshold=10**12)
    index.sync()
    out["replay_exact_seconds"] = round(time.perf_counter() - t0, 1)
    out["vectors"] = len(index)
    index.snapshot = snapshot
    t0 = time.perf_counter()
    index.save_snapshot()
    out["save_snapshot_seconds"] = round(time.perf_counter() - t0, 1)
    out["snapshot_mb"] = round(snapshot.stat().st_size / 1e6)
    out["replay_peak_rss_mb"] = round(peak_mb())
    del index

    # The path a server takes without a fresh snapshot (and `capgraph index rebuild` takes
    # after re-embedding): sync() replays row by row, builds HNSW at 20,000 vectors, then adds
    # each later vector to it one call at a time.
    cutoff = args.replay_prefix
    prefix = _PrefixStore(store, cutoff)
    marks: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    idx = VectorIndex(prefix, dim=384, snapshot=None)  # type: ignore[arg-type]
    step = max(1, cutoff // 6)
    for stop in range(step, cutoff + 1, step):
        prefix.cutoff = stop
        idx._generation = -1  # force a sync to the new cutoff
        idx.sync()
        marks.append((len(idx), round(time.perf_counter() - t0, 1)))
        log(f"production replay: {marks[-1]}")
    out["replay_production_marks"] = marks  # (vectors, seconds since start)
    (n1, s1), (n2, s2) = marks[-2], marks[-1]
    rate = (n2 - n1) / max(s2 - s1, 1e-9)
    out["replay_production_add_per_s"] = round(rate, 1)
    out["replay_production_extrapolated_minutes"] = round(
        (s2 + (out["vectors"] - n2) / rate) / 60, 1)
    out["load"].append(loadavg())
    log(f"index: {out}")
    return out


# -- phase 4: a fresh serving process ----------------------------------------------------------
class _Timed:
    """Accumulates the time spent in wrapped callables (for the 1-client breakdown)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, obj: Any, name: str, label: str) -> None:
        fn = getattr(obj, name)

        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.totals[label] = self.totals.get(label, 0.0) + time.perf_counter() - t
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(obj, name, timed)


def run_clients(fn: Callable[[str], Any], queries: list[str], clients: int
                ) -> tuple[list[float], float, list[Any]]:
    """Latency of each call with ``clients`` threads sharing the query list; wall time."""
    from concurrent.futures import ThreadPoolExecutor

    lat: list[float] = [0.0] * len(queries)
    res: list[Any] = [None] * len(queries)

    def one(i: int) -> None:
        t = time.perf_counter()
        res[i] = fn(queries[i])
        lat[i] = time.perf_counter() - t

    t0 = time.perf_counter()
    if clients == 1:
        for i in range(len(queries)):
            one(i)
    else:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(len(queries))))
    return lat, time.perf_counter() - t0, res


def rarest_terms(store: Any, df: dict[str, int], n: int) -> Callable[..., Any]:
    """A keyword_search that keeps only the ``n`` query terms with the lowest document
    frequency (the experiment for FTS5 OR queries; df from a precomputed table)."""
    from capgraph.storage.sqlite import fts_search

    def search(terms: list[str], *, limit: int, artifact_type: str | None = None) -> Any:
        keep = sorted(terms, key=lambda t: df.get(t, 0))[:n]
        return fts_search(store._conn(), keep, limit=limit, artifact_type=artifact_type)

    return search


def cmd_query(args: argparse.Namespace) -> dict[str, Any]:
    """Load a serving Registry (embedder, vector snapshot -> HNSW, sync) in this fresh
    process, then measure the floor, search and resolve at 1 and 8 clients."""
    from capgraph.search.documents import query_terms
    from capgraph.search.embedding import MiniLMEmbedder

    data = Path(args.data)
    out: dict[str, Any] = {"load": {"start": loadavg()}}
    corpus_t = time.perf_counter()
    queries = Corpus(base=args.base, queries=args.query_pool, seed=args.seed).queries
    if args.short:  # intent-like queries: the first N content words of each summary
        queries = [" ".join(query_terms(q)[:args.short]) or q for q in queries]
        queries = [q if len(q) >= 2 else q + " x" for q in queries]
    out["short"] = args.short
    out["corpus_read_seconds"] = round(time.perf_counter() - corpus_t, 1)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    embedder = MiniLMEmbedder(threads=args.query_threads)
    out["embedder_load_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    registry = open_registry(data, embedder=embedder, index_dir=data / "index")
    vectors = registry.vectors
    out["index_load_seconds"] = round(time.perf_counter() - t0, 1)  # snapshot + HNSW build
    t0 = time.perf_counter()
    vectors.sync()
    out["index_sync_seconds"] = round(time.perf_counter() - t0, 2)
    out["vectors"] = len(vectors)
    out["hnsw"] = vectors._ann is not None
    out["rss_mb_before_load"] = round(rss0)
    out["rss_mb_after_load"] = round(rss_mb())
    out["peak_rss_mb_after_load"] = round(peak_mb())
    log(f"loaded: {out}")
    store = registry.store

    def floor(q: str) -> tuple[float, float, float]:
        t = time.perf_counter()
        vec = embedder.embed([q])[0]
        t1 = time.perf_counter()
        vectors.query(vec, k=100)
        t2 = time.perf_counter()
        store.keyword_search(query_terms(q), limit=200)
        return t1 - t, t2 - t1, time.perf_counter() - t2

    def search(q: str) -> Any:
        return registry.search(q, limit=5)

    def resolve(q: str) -> Any:
        return registry.resolve(q)

    # Inside VectorIndex.query: the HNSW search itself vs len(self), which query() calls
    # each time and which sums the per-artifact label lists.
    probe = embedder.embed(queries[:20])
    micro: dict[str, Any] = {}
    lat = []
    for _ in probe:
        t = time.perf_counter()
        len(vectors)
        lat.append(time.perf_counter() - t)
    micro["len(VectorIndex)"] = summary_ms(lat)
    if vectors._ann is not None:
        lat = []
        for v in probe:
            t = time.perf_counter()
            vectors._ann.search(v, 100)
            lat.append(time.perf_counter() - t)
        micro["usearch search k=100"] = summary_ms(lat)
    lat = []
    for v in probe:
        t = time.perf_counter()
        vectors.query(v, k=100)
        lat.append(time.perf_counter() - t)
    micro["VectorIndex.query k=100"] = summary_ms(lat)
    slugs = [r[0] for r in store._conn().execute(
        "SELECT slug FROM artifacts ORDER BY random() LIMIT 200")]
    t = time.perf_counter()
    for slug in slugs:
        store.latest(slug)
    micro["store.latest x200 ms"] = round(1000 * (time.perf_counter() - t), 2)
    raw = [store.latest(slug).passport for slug in slugs]
    t = time.perf_counter()
    for blob in raw:
        json.loads(blob)
    micro["json.loads passport x200 ms"] = round(1000 * (time.perf_counter() - t), 2)
    micro["passport_bytes_mean"] = round(statistics.fmean(len(b) for b in raw))
    out["micro"] = micro
    log(f"micro: {micro}")

    n = args.queries
    pool = queries[50:]
    slices = {name: pool[i * n:(i + 1) * n] for i, name in enumerate(
        ["floor+resolve-1", "search-1", "resolve-8", "search-8", "breakdown"])}
    for q in queries[:50]:  # warm-up: page cache, lazily built objects
        floor(q)
        resolve(q)
    runs: dict[str, Any] = {}

    def record(name: str, lat: list[float], wall: float, extra: dict[str, Any] | None = None
               ) -> None:
        runs[name] = {**summary_ms(lat), "per_s": round(len(lat) / wall, 1),
                      "load": loadavg(), "rss_mb": round(rss_mb()), **(extra or {})}
        log(f"{name}: {runs[name]}")

    qs = slices["floor+resolve-1"]
    parts: list[tuple[float, float, float]] = []
    lat, wall, res = run_clients(floor, qs, 1)
    parts = res
    record("floor-1", lat, wall, {
        "embed": summary_ms([p[0] for p in parts]), "vector": summary_ms([p[1] for p in parts]),
        "keyword": summary_ms([p[2] for p in parts])})
    lat, wall, res = run_clients(resolve, qs, 1)
    record("resolve-1", lat, wall, {"confident": sum(bool(r["resolved"]) for r in res)})
    lat, wall, _ = run_clients(search, slices["search-1"], 1)
    record("search-1", lat, wall)
    lat, wall, res = run_clients(resolve, slices["resolve-8"], 8)
    record("resolve-8", lat, wall, {"confident": sum(bool(r["resolved"]) for r in res)})
    lat, wall, _ = run_clients(search, slices["search-8"], 8)
    record("search-8", lat, wall)
    lat, wall, _ = run_clients(floor, slices["resolve-8"], 8)
    record("floor-8", lat, wall)
    out["runs"] = runs
    out["cards_cached"] = len(registry.engine._cards)
    out["ratio_resolve_p50_to_floor_p50"] = round(runs["resolve-1"]["p50"] / runs["floor-1"]["p50"],
                                                  2)
    out["ratio_search_p50_to_floor_p50"] = round(runs["search-1"]["p50"] / runs["floor-1"]["p50"],
                                                 2)

    # Where a resolve's time goes (1 client, its own queries).
    timed = _Timed()
    timed.wrap(embedder, "embed", "embed")
    timed.wrap(vectors, "query", "vector top-k")
    timed.wrap(vectors, "cosines", "vector cosines")
    timed.wrap(store, "keyword_search", "keyword top-200")
    timed.wrap(store, "intent_matches", "declared intents")
    timed.wrap(registry.engine, "card", "cards (latest + json.loads)")
    timed.wrap(store, "version", "store.version (answer)")
    timed.wrap(store, "record_resolve", "record_resolve")
    bq = slices["breakdown"]
    lat, wall, base_res = run_clients(resolve, bq, 1)
    total = sum(lat)
    out["breakdown"] = {
        "resolve_mean_ms": round(1000 * total / len(bq), 2),
        "ms_per_resolve": {k: round(1000 * v / len(bq), 2) for k, v in timed.totals.items()},
        "calls_per_resolve": {k: round(v / len(bq), 1) for k, v in timed.calls.items()},
    }
    out["breakdown"]["ms_per_resolve"]["other (fusion, rank, answer, tokens)"] = round(
        1000 * (total - sum(timed.totals.values())) / len(bq), 2)
    log(f"breakdown: {out['breakdown']}")

    # Keyword experiments on the same queries: the cost of the OR query and of mitigations,
    # end to end (resolve with store.keyword_search replaced), and alone.
    out["fts"] = fts_experiments(registry, bq, base_res, args)
    out["cards_cached_end"] = len(registry.engine._cards)
    out["rss_mb_end"] = round(rss_mb())
    out["peak_rss_mb"] = round(peak_mb())
    out["load"]["end"] = loadavg()
    return out


def fts_experiments(registry: Any, qs: list[str], base_res: list[Any],
                    args: argparse.Namespace) -> dict[str, Any]:
    from capgraph.search.documents import query_terms
    from capgraph.storage.sqlite import fts_search

    store = registry.store
    conn = store._conn()
    terms_of = {q: query_terms(q) for q in qs}
    df: dict[str, int] = {}
    t0 = time.perf_counter()
    for terms in terms_of.values():
        for t in terms:
            if t not in df:
                df[t] = conn.execute("SELECT count(*) FROM capability_fts WHERE "
                                     "capability_fts MATCH ?", ['"' + t + '"']).fetchone()[0]
    out: dict[str, Any] = {"df_table_seconds": round(time.perf_counter() - t0, 1),
                           "distinct_terms": len(df)}
    counts = [len(t) for t in terms_of.values()]
    out["terms_per_query"] = {"p50": pct(counts, 0.5), "p90": pct(counts, 0.9),
                              "max": max(counts)}
    rows = sorted(sum(df.get(t, 0) for t in ts) for ts in terms_of.values())
    out["postings_per_query"] = {"p50": pct(rows, 0.5), "p90": pct(rows, 0.9)}
    top1 = [r["resolved"][0]["capability"]["id"] if r["resolved"] else None for r in base_res]

    def alone(fn: Callable[[list[str]], Any]) -> tuple[dict[str, float], list[Any]]:
        lat, res = [], []
        for q in qs:
            t = time.perf_counter()
            res.append(fn(terms_of[q]))
            lat.append(time.perf_counter() - t)
        return summary_ms(lat), res

    full_stats, full_hits = alone(lambda ts: fts_search(conn, ts, limit=200,
                                                        artifact_type=None))
    out["or_all_terms"] = full_stats
    full_top10 = [{(h[0], h[1]) for h in hits[:10]} for hits in full_hits]

    def and_then_or(ts: list[str]) -> Any:
        if len(ts) > 1:
            match = " AND ".join('"' + t.replace('"', '""') + '"' for t in ts)
            hits = conn.execute(
                "SELECT slug, cap_id, -bm25(capability_fts, 0, 0, 0, 3.0, 2.0, 1.0, 1.0) AS s "
                "FROM capability_fts WHERE capability_fts MATCH ? ORDER BY s DESC LIMIT 200",
                [match]).fetchall()
            if len(hits) >= 10:
                return hits
        return fts_search(conn, ts, limit=200, artifact_type=None)

    original = store.keyword_search
    # The control: the same queries again, unchanged (cards are cached by now for all runs).
    variants: dict[str, Callable[..., Any]] = {"control_or_all": original}
    variants.update({f"rarest_{k}": rarest_terms(store, df, k) for k in (3, 4, 5)})
    for name, fn in variants.items():
        stats, hits = alone(lambda ts, fn=fn: fn(ts, limit=200))  # type: ignore[misc]
        overlap = [len(full_top10[i] & {(h[0], h[1]) for h in hits[i][:10]})
                   / max(1, len(full_top10[i])) for i in range(len(qs))]
        store.keyword_search = fn
        lat, _, res = run_clients(lambda q: registry.resolve(q), qs, 1)
        store.keyword_search = original
        same = sum((r["resolved"][0]["capability"]["id"] if r["resolved"] else None) == b
                   for r, b in zip(res, top1, strict=True))
        out[name] = {"keyword_alone": stats,
                     "keyword_top10_overlap_with_or_all": round(statistics.fmean(overlap), 3),
                     "resolve": summary_ms(lat), "resolve_top1_same": round(same / len(qs), 3)}
        log(f"fts {name}: {out[name]}")
    stats, _ = alone(and_then_or)
    out["and_then_or"] = stats
    store.keyword_search = original
    return out




# -- phase 4b: the HNSW graph as a file (experiment for VectorIndex, outside src/) ------------
def cmd_ann(args: argparse.Namespace) -> dict[str, Any]:
    """Build the same usearch index (ip, f16, connectivity 16, expansion 128/64) from the
    snapshot's float16 matrix in chunks, without a float32 copy; save it; restore it
    memory-mapped (``view=True``), as every server process could at start instead of
    rebuilding; and check recall@10 against exact search on held-out queries."""
    from capgraph.search.embedding import MiniLMEmbedder

    # onnxruntime must be imported before usearch: `import usearch.index; import onnxruntime`
    # is a segmentation fault here (usearch 2.26.6, onnxruntime 1.31.1); the other order works.
    embedder = MiniLMEmbedder(threads=1)
    from usearch.index import Index

    data = Path(args.data)
    out: dict[str, Any] = {"load": [loadavg()]}
    t0 = time.perf_counter()
    with np.load(data / "index" / "vectors.npz", allow_pickle=False) as snap:
        matrix = snap["matrix"]  # float16, live rows only
    out["read_f16_matrix_seconds"] = round(time.perf_counter() - t0, 1)
    out["rss_mb_after_read"] = round(rss_mb())
    n = len(matrix)
    path = data / "index" / "hnsw.usearch"
    if not path.exists():
        index = Index(ndim=matrix.shape[1], metric="ip", dtype="f16", connectivity=16,
                      expansion_add=128, expansion_search=64)
        t0 = time.perf_counter()
        for start in range(0, n, 100_000):
            stop = min(n, start + 100_000)
            index.add(np.arange(start, stop, dtype=np.uint64), matrix[start:stop])
            log(f"ann: added {stop}/{n} ({time.perf_counter() - t0:.0f} s, rss {rss_mb():.0f})")
        out["build_seconds"] = round(time.perf_counter() - t0, 1)
        out["build_peak_rss_mb"] = round(peak_mb())
        t0 = time.perf_counter()
        index.save(str(path))
        out["save_seconds"] = round(time.perf_counter() - t0, 1)
        del index
    out["file_mb"] = round(path.stat().st_size / 1e6)
    queries = Corpus(base=args.base, queries=args.query_pool, seed=args.seed).queries[:200]
    qv = embedder.embed(queries)
    scores = np.concatenate([matrix[s:s + 100_000].astype(np.float32) @ qv.T
                             for s in range(0, n, 100_000)])  # (n, queries)
    exact = np.argpartition(-scores, 10, axis=0)[:10].T
    del scores
    rss_before = rss_mb()
    t0 = time.perf_counter()
    viewed = Index.restore(str(path), view=True)
    out["restore_view_seconds"] = round(time.perf_counter() - t0, 2)
    lat, recall, recall100 = [], [], []
    for i, v in enumerate(qv):
        t = time.perf_counter()
        found = viewed.search(v, 10)
        lat.append(time.perf_counter() - t)
        truth = set(exact[i].tolist())
        recall.append(len(truth & {int(k) for k in found.keys}) / 10)
        recall100.append(len(truth & {int(k) for k in viewed.search(v, 100).keys}) / 10)
    out["recall@10_in_top100_vs_exact"] = round(statistics.fmean(recall100), 3)
    out["viewed_search_k10"] = summary_ms(lat)
    out["recall@10_vs_exact"] = round(statistics.fmean(recall), 3)
    # Recall against expansion_search, and how far below the exact 10th score the 10th
    # found one is (near-ties: each base summary recurs in ~2 x 1M / base capabilities).
    tenth = [float(np.sort(matrix[exact[i]].astype(np.float32) @ qv[i])[0])
             for i in range(len(qv))]
    sweep = {}
    for ef in (64, 128, 256, 512):
        viewed.expansion_search = ef
        lat, rec, gap = [], [], []
        for i, v in enumerate(qv):
            t = time.perf_counter()
            found = viewed.search(v, 10)
            lat.append(time.perf_counter() - t)
            keys = [int(k) for k in found.keys]
            rec.append(len(set(exact[i].tolist()) & set(keys)) / 10)
            got = matrix[keys].astype(np.float32) @ v
            gap.append(tenth[i] - float(got.min()))
        sweep[ef] = {"p50_ms": round(pct(lat, 0.5) * 1000, 3),
                     "recall@10": round(statistics.fmean(rec), 3),
                     "tenth_score_gap_mean": round(statistics.fmean(gap), 4)}
    out["expansion_search_sweep"] = sweep
    out["rss_mb_added_by_view_and_search"] = round(rss_mb() - rss_before)
    out["load"].append(loadavg())
    log(f"ann: {out}")
    return out


# -- phase 5: writes at full size (changes the database: run last) ------------------------------
def cmd_publish(args: argparse.Namespace) -> dict[str, Any]:
    """What one publish costs at full size (unmodified import path: RFC 8785, one durable
    transaction), why, and the effect of merging the FTS index ('optimize') on OR queries."""
    from capgraph.search.corpus import body_from_entry
    from capgraph.search.documents import query_terms
    from capgraph.storage.sqlite import fts_search

    data = Path(args.data)
    corpus = Corpus(base=args.base, queries=args.query_pool, seed=args.seed)
    registry = open_registry(data)
    conn = registry.store._conn()
    out: dict[str, Any] = {"load": [loadavg()]}
    slugs = [r[0] for r in conn.execute("SELECT slug FROM artifacts ORDER BY random() LIMIT 3")]
    scan = []
    for slug in slugs:  # what `DELETE FROM capability_fts WHERE slug = ?` has to do
        t = time.perf_counter()
        conn.execute("SELECT count(*) FROM capability_fts WHERE slug = ?", (slug,)).fetchone()
        scan.append(time.perf_counter() - t)
    out["fts_where_slug_scan"] = summary_ms(scan)
    rowids = [r[0] for r in conn.execute(
        "SELECT rowid FROM capability_fts WHERE rowid > "
        "(SELECT max(rowid) / 2 FROM capability_fts) LIMIT 10")]
    conn.execute("BEGIN IMMEDIATE")
    t = time.perf_counter()
    conn.execute(f"DELETE FROM capability_fts WHERE rowid IN ({','.join('?' * len(rowids))})",
                 rowids)
    out["fts_delete_10_by_rowid_ms"] = round(1000 * (time.perf_counter() - t), 2)
    conn.execute("ROLLBACK")
    lat = []
    for a in range(args.artifacts, args.artifacts + args.publishes):
        entry, summary, _ = corpus.artifact(a)
        body = body_from_entry(entry, version="2026-11")
        t = time.perf_counter()
        registry.import_passport({"passport": {"unfragile": body}}, summary=summary)
        lat.append(time.perf_counter() - t)
    out["import_passport_at_full_size"] = summary_ms(lat)
    log(f"publish: {out}")

    qs = corpus.queries[50 + 4 * args.queries:50 + 5 * args.queries]

    def or_queries() -> dict[str, float]:
        lat = []
        for q in qs:
            t = time.perf_counter()
            fts_search(conn, query_terms(q), limit=200, artifact_type=None)
            lat.append(time.perf_counter() - t)
        return summary_ms(lat)

    out["or_before_optimize"] = or_queries()
    t = time.perf_counter()
    conn.execute("INSERT INTO capability_fts(capability_fts) VALUES ('optimize')")
    out["optimize_seconds"] = round(time.perf_counter() - t, 1)
    out["or_after_optimize"] = or_queries()
    out["load"].append(loadavg())
    log(f"publish: {out}")
    return out


# -- everything ---------------------------------------------------------------------------------
PHASES = ("embed-base", "embed-sample", "build", "index", "query", "ann", "publish")


def run_all(args: argparse.Namespace) -> None:
    """Each phase in its own process (so the query phase measures a fresh server process),
    then one JSON with everything; the data dir is deleted unless --keep."""
    data = Path(args.data)
    passthrough = [a for a in sys.argv[2:]]
    merged: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_start": loadavg()},
        "args": vars(args)}
    try:
        for phase in PHASES:
            log(f"phase {phase}")
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, phase, *passthrough], check=True)
            merged[phase] = json.loads((data / f"{phase}.json").read_text())
            merged[phase]["phase_seconds"] = round(time.perf_counter() - t0, 1)
            emit(merged, Path(args.json))
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    merged["machine"]["load_end"] = loadavg()
    emit(merged, Path(args.json))
    log(f"wrote {args.json}")


# -- main ---------------------------------------------------------------------------------------
COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "embed-base": cmd_embed_base,
    "build": cmd_build,
    "index": cmd_index,
    "query": cmd_query,
    "ann": cmd_ann,
    "publish": cmd_publish,
    "embed-sample": cmd_embed_sample,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=[*COMMANDS, "all"])
    parser.add_argument("--data", default="/tmp/capgraph-scale", help="temporary data dir")
    parser.add_argument("--artifacts", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=32_000, help="distinct embedded summaries")
    parser.add_argument("--query-pool", type=int, default=3_000, help="held-out summaries")
    parser.add_argument("--queries", type=int, default=500, help="queries per latency run")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="embedder threads (build)")
    parser.add_argument("--batch", type=int, default=64, help="embedding batch (build)")
    parser.add_argument("--sample", type=int, default=100, help="embed-sample artifacts")
    parser.add_argument("--exact-first", type=int, default=1_000,
                        help="artifacts imported exactly as in production, before the bulk")
    parser.add_argument("--txn", type=int, default=1_000, help="bulk publishes per transaction")
    parser.add_argument("--check-every", type=int, default=50,
                        help="compare every Nth fast canonical JSON with rfc8785")
    parser.add_argument("--exact-canonical", action="store_true",
                        help="sign with rfc8785 itself (slower bulk load)")
    parser.add_argument("--replay-prefix", type=int, default=120_000,
                        help="vector-log rows for timing the production replay")
    parser.add_argument("--query-threads", type=int, default=1,
                        help="embedder threads when serving (bootstrap uses 1)")
    parser.add_argument("--publishes", type=int, default=5,
                        help="production imports timed at full size")
    parser.add_argument("--short", type=int, default=0,
                        help="query: keep the first N content words of each query")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    parser.add_argument("--json", default="bench/out/scale_search.json")
    args = parser.parse_args(argv)
    if args.command == "all":
        run_all(args)
    else:
        result = COMMANDS[args.command](args)
        suffix = f"-short{args.short}" if args.command == "query" and args.short else ""
        out = Path(args.data) / f"{args.command}{suffix}.json"
        emit(result, out)


if __name__ == "__main__":
    main()
