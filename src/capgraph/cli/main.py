"""``capgraph``: serve, publish, import, validate, verify, keys, demo.

Every command works on the data directory from ``--data-dir`` or ``CAPGRAPH_DATA_DIR``.
Exit codes: 0 success, 1 a finding, failed verification or refused input, 2 usage error.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click

from capgraph.bootstrap import build_registry, directory_sink
from capgraph.cli.db import db_group
from capgraph.cli.evaluate import eval_command
from capgraph.cli.importing import import_command
from capgraph.cli.mcp_stdio import mcp_command
from capgraph.cli.monitor import log_group
from capgraph.cli.owners import claims_group, owners_group
from capgraph.config import Settings
from capgraph.core.manifest import parse_manifest_text
from capgraph.core.offline import verify_envelope
from capgraph.core.risk import RISK_POSTURES
from capgraph.core.validation import validate_manifest
from capgraph.errors import CapgraphError, ParseError, SignatureInvalid
from capgraph.http.shapes import resolution_json, search_json
from capgraph.registry import PublishResult, Registry

__all__ = ["main"]


class _Context:
    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self._registry: Registry | None = None

    def settings(self, **more: Any) -> Settings:
        values = {k: v for k, v in {**self.overrides, **more}.items() if v is not None}
        return Settings(**values)

    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = build_registry(self.settings())
        return self._registry


def _fail(error: CapgraphError, *, where: Path | None = None) -> None:
    """The one mapping of capgraph errors for people at a terminal: the error's diagnostics
    on stderr (after the file they are about) and, unless a file is named, exit code 1."""
    click.echo(f"{where}: {error.diagnostics()}" if where else error.diagnostics(), err=True)
    if where is None:
        sys.exit(1)


class _Group(click.Group):
    """Every command's capgraph errors end in ``_fail``; nothing else becomes a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CapgraphError as exc:
            _fail(exc)
            raise  # unreachable: _fail exits


def _each_file(files: tuple[Path, ...], action: Callable[[Path], None]) -> NoReturn:
    """Run ``action`` on every file, reporting a capgraph error per file and going on;
    exit 1 when any failed."""
    failed = False
    for path in files:
        try:
            action(path)
        except CapgraphError as exc:
            _fail(exc, where=path)
            failed = True
    sys.exit(1 if failed else 0)


def _stored(result: PublishResult) -> None:
    state = "new version" if result.created else "unchanged"
    click.echo(f"{result.stored.slug}: version {result.stored.version} ({state}), "
               f"UnfragileRank {result.stored.score}")


def load_demo(registry: Registry) -> tuple[int, int]:
    """Publish the bundled demo manifests. Returns (created, unchanged)."""
    created = unchanged = 0
    folder = resources.files("capgraph.demo").joinpath("manifests")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yml", ".yaml")):
            result = registry.publish(entry.read_text(encoding="utf-8"), hint="yaml")
            created += result.created
            unchanged += not result.created
    return created, unchanged


@click.group(cls=_Group)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where the database and keys live [env CAPGRAPH_DATA_DIR].")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.version_option(package_name="capgraph")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """capgraph: an open registry of AI capabilities with signed trust passports."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = _Context({"data_dir": data_dir})


@cli.command()
@click.option("--host", default=None, help="Interface to bind [env CAPGRAPH_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env CAPGRAPH_PORT, 8000].")
@click.option("--workers", type=int, default=None, help="Server processes [CAPGRAPH_WORKERS].")
@click.option("--public-url", default=None, help="Base URL written into signed passports.")
@click.option("--demo/--no-demo", default=None,
              help="Load the demo manifests when the database is empty [CAPGRAPH_DEMO].")
