"""``capgraph import``: files or URLs in any format the importers read, entry by entry, with
progress on stderr, one line per stored entry and a summary at the end; exit 1 when any entry
was refused (each refusal says why; the others are stored regardless)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from capgraph.registry import IMPORT_FORMATS, EntryOutcome, ImportReport

__all__ = ["import_command"]


def _progress(source: str) -> Callable[[int, int, EntryOutcome], None]:
    def report(done: int, total: int, outcome: EntryOutcome) -> None:
        if total > 1:
            click.echo(f"[{done}/{total}] {source}: {outcome.name or outcome.slug or '?'}: "
                       f"{outcome.status}", err=True)
    return report


def _show(source: str, report: ImportReport) -> None:
    for entry in report.entries:
        if entry.status == "refused":
            label = f"{source}: {entry.name}" if entry.name else source
            for reason in entry.errors:
                click.echo(f"{label}: refused: {reason}", err=True)
            continue
        state = "unchanged" if entry.status == "unchanged" else "new version"
        click.echo(f"{entry.slug}: version {entry.version} ({state}), "
                   f"UnfragileRank {entry.score}")


@click.command(name="import")
@click.argument("sources", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS), default=None,
              help="The documents' format [default: detected per document].")
@click.option("--source-url", default=None,
              help="Where a file came from (a model card's huggingface.co URL names its "
                   "repository); recorded in the provenance.")
@click.pass_obj
def import_command(obj: Any, sources: tuple[str, ...], fmt: str | None,
                   source_url: str | None) -> None:
    """Import files or https URLs: MCP server.json, A2A agent cards, Hugging Face model cards
    (README.md), OpenRouter-style model lists (one artifact per model), capgraph passports.
    Importing the same input again stores nothing."""
    registry = obj.registry()
    totals: Counter[str] = Counter()
    for source in sources:
        if source.startswith(("https://", "http://")):
            report = registry.import_url(source, fmt=fmt, progress=_progress(source))
        else:
            path = Path(source)
            try:
                data = path.read_bytes()
            except OSError as exc:
                click.echo(f"{source}: refused: cannot read the file ({exc.strerror})",
                           err=True)
                totals["refused"] += 1
                continue
            report = registry.import_document(data, fmt=fmt, source_url=source_url,
                                              progress=_progress(source))
        _show(source, report)
        totals.update(report.counts())
    names = ("new", "updated", "unchanged", "refused")
    click.echo("summary: " + ", ".join(f"{totals[n]} {n}" for n in names))
    sys.exit(1 if totals["refused"] else 0)
