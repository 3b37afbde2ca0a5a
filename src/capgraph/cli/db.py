"""``capgraph db``: the database's schema, and moving an embedded registry to PostgreSQL."""

from __future__ import annotations

import click

from capgraph.bootstrap import copy_database, migrate_database
from capgraph.config import Settings

__all__ = ["db_group"]


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj.settings()
    return settings


@click.group("db")
def db_group() -> None:
    """The database: schema migrations, and copying a SQLite registry into PostgreSQL."""


@db_group.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Apply the schema migrations the configured database lacks [CAPGRAPH_DATABASE_URL].

    PostgreSQL hosts refuse to start on an older schema; run this once (from any host)
    before starting hosts of a new release. SQLite migrates itself whenever it is opened."""
    backend, applied, version = migrate_database(_settings(ctx))
    if backend == "sqlite":
        click.echo("SQLite: the schema is up to date (SQLite migrates when it is opened)")
    elif applied:
        click.echo(f"PostgreSQL: applied migrations {', '.join(map(str, applied))}; "
                   f"schema version {version}")
    else:
        click.echo(f"PostgreSQL: the schema is up to date (version {version})")


@db_group.command("copy")
@click.option("--from", "source", required=True, help="sqlite:///path/to/capgraph.db")
@click.option("--to", "target", required=True, help="postgresql://user@host:port/database")
@click.pass_context
def copy_command(ctx: click.Context, source: str, target: str) -> None:
    """Copy an embedded registry into an empty PostgreSQL database (migrated first), all or
    nothing, and prove the log came across: the same root, and the same signed checkpoint,
    at the old size. Keep the data dir's keys/ folder: every host signs with it."""
    outcome = copy_database(_settings(ctx), source, target)
    report = outcome.report
    for table, count in report.rows.items():
        click.echo(f"copied {count:>8} {table}")
    click.echo(f"log size {report.log_size}")
    click.echo(f"source root {report.source_root.hex()}")
    click.echo(f"target root {report.target_root.hex()}")
    if outcome.source_checkpoint:
        click.echo("source checkpoint:\n" + outcome.source_checkpoint.rstrip("\n"))
        click.echo("target checkpoint:\n" + outcome.target_checkpoint.rstrip("\n"))
    same = outcome.source_checkpoint == outcome.target_checkpoint and report.consistent
    click.echo("consistent: the same log at the same size" if same else "NOT consistent")
    if not same:
        raise SystemExit(1)
