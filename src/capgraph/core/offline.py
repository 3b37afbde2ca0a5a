"""Offline verification of a served envelope: signature, key status, and log inclusion.

Needs nothing but the envelope and the registry's JWK Set, so anyone can run it anywhere.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from capgraph.core import translog
from capgraph.core.canonical import canonical_bytes
from capgraph.core.checkpoint import Checkpoint, NoteVerifier, parse_checkpoint
from capgraph.core.signing import PublicKey, passport_keys, verify_passport
from capgraph.errors import CapgraphError, ProofInvalid, SignatureInvalid

__all__ = ["OfflineResult", "log_verifiers", "verify_envelope", "verify_inclusion"]


@dataclass(frozen=True)
class OfflineResult:
    key: PublicKey
    checkpoint: Checkpoint | None
    log_index: int | None


def log_verifiers(jwks: Mapping[str, Any]) -> list[NoteVerifier]:
    """The checkpoint verifier keys published in a JWK Set."""
    return [NoteVerifier.decode(j["verifierKey"]) for j in jwks.get("keys", [])
            if j.get("purpose") == "checkpoint" and "verifierKey" in j]


def verify_envelope(envelope: Mapping[str, Any], jwks: Mapping[str, Any], *,
                    require_log: bool = False) -> OfflineResult:
    """Verify the passport signature and, when ``_log`` is present (or required), that the
    passport is the log entry the inclusion proof and the signed checkpoint say it is.

    Raises ``SignatureInvalid`` (bad signature, revoked key, bad checkpoint signature) or
    ``ProofInvalid`` (the passport is not in the log as claimed).
    """
    passport = envelope.get("passport", envelope)
    if not isinstance(passport, Mapping):
        raise SignatureInvalid("not a passport envelope")
    key = verify_passport(passport, passport_keys(jwks))
    log = envelope.get("_log")
    if log is None:
        if require_log:
            raise ProofInvalid("the envelope carries no _log inclusion proof")
        return OfflineResult(key, None, None)
    head, index = verify_inclusion(envelope, jwks)
    return OfflineResult(key, head, index)


def verify_inclusion(envelope: Mapping[str, Any], jwks: Mapping[str, Any]
                     ) -> tuple[Checkpoint, int]:
    """That the envelope's passport bytes are the log entry its ``_log`` block names, under a
    checkpoint signed by a published log key, whatever the passport's own signature says.
    Returns the checkpoint and the entry's index.

    Raises ``SignatureInvalid`` (no or a bad checkpoint signature) or ``ProofInvalid``.
    """
    passport = envelope.get("passport", envelope)
    log = envelope.get("_log")
    if not isinstance(passport, Mapping) or not isinstance(log, Mapping):
        raise ProofInvalid("the envelope carries no _log inclusion proof")
    try:
        verifiers = log_verifiers(jwks)
        if not verifiers:
            raise SignatureInvalid("the key set publishes no checkpoint verifier key")
        head = _checkpoint(str(log["checkpoint"]), verifiers)
        index, size = int(log["index"]), int(log["treeSize"])
        proof = [base64.b64decode(h, validate=True) for h in log["inclusionProof"]]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ProofInvalid(f"malformed _log block: {exc}", malformed=True) from exc
    if size != head.size:
        raise ProofInvalid("_log.treeSize differs from the checkpoint's size")
    leaf = translog.leaf_hash(canonical_bytes(passport))
    translog.verify_inclusion(index, size, leaf, proof, head.root)
    return head, index


def _checkpoint(note: str, verifiers: list[NoteVerifier]) -> Checkpoint:
    last: CapgraphError | None = None
    for verifier in verifiers:
        try:
            return parse_checkpoint(note, verifier)
        except SignatureInvalid as exc:
            last = exc
    raise last or SignatureInvalid("checkpoint is not signed by a published log key")
