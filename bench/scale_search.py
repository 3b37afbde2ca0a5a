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
    .venv/bin/python bench/scale_search.py build --data DIR       # 2. passports, both logs
    .venv/bin/python bench/scale_search.py keyword --data DIR     # 2b. keyword log -> tantivy
    .venv/bin/python bench/scale_search.py index --data DIR       # 3. vector log -> snapshot
    .venv/bin/python bench/scale_search.py query --data DIR       # 4. fresh process: latency
    .venv/bin/python bench/scale_search.py query --short 4 ...    #    intent-length queries
    .venv/bin/python bench/scale_search.py publish --data DIR     # 5. writes at full size

How the corpus is made (and why it is not 1,000,000 independent embeddings): on this shared
2-core machine MiniLM int8 embedded 45 summaries/s under load average 5-9, and the publish
path's own ``Registry._embed`` (two texts per capability) costs ~16 ms per capability even at
load ~1.5: 4.5 hours for 1,000,000. Instead ``--base`` distinct real summaries (default 32,000)
are embedded once with the project's embedder (cached in DATA/base-*.npy), and every capability
is composed from them: capability c of artifact a takes base summary m_c as its name source,
intent and description, padded with the next member's summary (and the one after, until the
description has >= 100 characters). Its vectors are capgraph's views (search/documents.py),
each the unit-length mean of the embeddings of exactly the summaries its text is made of: what
it is for (the artifact's summary and its intent), what it does (its text), plus the artifact's
own two (all of it; its capabilities' names). So every vector is a real-text vector consistent
with its text. ``--caps`` sets the capabilities per artifact (10 in the issue-3 runs; 4 in
issue 16's, to keep the vector count near 1,000,000 with views). Artifacts are 10 consecutive items
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
import functools
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
def unit(rows: np.ndarray) -> bytes:
    """The float16 bytes of the unit-length mean of ``rows`` (one view's vector)."""
    mean = rows.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float16).tobytes()


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
    from capgraph.bootstrap import assemble_registry
    from capgraph.storage.keystore import FileKeyStore
    from capgraph.storage.sqlite import SQLiteStore

    return assemble_registry(store=SQLiteStore(data / "capgraph.db"),
                             keys=FileKeyStore(data / "keys"), registry_name="capgraph-scale",
                             public_url="http://127.0.0.1:8000", embedder=embedder,
                             index_dir=index_dir)


def batch_transactions(store: Any, every: int) -> Callable[[], dict[str, int]]:
    """Make ``store.write`` group ``every`` write transactions into one SQLite transaction
    (the store's own commits each); returns a function that commits what is open."""
    from contextlib import contextmanager

    from capgraph.storage.sqlite_tx import Transaction

    state = {"open": 0, "commits": 0}
    conn = store._conn()

    @contextmanager
    def write() -> Iterator[Any]:
        if not state["open"]:
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield Transaction(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        state["open"] += 1
        if state["open"] >= every:
            finish()

    def finish() -> dict[str, int]:
        if state["open"]:
            conn.execute("UPDATE meta SET generation = generation + 1 WHERE id = 1")
            conn.execute("COMMIT")
            state["open"] = 0
            state["commits"] += 1
        return {"commits": state["commits"]}

    store.write = write
    return finish


def cmd_import_part(args: argparse.Namespace, corpus: Corpus | None = None) -> dict[str, Any]:
    """Artifacts [start, stop) through ``Registry.import_passport``: the first
    ``--exact-first`` exactly as in production (one durable transaction each), the rest with
    ``--txn`` publishes per transaction."""
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
    per_artifact = 1 + 2 * CAPS + 2  # reset, two views per capability, the artifact's two
    if have != args.artifacts * per_artifact:  # none yet, or a run that stopped half-way
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
            # The views of search/documents.py, each a unit vector: what the capability is
            # for (the artifact's summary and the capability's intent), what it does (its
            # text), the artifact as a whole and its capabilities' names.
            lead = parts_of[0][0]
            for n, parts in enumerate(parts_of):
                for view, members in (("p", [lead, parts[0]]), ("c", parts)):
                    rows.append((slug, f"{slug}__cap_{n}#{view}", kind, unit(base[members])))
            every = [parts[0] for parts in parts_of]
            rows.append((slug, "#artifact", kind, unit(base[[lead, *every]])))
            rows.append((slug, "#artifact#n", kind, unit(base[every])))
            if a in check:  # the same capability ids as the passport import_passport stored
                blob = conn.execute("SELECT passport FROM versions WHERE slug = ?",
                                    (slug,)).fetchone()[0]
                stored = [c["id"] for c in json.loads(blob)["unfragile"]["capabilities"]]
                made = [r[1] for r in rows[-per_artifact + 1:] if r[1].endswith("#c")]
                assert [f"{c}#c" for c in stored] == made, (slug, stored)
            if len(rows) >= 5000 * per_artifact or a == args.artifacts - 1:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT INTO capability_vectors (slug, cap_id, type, vec) "
                                 "VALUES (?,?,?,?)", rows)
                conn.execute("COMMIT")
                rows = []
        conn.execute("UPDATE meta SET generation = generation + 1 WHERE id = 1")
        result["vector_log_seconds"] = round(time.perf_counter() - t0, 1)
        result["vector_rows"] = conn.execute(
            "SELECT count(*) FROM capability_vectors").fetchone()[0]
    result["keyword_log_rows"] = conn.execute("SELECT count(*) FROM keyword_log").fetchone()[0]
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



# -- phase 2b: the keyword index -----------------------------------------------------------------
def cmd_keyword(args: argparse.Namespace) -> dict[str, Any]:
    """Apply the whole keyword log to the tantivy index every server process shares (what the
    first process to search after the bulk import does), then its size on disk."""
    from capgraph.search.keyword import KeywordIndex
    from capgraph.storage.sqlite import SQLiteStore

    data = Path(args.data)
    store = SQLiteStore(data / "capgraph.db")
    out: dict[str, Any] = {"load": [loadavg()]}
    t0 = time.perf_counter()
    index = KeywordIndex(store, path=data / "index" / "keyword")
    index.sync()
    out["build_seconds"] = round(time.perf_counter() - t0, 1)
    out["documents"] = len(index)
    out["disk_mb"] = round(sum(f.stat().st_size for f in (data / "index").glob("keyword-*/*")
                               if f.is_file()) / 1e6)
    out["peak_rss_mb"] = round(peak_mb())
    out["load"].append(loadavg())
    log(f"keyword: {out}")
    return out


# -- phase 3: the vector index ------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> dict[str, Any]:
    """Replay the vector log as a process without a snapshot does (exact up to 20,000
    vectors, then an HNSW graph, one batched add per page of the log), then save the snapshot
    and graph every server process starts from (what `capgraph serve` does before its
    workers start, and `capgraph index rebuild` after re-embedding)."""
    from capgraph.search.vectors import VectorIndex
    from capgraph.storage.sqlite import SQLiteStore

    data = Path(args.data)
    store = SQLiteStore(data / "capgraph.db")
    snapshot = data / "index" / "vectors.npz"
    out: dict[str, Any] = {"load": [loadavg()]}
    t0 = time.perf_counter()
    index = VectorIndex(store, dim=384, snapshot=snapshot)
    index.sync()
    out["replay_with_hnsw_seconds"] = round(time.perf_counter() - t0, 1)
    out["vectors"] = len(index)
    out["replay_peak_rss_mb"] = round(peak_mb())
    t0 = time.perf_counter()
    index.save_snapshot()
    out["save_snapshot_seconds"] = round(time.perf_counter() - t0, 1)
    out["snapshot_files_mb"] = {f.name: round(f.stat().st_size / 1e6)
                                for f in snapshot.parent.glob("vectors*") if f.is_file()}
    out["peak_rss_mb"] = round(peak_mb())
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


def run_clients(fn: Callable[[str], Any], queries: list[str], clients: int, *,
                fresh: Callable[[], None] | None = None
                ) -> tuple[list[float], float, list[Any]]:
    """Latency of each call with ``clients`` threads sharing the query list; wall time.
    ``fresh`` runs first (the embedder's ``forget``: each run times first embeddings, not
    the vectors an earlier run on the same queries left remembered)."""
    if fresh is not None:
        fresh()
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
    out["index_load_seconds"] = round(time.perf_counter() - t0, 2)  # snapshot + mapped graph
    t0 = time.perf_counter()
    vectors.sync()
    out["index_sync_seconds"] = round(time.perf_counter() - t0, 2)
    out["vectors"] = len(vectors)
    out["hnsw_graph_mapped"] = getattr(vectors, "_graph", None) is not None
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
        registry.keywords.search(query_terms(q), limit=200)
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
    lat = []
    for v in probe:
        t = time.perf_counter()
        vectors.query(v, k=100)
        lat.append(time.perf_counter() - t)
    micro["VectorIndex.query k=100"] = summary_ms(lat)
    slugs = [r[0] for r in store._conn().execute(
        "SELECT slug FROM artifacts ORDER BY random() LIMIT 200")]
    t = time.perf_counter()
    registry.engine.cards(slugs)
    micro["engine.cards x200 ms (one read)"] = round(1000 * (time.perf_counter() - t), 2)
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

    # each timed run starts with the embedder's memory empty: it times first embeddings, not
    # the vectors an earlier run on the same queries left remembered
    timed_run = functools.partial(run_clients, fresh=embedder.forget)
    qs = slices["floor+resolve-1"]
    parts: list[tuple[float, float, float]] = []
    lat, wall, res = timed_run(floor, qs, 1)
    parts = res
    record("floor-1", lat, wall, {
        "embed": summary_ms([p[0] for p in parts]), "vector": summary_ms([p[1] for p in parts]),
        "keyword": summary_ms([p[2] for p in parts])})
    lat, wall, res = timed_run(resolve, qs, 1)
    record("resolve-1", lat, wall, {"confident": sum(bool(r.resolved) for r in res)})
    lat, wall, _ = timed_run(search, slices["search-1"], 1)
    record("search-1", lat, wall)
    lat, wall, res = timed_run(resolve, slices["resolve-8"], 8)
    record("resolve-8", lat, wall, {"confident": sum(bool(r.resolved) for r in res)})
    lat, wall, _ = timed_run(search, slices["search-8"], 8)
    record("search-8", lat, wall)
    lat, wall, _ = timed_run(floor, slices["resolve-8"], 8)
    record("floor-8", lat, wall)
    out["runs"] = runs
    out["bodies_cached"] = registry.engine._body.cache_info().currsize
    out["ratio_resolve_p50_to_floor_p50"] = round(runs["resolve-1"]["p50"] / runs["floor-1"]["p50"],
                                                  2)
    out["ratio_search_p50_to_floor_p50"] = round(runs["search-1"]["p50"] / runs["floor-1"]["p50"],
                                                 2)

    # Where a resolve's time goes (1 client, its own queries).
    timed = _Timed()
    timed.wrap(embedder, "embed", "embed")
    timed.wrap(vectors, "query", "vector top-k")
    timed.wrap(vectors, "cosines", "exact cosines of the candidates' views")
    timed.wrap(vectors, "artifact_cosines", "every view of artifacts found as a whole")
    timed.wrap(registry.keywords, "search", "keyword top-200")
    timed.wrap(store, "intent_matches", "declared intents")
    timed.wrap(registry.engine, "cards", "cards (batched reads)")
    timed.wrap(store, "version", "store.version (answer)")
    timed.wrap(store, "record_resolves", "record_resolves")
    bq = slices["breakdown"]
    lat, wall, _ = timed_run(resolve, bq, 1)
    total = sum(lat)
    out["breakdown"] = {
        "resolve_mean_ms": round(1000 * total / len(bq), 2),
        "ms_per_resolve": {k: round(1000 * v / len(bq), 2) for k, v in timed.totals.items()},
        "calls_per_resolve": {k: round(v / len(bq), 1) for k, v in timed.calls.items()},
    }
    out["breakdown"]["ms_per_resolve"]["other (fusion, rank, answer, tokens)"] = round(
        1000 * (total - sum(timed.totals.values())) / len(bq), 2)
    log(f"breakdown: {out['breakdown']}")

    out["bodies_cached_end"] = registry.engine._body.cache_info().currsize
    out["rss_mb_end"] = round(rss_mb())
    out["peak_rss_mb"] = round(peak_mb())
    out["load"]["end"] = loadavg()
    return out


# -- phase 5: writes at full size (changes the database: run last) ------------------------------
def cmd_publish(args: argparse.Namespace) -> dict[str, Any]:
    """What one publish costs at full size (unmodified import path: RFC 8785, one durable
    transaction), and bringing the shared keyword index up to date after it (what the
    publishing process does next), against 1,000,000 indexed capabilities."""
    from capgraph.search.corpus import body_from_entry

    data = Path(args.data)
    corpus = Corpus(base=args.base, queries=args.query_pool, seed=args.seed)
    registry = open_registry(data, index_dir=data / "index")
    out: dict[str, Any] = {"load": [loadavg()]}
    registry.keywords.sync()
    store_lat, keyword_lat = [], []
    for a in range(args.artifacts, args.artifacts + args.publishes):
        entry, summary, _ = corpus.artifact(a)
        body = body_from_entry(entry, version="2026-11")
        t = time.perf_counter()
        registry.import_passport({"passport": {"unfragile": body}}, summary=summary)
        t1 = time.perf_counter()
        registry.keywords.sync()
        store_lat.append(t1 - t)
        keyword_lat.append(time.perf_counter() - t1)
    out["import_passport_at_full_size"] = summary_ms(store_lat)
    out["keyword_index_update_after_publish"] = summary_ms(keyword_lat)
    out["load"].append(loadavg())
    log(f"publish: {out}")
    return out


# -- everything ---------------------------------------------------------------------------------
PHASES = ("embed-base", "embed-sample", "build", "keyword", "index", "query", "publish")


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
    "keyword": cmd_keyword,
    "publish": cmd_publish,
    "embed-sample": cmd_embed_sample,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=[*COMMANDS, "all"])
    parser.add_argument("--data", default="/tmp/capgraph-scale", help="temporary data dir")
    parser.add_argument("--artifacts", type=int, default=100_000)
    parser.add_argument("--caps", type=int, default=10, help="capabilities per artifact")
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
    parser.add_argument("--query-threads", type=int, default=1,
                        help="embedder threads when serving (bootstrap uses 1)")
    parser.add_argument("--publishes", type=int, default=5,
                        help="production imports timed at full size")
    parser.add_argument("--short", type=int, default=0,
                        help="query: keep the first N content words of each query")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    parser.add_argument("--json", default="bench/out/scale_search.json")
    args = parser.parse_args(argv)
    global CAPS
    CAPS = args.caps
    if args.command == "all":
        run_all(args)
    else:
        result = COMMANDS[args.command](args)
        suffix = f"-short{args.short}" if args.command == "query" and args.short else ""
        out = Path(args.data) / f"{args.command}{suffix}.json"
        emit(result, out)


if __name__ == "__main__":
    main()
