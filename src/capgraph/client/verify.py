"""Offline verification of a passport for clients: the signature against a pinned JWK Set,
the log inclusion proof against the envelope's signed checkpoint (core/offline.py), and that
checkpoint against the one this client saw before (trust on first use, then consistency).

The saved checkpoint is a small JSON file. On first use the envelope's checkpoint is saved.
Afterwards a newer checkpoint must extend the saved one (a consistency proof from the saved
size, fetched from the registry but checked here) and replaces it; an older one must be a
prefix of the saved one; one of the same size must have the same root. Anything else raises
``LogInconsistent`` and leaves the file as it was.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capgraph.core import translog
from capgraph.core.checkpoint import Checkpoint
from capgraph.core.offline import verify_envelope
from capgraph.errors import LogInconsistent, ProofInvalid

__all__ = ["CheckpointFile", "Verified", "check_against", "decode_proof", "proof_needed",
           "verified", "verify_signed"]


@dataclass(frozen=True)
class Verified:
    """What a successful ``verify`` established."""

    slug: str
    version: int
    key_id: str
    log_index: int
    checkpoint: Checkpoint
    first_use: bool  # no checkpoint was saved before: this one is now trusted


class CheckpointFile:
    """The last checkpoint this client trusts, as JSON (origin, size, base64 root)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> Checkpoint | None:
        if not self.path.exists():
            return None
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return Checkpoint(origin=data["origin"], size=int(data["size"]),
                          root=base64.b64decode(data["root"]))

    def save(self, head: Checkpoint) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({"origin": head.origin, "size": head.size,
                                   "root": base64.b64encode(head.root).decode()}),
                       encoding="utf-8")
        tmp.replace(self.path)


def verify_signed(envelope: Mapping[str, Any], jwks: Mapping[str, Any]
                  ) -> tuple[Checkpoint, int]:
    """The signature and inclusion proof, offline; returns the envelope's checkpoint and log
    index. Raises ``SignatureInvalid`` or ``ProofInvalid``."""
    result = verify_envelope(envelope, jwks, require_log=True)
    if result.checkpoint is None or result.log_index is None:
        raise ProofInvalid("the envelope carries no _log inclusion proof")
    return result.checkpoint, result.log_index


def proof_needed(head: Checkpoint, saved: Checkpoint | None) -> tuple[int, int] | None:
    """The (older size, newer size) of the consistency proof ``check_against`` needs."""
    if saved is None or saved.origin != head.origin or head.size == saved.size:
        return None
    return (min(head.size, saved.size), max(head.size, saved.size))


def check_against(head: Checkpoint, saved: Checkpoint | None, proof: Sequence[bytes]
                  ) -> Checkpoint:
    """The checkpoint to save after checking ``head`` against ``saved`` with ``proof`` (from
    ``proof_needed``'s sizes). Raises ``LogInconsistent``."""
    if saved is None:
        return head
    if saved.origin != head.origin:
        raise LogInconsistent(f"the log's origin changed from {saved.origin!r} to "
                              f"{head.origin!r}")
    if head.size >= saved.size:
        translog.verify_consistency(saved.size, head.size, saved.root, head.root, proof)
        return head
    translog.verify_consistency(head.size, saved.size, head.root, saved.root, proof)
    return saved


def decode_proof(answer: Mapping[str, Any]) -> list[bytes]:
    """The hashes of a consistency proof answer (GET /api/v1/log/proof/consistency)."""
    try:
        return [base64.b64decode(h, validate=True) for h in answer["hashes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise LogInconsistent(f"the consistency proof is malformed: {exc}") from exc


def verified(envelope: Mapping[str, Any], head: Checkpoint, index: int, first_use: bool
             ) -> Verified:
    passport = envelope.get("passport", envelope)
    return Verified(slug=passport["unfragile"]["artifact"]["slug"],
                    version=int(passport["version"]), key_id=str(passport["keyId"]),
                    log_index=index, checkpoint=head, first_use=first_use)