@click.pass_obj
def serve(obj: _Context, host: str | None, port: int | None, workers: int | None,
          public_url: str | None, demo: bool | None) -> None:
    """Run the HTTP service."""
    import uvicorn

    settings = obj.settings(host=host, port=port, workers=workers, public_url=public_url,
                            demo=demo)
    registry = build_registry(settings)
    registry.jwks()  # creates the signing key before workers race to
    if settings.demo and registry.count() == 0:
        created, _ = load_demo(registry)
        click.echo(f"loaded {created} demo artifacts", err=True)
    registry.prepare_indexes()  # workers start from current indexes, not a full replay
    registry.close()
    # With one worker uvicorn serves in this process: free this registry's indexes (a
    # million vectors' worth) rather than hold them beside the worker's own.
    del registry
    gc.collect()
    # Workers rebuild Settings from the environment: hand every resolved value down.
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[f"CAPGRAPH_{name.upper()}"] = str(value)
    click.echo(f"capgraph serving on http://{settings.host}:{settings.port} "
               f"(data: {settings.data_dir})", err=True)
    uvicorn.run(
        "capgraph.http.server:make_app", factory=True, host=settings.host, port=settings.port,
        workers=settings.workers, log_level=settings.log_level, access_log=False,
        server_header=False,
        # httptools with a bound on the request head (431 past max_header_bytes): see there.
        http="capgraph.http.protocol:BoundedHttpToolsProtocol",
        h11_max_incomplete_event_size=settings.max_header_bytes,
        # The client is always the TCP peer: forwarding headers are read by the app, and only
        # from CAPGRAPH_TRUSTED_PROXIES (http/clients.py); uvicorn would believe 127.0.0.1.
        proxy_headers=False, forwarded_allow_ips="",
    )


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def validate(obj: _Context, files: tuple[Path, ...]) -> None:
    """Validate manifests: one FILE: path: code: message line per finding."""
    failed = False
    for path in files:
        try:
            data = parse_manifest_text(path.read_bytes(), hint=_hint(path))
        except ParseError as exc:
            where = f"line {exc.line}" + (f", column {exc.column}" if exc.column else "")
            click.echo(f"{path}: {where if exc.line else '$'}: {exc.code}: {exc.message}")
            failed = True
            continue
        _, findings = validate_manifest(data)
        for f in findings:
            label = f.code if f.severity == "error" else f"warning {f.code}"
            click.echo(f"{path}: {f.path}: {label}: {f.message}")
        failed |= any(f.severity == "error" for f in findings)
        if not findings:
            click.echo(f"{path}: ok")
    sys.exit(1 if failed else 0)


def _hint(path: Path) -> str | None:
    return "json" if path.suffix.lower() == ".json" else None


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def publish(obj: _Context, files: tuple[Path, ...]) -> None:
    """Publish manifests as signed passport versions."""
    _each_file(files, lambda path: _stored(
        obj.registry().publish(path.read_bytes(), hint=_hint(path))))


def _local_jwks(obj: _Context) -> dict[str, Any]:
    """The data directory's public keys, when it has a registry; never creates one: with no
    registry there, no key is known (verification must not create state)."""
    settings = obj.settings()
    if not (settings.keys_dir / "keyring.json").exists() or not settings.database_path.exists():
        click.echo(f"note: no registry in {settings.data_dir}, so no key is known here; pass "
                   "--keys JWKS.json (a registry's GET /api/v1/trust-passport-public-key)",
                   err=True)
        return {"keys": []}
    return obj.registry().jwks()


