"""``capgraph eval``: retrieval quality and latency of a corpus in a fresh registry."""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from capgraph.bootstrap import scratch_registry
from capgraph.ports import Embedder
from capgraph.registry import Registry
from capgraph.search.corpus import body_from_entry, ece, metrics_at
from capgraph.search.embedding import MiniLMEmbedder

__all__ = ["eval_command", "evaluate", "load_corpus"]


def _load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_corpus(entries: list[dict[str, Any]], *, keys_dir: Path,
                embedder: Embedder | None) -> tuple[Registry, dict[str, str]]:
    """A fresh in-memory registry holding a corpus; also maps corpus slugs to the registry's
    (lower-cased, cleaned) slugs. Used by ``capgraph eval`` and the tuning scripts."""
    registry = scratch_registry(keys_dir=keys_dir, registry_name="capgraph-eval",
                                public_url="http://eval.invalid", embedder=embedder)
    version = datetime.now(UTC).strftime("%Y-%m")
    slug_of: dict[str, str] = {}
    for entry in entries:
        body = body_from_entry(entry, version=version)
        slug_of[str(entry["slug"])] = body["artifact"]["slug"]
        registry.import_passport({"passport": {"unfragile": body}},
                                 summary=entry.get("description") or None)
    return registry, slug_of


@contextmanager
def _progress(rows: list[dict[str, Any]], stream: TextIO) -> Iterator[Iterable[dict[str, Any]]]:
    """A progress bar on a terminal; elsewhere (a log, a pipe, CI) a line at every tenth,
    since a bar that cannot redraw shows nothing until the end."""
    if stream.isatty():
        with click.progressbar(rows, label="queries", file=stream) as bar:
            yield bar
        return

    def lines() -> Iterator[dict[str, Any]]:
        step = max(1, len(rows) // 10)
        started = time.perf_counter()
        for done, row in enumerate(rows, start=1):
            yield row
            if done % step == 0 or done == len(rows):
                print(f"queries: {done}/{len(rows)} ({100 * done // len(rows)}%, "
                      f"{time.perf_counter() - started:.0f} s)", file=stream, flush=True)

    yield lines()


def evaluate(corpus: Path, queries: Path, *, subset: str | None = None,
             sample: int | None = None, progress: bool = False,
             embedder: Embedder | None = None) -> dict[str, Any]:
    """Load ``corpus`` into an in-memory registry and score every query against it."""
    entries = _load_jsonl(corpus)
    rows = [q for q in _load_jsonl(queries) if subset is None or q.get("subset") == subset]
    if sample is not None and sample < len(rows):
        step = len(rows) / sample
        rows = [rows[int(i * step)] for i in range(sample)]
    with tempfile.TemporaryDirectory() as keys:
        registry, slug_of = load_corpus(entries, keys_dir=Path(keys), embedder=embedder)
        sums: dict[str, float] = {}
        cap_sums: dict[str, float] = {}
        cap_n = 0
        confidences: list[float] = []
        correct: list[bool] = []
        latencies: list[float] = []
        stream: TextIO = sys.stderr if progress else io.StringIO()
        with _progress(rows, stream) as bar:
            for q in bar:
                text = q["query"][:500].ljust(2)
                result = registry.search(text, limit=10)
                ranked = [m.slug for m in result.matches]
                relevant = {slug_of.get(s, s) for s in q["relevant"]}
                for k, v in metrics_at(ranked, relevant).items():
                    sums[k] = sums.get(k, 0.0) + v
                start = time.perf_counter()
                answer = registry.resolve(text, limit=1)
                latencies.append((time.perf_counter() - start) * 1000)
                if answer.resolved:
                    top_slug: str | None = answer.resolved[0].artifact.slug
                    confidences.append(answer.resolved[0].match_confidence)
                else:
                    top_slug = answer.alternatives[0].slug if answer.alternatives else None
                    confidences.append(answer.match_confidence)
                correct.append(top_slug in relevant)
                if q.get("relevant_capabilities"):
                    cap_n += 1
                    cap_ranked = [f"{m.slug}#{c.name}" for m in result.matches
                                  for c in m.capabilities]
                    labels = [c.partition("#") for c in q["relevant_capabilities"]]
                    relevant_caps = {f"{slug_of.get(s, s)}#{name}" for s, _, name in labels}
                    for k, v in metrics_at(cap_ranked, relevant_caps).items():
                        cap_sums[k] = cap_sums.get(k, 0.0) + v
    n = max(1, len(rows))
    latencies.sort()
    out: dict[str, Any] = {k: round(v / n, 4) for k, v in sums.items()}
    out["ece"] = round(ece(confidences, correct), 4)
    out["latency_ms"] = {
        "p50": round(statistics.median(latencies), 3) if latencies else 0.0,
        "p99": round(latencies[int(0.99 * (len(latencies) - 1))], 3) if latencies else 0.0,
    }
    if cap_n:
        out["capability"] = {k: round(v / cap_n, 4) for k, v in cap_sums.items()}
    out["queries"] = len(rows)
    return out


@click.command("eval")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--queries", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--subset", default=None, help="Only queries of this subset (e.g. single).")
@click.option("--sample", type=int, default=None, help="Evenly spaced sample of N queries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--keyword-only", is_flag=True, help="Without the embedding model.")
def eval_command(corpus: Path, queries: Path, subset: str | None, sample: int | None,
                 as_json: bool, keyword_only: bool) -> None:
    """Recall@1/@5, MRR@10, nDCG@10, calibration error and latency on a labeled corpus."""
    embedder = None if keyword_only else MiniLMEmbedder(threads=1)
    result = evaluate(corpus, queries, subset=subset, sample=sample, progress=True,
                      embedder=embedder)
    if as_json:
        click.echo(json.dumps(result))
        return
    for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10", "ece"):
        click.echo(f"{key:10} {result[key]:.4f}")
    click.echo(f"latency    p50 {result['latency_ms']['p50']} ms, "
               f"p99 {result['latency_ms']['p99']} ms")
    for key, value in result.get("capability", {}).items():
        click.echo(f"capability {key:10} {value:.4f}")
    click.echo(f"queries    {result['queries']}")
