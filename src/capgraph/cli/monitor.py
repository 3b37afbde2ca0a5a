"""``capgraph log monitor``: watch a registry's transparency log for rewritten history.

The state file remembers the last checkpoint seen (origin, size, root, verifier key). Each run
fetches the current checkpoint, checks its signature with the pinned verifier key, and asks the
server for a consistency proof from the remembered size. A log that shrank, forked or was
rewritten fails loudly with exit code 3 and the state file is left as it was.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import click
import httpx

from capgraph.core import translog
from capgraph.core.checkpoint import NoteVerifier, parse_checkpoint
from capgraph.core.offline import log_verifiers
from capgraph.errors import CapgraphError

__all__ = ["log_group"]

EXIT_INCONSISTENT = 3


@click.group("log")
def log_group() -> None:
    """The transparency log."""


def _alarm(message: str) -> None:
    click.echo(f"LOG INCONSISTENT: {message}", err=True)
    click.echo("The registry's log history does not extend the one seen before: it was "
               "rewritten or forked. Keep the state file as evidence.", err=True)
    sys.exit(EXIT_INCONSISTENT)


@log_group.command("monitor")
@click.option("--state", "state_file", type=click.Path(path_type=Path), required=True,
              help="JSON file remembering the last checkpoint seen.")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="The registry's base URL.")
@click.option("--verifier-key", default=None,
              help="Pin this signed-note verifier key (else taken from the JWK Set on first run).")
def monitor(state_file: Path, url: str, verifier_key: str | None) -> None:
    """Check the log's newest checkpoint against the last one seen."""
    base = url.rstrip("/")
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    try:
        with httpx.Client(timeout=30) as client:
            if verifier_key is None and state is not None:
                verifier_key = state["verifierKey"]
            if verifier_key is None:
                jwks = client.get(f"{base}/api/v1/trust-passport-public-key").raise_for_status()
                found = log_verifiers(jwks.json())
                if not found:
                    raise click.ClickException("the registry publishes no log verifier key")
                verifier = found[0]
                click.echo(f"pinned verifier key {verifier.encode()} (first use)")
            else:
                verifier = NoteVerifier.decode(verifier_key)
            note = client.get(f"{base}/api/v1/log/checkpoint").raise_for_status().text
            try:
                head = parse_checkpoint(note, verifier)
            except CapgraphError as exc:
                _alarm(f"the checkpoint does not verify with the pinned key: {exc.message}")
            if state is not None:
                old_size, old_root = int(state["size"]), base64.b64decode(state["root"])
                if state["origin"] != head.origin:
                    _alarm(f"origin changed from {state['origin']!r} to {head.origin!r}")
                if head.size < old_size:
                    _alarm(f"the log shrank from {old_size} to {head.size} entries")
                proof: list[bytes] = []
                if 0 < old_size < head.size:
                    response = client.get(f"{base}/api/v1/log/proof/consistency",
                                          params={"from": old_size, "size": head.size})
                    if response.status_code != 200:
                        _alarm(f"no consistency proof from {old_size} to {head.size}: "
                               f"HTTP {response.status_code}")
                    try:
                        proof = [base64.b64decode(h, validate=True)
                                 for h in response.json()["hashes"]]
                    except (ValueError, KeyError, TypeError) as exc:
                        _alarm(f"the consistency proof from {old_size} to {head.size} is "
                               f"malformed: {exc}")
                try:
                    translog.verify_consistency(old_size, head.size, old_root, head.root, proof)
                except CapgraphError as exc:
                    _alarm(exc.message)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"could not reach {base}: {exc}") from exc
    new_state = {"origin": head.origin, "size": head.size,
                 "root": base64.b64encode(head.root).decode(), "verifierKey": verifier.encode(),
                 "url": base}
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(new_state, indent=2))
    tmp.replace(state_file)
    before = f"{state['size']} -> " if state else ""
    click.echo(f"log {head.origin}: consistent, size {before}{head.size}")