@cli.command()
@click.argument("passport", type=click.Path(exists=True, path_type=Path))
@click.option("--keys", "keys_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="A JWK Set file; without it, the keys in the data directory.")
@click.option("--require-log", is_flag=True, help="Fail when the file has no _log proof.")
@click.pass_obj
def verify(obj: _Context, passport: Path, keys_file: Path | None, require_log: bool) -> None:
    """Verify a passport file offline: signature, key status and validity window, and, when
    the envelope carries ``_log``, its inclusion in the transparency log under a checkpoint
    signed by the published log key."""
    try:
        document = json.loads(passport.read_text())
    except json.JSONDecodeError as exc:
        click.echo(f"{passport}: invalid JSON at line {exc.lineno}: {exc.msg}", err=True)
        sys.exit(1)
    inner = document.get("passport", document) if isinstance(document, dict) else None
    if not isinstance(inner, dict):
        click.echo(f"{passport}: not a passport envelope", err=True)
        sys.exit(1)
    try:
        jwks = json.loads(keys_file.read_text()) if keys_file else _local_jwks(obj)
        result = verify_envelope(document, jwks, require_log=require_log)
    except SignatureInvalid as exc:
        click.echo(f"{passport}: INVALID")
        for reason in exc.reasons:
            click.echo(f"  - {reason}")
        sys.exit(1)
    except (CapgraphError, json.JSONDecodeError) as exc:
        click.echo(f"{passport}: INVALID: {exc}")
        sys.exit(1)
    click.echo(f"{passport}: signature valid (key {result.key.kid}, {result.key.status})")
    if result.checkpoint is not None:
        click.echo(f"{passport}: included in log {result.checkpoint.origin} at index "
                   f"{result.log_index} of {result.checkpoint.size} (checkpoint signature valid)")


@cli.command()
@click.pass_obj
def demo(obj: _Context) -> None:
    """Load the bundled demo manifests into the database."""
    created, unchanged = load_demo(obj.registry())
    click.echo(f"demo: {created} new, {unchanged} unchanged")


@cli.command()
@click.argument("slug")
@click.option("--version", "number", type=int, default=None, help="An older version.")
@click.pass_obj
def passport(obj: _Context, slug: str, number: int | None) -> None:
    """Print an artifact's signed passport envelope."""
    data = obj.registry().envelope_bytes(slug, obj.settings().base_url, version=number)
    click.echo(json.dumps(json.loads(data), indent=2, ensure_ascii=False))


@cli.command()
@click.argument("slug")
@click.pass_obj
def versions(obj: _Context, slug: str) -> None:
    """List an artifact's versions."""
    for v in obj.registry().versions(slug):
        click.echo(f"{v.version}\t{v.created_at}\t{v.source_kind}\trank {v.score}\t"
                   f"{v.content_hash[:19]}")


@cli.group()
def keys() -> None:
    """API keys (create, list, revoke) and signing keys (rotate, jwks, revoke-signing)."""


@keys.command("create")
@click.option("--name", default="default", help="A label for the key.")
@click.option("--publisher", default=None,
              help="Add the key to this publisher (id or name); default: a new publisher.")
@click.pass_obj
def keys_create(obj: _Context, name: str, publisher: str | None) -> None:
    """Create an API key for writes. The secret is printed once and stored only as a hash."""
    key_id, secret = obj.registry().create_api_key(name, publisher=publisher)
    click.echo(f"# {key_id} ({name}): keep the secret below; it is not shown again", err=True)
    click.echo(secret)


@keys.command("list")
@click.pass_obj
def keys_list(obj: _Context) -> None:
    """List API keys (never their secrets)."""
    for record in obj.registry().api_keys():
        state = "revoked" if record.revoked else "active"
        click.echo(f"{record.key_id}\t{record.name}\t{record.created_at}\t{state}\t"
                   f"{record.publisher_id}")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(obj: _Context, key_id: str) -> None:
    """Revoke an API key."""
    obj.registry().revoke_api_key(key_id)
    click.echo(f"revoked {key_id}")


@keys.command("rotate")
@click.pass_obj
def keys_rotate(obj: _Context) -> None:
    """Retire the signing key and start a new one (old passports keep verifying)."""
    key = obj.registry().rotate_signing_key()
    click.echo(f"new signing key {key.kid}")


# A kid is a base64url thumbprint: about one in 32 starts with "-", which must not be read as
# an option.
@keys.command("revoke-signing", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@click.pass_obj
def keys_revoke_signing(obj: _Context, kid: str) -> None:
    """Revoke a signing key: every passport it signed then fails verification."""
    obj.registry().revoke_signing_key(kid)
    click.echo(f"revoked signing key {kid}")


@keys.command("resign")
@click.pass_obj
def keys_resign(obj: _Context) -> None:
    """Re-issue every passport whose latest version was signed with a revoked key: a new
    version, same content, signed with the current key and logged."""
    done = obj.registry().resign_revoked()
    for stored in done:
        click.echo(f"{stored.slug}: version {stored.version} signed with key {stored.key_id}")
    click.echo(f"re-signed {len(done)} passport(s)")


@keys.command("jwks")
@click.pass_obj
def keys_jwks(obj: _Context) -> None:
    """Print the JWK Set (public keys only)."""
    click.echo(json.dumps(obj.registry().jwks(), indent=2))


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", type=int, default=5, show_default=True)
@click.option("--type", "artifact_type", default=None, help="Only this artifact type.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_obj
def search(obj: _Context, query: tuple[str, ...], limit: int, artifact_type: str | None,
           as_json: bool) -> None:
    """Search the local registry for capabilities."""
    result = obj.registry().search(" ".join(query), limit=limit, artifact_type=artifact_type)
    if as_json:
        click.echo(json.dumps(search_json(result), indent=2, ensure_ascii=False))
        return
    if not result.matches:
        click.echo("no match")
    for i, m in enumerate(result.matches, start=1):
        click.echo(f"{i}. {m.name} ({m.slug}, {m.type}) match {m.match_score:.2f} "
                   f"UnfragileRank {m.unfragile_rank}")
        for c in m.capabilities:
            click.echo(f"     {c.match_score:.2f}  {c.name}  {c.uri}")


@cli.command()
@click.argument("intent", nargs=-1, required=True)
@click.option("--limit", type=int, default=3, show_default=True)
@click.option("--type", "artifact_type", default=None, help="Only this artifact type.")
@click.option("--risk", default="default", show_default=True,
              type=click.Choice(RISK_POSTURES))
@click.option("--capability", default=None, help="A capability:// URI (prefix) or phrase.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_obj
def resolve(obj: _Context, intent: tuple[str, ...], limit: int, artifact_type: str | None,
            risk: str, capability: str | None, as_json: bool) -> None:
    """Resolve an intent to the best capability in the local registry."""
    registry = obj.registry()
    result = registry.resolve(" ".join(intent), limit=limit, artifact_type=artifact_type,
                              risk=risk, capability=capability)
    if as_json:
        click.echo(json.dumps(resolution_json(result, obj.settings().base_url), indent=2,
                              ensure_ascii=False))
        return
    if not result.confident:
        click.echo(f"no confident match (confidence {result.match_confidence:.2f})")
        for alt in result.alternatives:
            click.echo(f"  maybe {alt.name} ({alt.slug}): {alt.why}")
        return
    for i, answer in enumerate(result.resolved, start=1):
        cap = answer.capability
        click.echo(f"{i}. {answer.artifact.name} ({answer.artifact.slug}): {cap.name}")
        click.echo(f"   {cap.uri}  confidence {answer.match_confidence:.2f}")
        for reason in cap.why_this_matches:
            click.echo(f"   - {reason}")
        click.echo(f"   {cap.vs_alternatives}")
        click.echo("   invocation:")
        for line in answer.invocation.snippet.splitlines():
            click.echo(f"     {line}")


@cli.group()
def index() -> None:
    """The search indexes (keyword, declared intents, vectors)."""


@index.command("rebuild")
@click.pass_obj
def index_rebuild(obj: _Context) -> None:
    """Re-derive every artifact's index entries from its latest version and save the vector
    snapshot (after a model change, or to speed up the next start)."""
    registry = obj.registry()
    with click.progressbar(length=max(1, registry.count()), label="reindexing",
                           file=sys.stderr) as bar:
        done = registry.rebuild_index(progress=lambda n, total: bar.update(1))
    click.echo(f"reindexed {done} artifacts")


@index.command("status")
@click.pass_obj
def index_status(obj: _Context) -> None:
    """What the indexes hold."""
    status = obj.registry().index_status()
    click.echo(f"artifacts {status.artifacts}")
    click.echo(f"keywords  {status.keyword_documents} (tantivy BM25F)")
    if status.vectors is None:
        click.echo("vectors   disabled (CAPGRAPH_EMBEDDER=none)")
        return
    click.echo(f"vectors   {status.vectors} ({status.model})")


@cli.group("static")
def static_group() -> None:
    """The static read path: files nginx or a CDN serves (docs/STATIC.md)."""


@static_group.command("export")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to write [env CAPGRAPH_STATIC_DIR].")
@click.pass_obj
def static_export(obj: _Context, directory: Path | None) -> None:
    """Write every passport (latest and each version), the JWK Set and the log's checkpoint,
    tiles and entry bundles again, from the store: a host that missed writes catches up."""
    target = directory or obj.settings().static_dir
    if target is None:
        raise click.UsageError("give --dir or set CAPGRAPH_STATIC_DIR")
    report = obj.registry().export_static(directory_sink(target))
    click.echo(f"{target}: {report.envelopes} envelopes, {report.tiles} tiles and bundles, "
               f"tree size {report.size}")
    for path in report.skipped:
        click.echo(f"not written: {path} (an entry is longer than 65,535 bytes)", err=True)


cli.add_command(owners_group)
cli.add_command(claims_group)
cli.add_command(eval_command)
cli.add_command(log_group)
cli.add_command(import_command)
cli.add_command(mcp_command)
cli.add_command(db_group)


def main() -> None:
    cli(prog_name="capgraph")
