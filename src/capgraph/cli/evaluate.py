"""``capgraph eval``: retrieval quality and latency of a corpus in a fresh registry."""

from __future__ import annotations

import io
import json
import random
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
from capgraph.search.evalsplit import (
    QueryResult,
    bootstrap_difference,
    bootstrap_mean,
    split_by_tool,
)

__all__ = ["eval_command", "evaluate", "load_corpus", "run_queries", "split_report"]


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


METRICS = ("recall@1", "recall@5", "mrr@10", "ndcg@10")


def run_queries(corpus: Path, queries: Path, *, subset: str | None = None,
                sample: int | None = None, progress: bool = False,
                embedder: Embedder | None = None, outcomes: int | None = None
                ) -> tuple[list[QueryResult], list[float]]:
    """Load ``corpus`` into an in-memory registry and answer every query: each query's
    metrics (with the resolve's top-1 ``confidence`` and whether it was ``correct``), and
    the resolve latencies in ms.

    With ``outcomes`` (a seed), the queries are asked in an order shuffled by that seed and
    each confident answer's outcome (right or wrong by the labels) is reported through the
    registry's feedback path right after it, as an agent would: later resolves see the
    counted evidence (learned ranking, passports' outcome records, the confidence model's
    ``outcomes`` and ``evidence`` features), never a query's own."""
    entries = _load_jsonl(corpus)
    rows = [q for q in _load_jsonl(queries) if subset is None or q.get("subset") == subset]
    if sample is not None and sample < len(rows):
        step = len(rows) / sample
        rows = [rows[int(i * step)] for i in range(sample)]
    if outcomes is not None:
        random.Random(outcomes).shuffle(rows)
    results: list[QueryResult] = []
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as keys:
        registry, slug_of = load_corpus(entries, keys_dir=Path(keys), embedder=embedder)
        stream: TextIO = sys.stderr if progress else io.StringIO()
        with _progress(rows, stream) as bar:
            for q in bar:
                text = q["query"][:500].ljust(2)
                # resolve first: its latency includes embedding the intent, which the search
                # after it reuses (the embedder remembers recent texts)
                start = time.perf_counter()
                answer = registry.resolve(text, limit=1)
                latencies.append((time.perf_counter() - start) * 1000)
                result = registry.search(text, limit=10)
                relevant = {slug_of.get(s, s) for s in q["relevant"]}
                metrics = metrics_at([m.slug for m in result.matches], relevant)
                if answer.resolved:
                    top_slug: str | None = answer.resolved[0].artifact.slug
                    metrics["confidence"] = answer.resolved[0].match_confidence
                else:
                    top_slug = answer.alternatives[0].slug if answer.alternatives else None
                    metrics["confidence"] = answer.match_confidence
                metrics["correct"] = float(top_slug in relevant)
                if outcomes is not None and answer.resolved:
                    given = answer.resolved[0]
                    registry.feedback({"resolveId": answer.resolve_id,
                                       "slug": given.artifact.slug,
                                       "callbackToken": given.callback_token,
                                       "outcome": "success" if metrics["correct"] else "failure"},
                                      client=f"eval:{len(results)}")
                # what the confidence model saw, to fit it on some tools and test it on others
                # (bench/calibrate.py --from)
                for name, value in answer.features.items():
                    metrics[f"feature {name}"] = value
                if q.get("relevant_capabilities"):
                    cap_ranked = [f"{m.slug}#{c.name}" for m in result.matches
                                  for c in m.capabilities]
                    labels = [c.partition("#") for c in q["relevant_capabilities"]]
                    relevant_caps = {f"{slug_of.get(s, s)}#{name}" for s, _, name in labels}
                    for k, v in metrics_at(cap_ranked, relevant_caps).items():
                        metrics[f"capability {k}"] = v
                results.append(QueryResult(str(q.get("id", len(results))),
                                           tuple(sorted(relevant)), metrics, top_slug))
    return results, latencies


def summarise(results: list[QueryResult]) -> dict[str, Any]:
    """Mean metrics (rounded) and calibration error of a list of query results."""
    n = max(1, len(results))
    out: dict[str, Any] = {k: round(sum(r.metrics[k] for r in results) / n, 4)
                           for k in METRICS}
    out["ece"] = round(ece([r.metrics["confidence"] for r in results],
                           [r.metrics["correct"] > 0 for r in results]), 4)
    caps = [r for r in results if "capability recall@1" in r.metrics]
    if caps:
        out["capability"] = {k: round(sum(r.metrics[f"capability {k}"] for r in caps)
                                      / len(caps), 4) for k in METRICS}
    out["queries"] = len(results)
    return out


