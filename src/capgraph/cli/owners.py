"""``capgraph owners`` and ``capgraph claims``: the operator's view and changes of ownership.

The CLI acts as the operator: its changes are recorded on the transparency log with
``"by": "operator"`` (a reassignment, where a transfer through the API is the owner's).
"""

from __future__ import annotations

from typing import Any

import click

from capgraph.registry import Registry

__all__ = ["claims_group", "owners_group"]


def _registry(ctx: click.Context) -> Registry:
    registry: Registry = ctx.find_root().obj.registry()
    return registry


def _show(slug: str, record: Any) -> None:
    if record is None:
        click.echo(f"{slug}: no owner (it can be claimed)")
        return
    click.echo(f"{slug}: owner {record.owner}")
    for maintainer in record.maintainers:
        click.echo(f"  maintainer {maintainer}")
    if record.verification:
        v = record.verification
        click.echo(f"  verified by {v.get('method')} at {v.get('verified_at')} "
                   f"({v.get('subject')})")


@click.group("owners")
def owners_group() -> None:
    """Who owns which artifact; the operator's changes (all on the transparency log)."""


@owners_group.command("show")
@click.argument("slug")
@click.pass_context
def owners_show(ctx: click.Context, slug: str) -> None:
    """Owner, maintainers and verification of an artifact."""
    _show(slug, _registry(ctx).ownership(slug))


@owners_group.command("publishers")
@click.pass_context
def owners_publishers(ctx: click.Context) -> None:
    """Every publisher (id, name, created, proven domain)."""
    for p in _registry(ctx).publishers():
        click.echo(f"{p.publisher_id}\t{p.name}\t{p.created_at}\t{p.domain or ''}")


@owners_group.command("add-maintainer")
@click.argument("slug")
@click.argument("publisher")
@click.pass_context
def owners_add(ctx: click.Context, slug: str, publisher: str) -> None:
    """Let PUBLISHER publish SLUG too."""
    _show(slug, _registry(ctx).add_maintainer(slug, publisher, actor=None))


@owners_group.command("remove-maintainer")
@click.argument("slug")
@click.argument("publisher")
@click.pass_context
def owners_remove(ctx: click.Context, slug: str, publisher: str) -> None:
    """Stop PUBLISHER from publishing SLUG."""
    _show(slug, _registry(ctx).remove_maintainer(slug, publisher, actor=None))


@owners_group.command("reassign")
@click.argument("slug")
@click.argument("publisher")
@click.pass_context
def owners_reassign(ctx: click.Context, slug: str, publisher: str) -> None:
    """Make PUBLISHER the owner of SLUG (recorded as the operator's reassignment)."""
    _show(slug, _registry(ctx).transfer(slug, publisher, actor=None))


@click.group("claims")
def claims_group() -> None:
    """Verified builders: recheck their proofs."""


@claims_group.command("recheck")
@click.pass_context
def claims_recheck(ctx: click.Context) -> None:
    """Look again at every verified artifact's proof; withdraw the mark where it is gone."""
    results = _registry(ctx).recheck_claims()
    for slug, kept in results:
        click.echo(f"{slug}: {'still verified' if kept else 'verification withdrawn'}")
    if not results:
        click.echo("no verified artifacts")