def evaluate(corpus: Path, queries: Path, *, subset: str | None = None,
             sample: int | None = None, progress: bool = False,
             embedder: Embedder | None = None, outcomes: int | None = None
             ) -> dict[str, Any]:
    """Load ``corpus`` into an in-memory registry and score every query against it."""
    results, latencies = run_queries(corpus, queries, subset=subset, sample=sample,
                                     progress=progress, embedder=embedder, outcomes=outcomes)
    out = summarise(results)
    latencies.sort()
    out["latency_ms"] = {
        "p50": round(statistics.median(latencies), 3) if latencies else 0.0,
        "p99": round(latencies[int(0.99 * (len(latencies) - 1))], 3) if latencies else 0.0,
    }
    return out


def split_report(results: list[QueryResult], *, seed: int, holdout: float,
                 baseline: list[QueryResult] | None = None) -> dict[str, Any]:
    """Every metric on all queries, the tuning tools' and the held-out tools', each with a
    95% interval from resampling tools; with a ``baseline`` run, the paired difference."""
    sides = split_by_tool(results, seed=seed, holdout=holdout)
    report: dict[str, Any] = {"seed": seed, "holdout": holdout,
                              "mixed_queries": len(sides["mixed"])}
    for name, part in (("all", results), ("tune", sides["tune"]),
                       ("held-out", sides["held-out"])):
        side: dict[str, Any] = {"queries": len(part),
                                "tools": len({r.tools[0] for r in part if r.tools})}
        for metric in METRICS:
            interval = bootstrap_mean(part, metric, seed=seed)
            side[metric] = [round(interval.value, 4), round(interval.low, 4),
                            round(interval.high, 4)]
            if baseline is not None:
                delta = bootstrap_difference(part, baseline, metric, seed=seed)
                side[f"delta {metric}"] = [round(delta.value, 4), round(delta.low, 4),
                                           round(delta.high, 4)]
        side["ece"] = summarise(part)["ece"] if part else 0.0
        report[name] = side
    return report


def save_results(path: Path, results: list[QueryResult]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for r in results:
            handle.write(json.dumps({"id": r.query_id, "tools": list(r.tools),
                                     "metrics": dict(r.metrics), "top": r.top}) + "\n")


def load_results(path: Path) -> list[QueryResult]:
    return [QueryResult(str(row["id"]), tuple(row["tools"]), row["metrics"], row.get("top"))
            for row in _load_jsonl(path)]


@click.command("eval")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--queries", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--subset", default=None, help="Only queries of this subset (e.g. single).")
@click.option("--sample", type=int, default=None, help="Evenly spaced sample of N queries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--keyword-only", is_flag=True, help="Without the embedding model.")
@click.option("--split", type=click.Choice(["tools"]), default=None,
              help="Report the tuning tools and the held-out tools apart, each number with "
                   "a 95%% interval from resampling tools.")
@click.option("--holdout", type=click.FloatRange(0.05, 0.95), default=0.3, show_default=True,
              help="With --split: the share of tools held out.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="With --split: which tools are held out, and the bootstrap's draws.")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every query's result (JSON lines), for a later --baseline.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="With --split: a --save file of an earlier run; report the "
                                 "paired difference with its interval.")
@click.option("--outcomes", type=int, default=None, metavar="SEED",
              help="Ask the queries in an order shuffled by SEED and report each confident "
                   "answer's outcome (by the labels) through the feedback path right after "
                   "it, as agents would: later resolves learn from the earlier ones.")
def eval_command(corpus: Path, queries: Path, subset: str | None, sample: int | None,
                 as_json: bool, keyword_only: bool, split: str | None, holdout: float,
                 seed: int, save: Path | None, baseline: Path | None,
                 outcomes: int | None) -> None:
    """Recall@1/@5, MRR@10, nDCG@10, calibration error and latency on a labeled corpus."""
    embedder = None if keyword_only else MiniLMEmbedder(threads=1)
    if split is None and baseline is None and save is None:
        result = evaluate(corpus, queries, subset=subset, sample=sample, progress=True,
                          embedder=embedder, outcomes=outcomes)
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
        return
    results, _ = run_queries(corpus, queries, subset=subset, sample=sample, progress=True,
                             embedder=embedder, outcomes=outcomes)
    if save is not None:
        save_results(save, results)
    report = split_report(results, seed=seed, holdout=holdout,
                          baseline=load_results(baseline) if baseline else None)
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(f"split by tool: seed {seed}, {holdout:.0%} of tools held out; "
               f"{report['mixed_queries']} queries about tools on both sides left out")
    for name in ("all", "tune", "held-out"):
        side = report[name]
        click.echo(f"{name}: {side['queries']} queries, {side['tools']} tools, "
                   f"ece {side['ece']:.4f}")
        for metric in METRICS:
            value, low, high = side[metric]
            line = f"  {metric:9} {value:.4f} [{low:.4f}, {high:.4f}]"
            if f"delta {metric}" in side:
                d, dl, dh = side[f"delta {metric}"]
                line += f"   vs baseline {d:+.4f} [{dl:+.4f}, {dh:+.4f}]"
            click.echo(line)
