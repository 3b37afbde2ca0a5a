"""A verified builder: what was proven, and what it changes in a passport body.

Pure: no I/O. The proof itself is checked elsewhere (``registry/claims.py`` through the
``ProofChecker`` port, PROTOCOL.md B.10); this module only says what a proven (or withdrawn)
identity does to a body, so publishing a manifest (``compose.compose_body``) and re-issuing a
stored passport after a claim or a recheck (``apply_verification``) give the same body.

Trust follows identity (PROTOCOL.md B.13): adoption counts a publisher declares in its
manifest are counted only once its builder is verified; until then adoption is the no-signal
floor, exactly as if the manifest declared none (``scoring.declared_adoption``). The declared
numbers stay visible in ``trust.community`` and are marked ``declared`` in the provenance.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from capgraph.core import scoring

__all__ = [
    "METHODS",
    "NOTE_NO_OUTCOMES",
    "NOTE_UNVERIFIED",
    "VERIFICATION_PROVENANCE_KEYS",
    "Verification",
    "apply_verification",
    "verification_provenance",
    "with_identity_note",
]

# How a builder proves who they are (PROTOCOL.md B.10): a token at
# {origin}/.well-known/unfragile.json, a DNS TXT record at _unfragile.{host}, or, for artifacts
# on shared hosts, a file in the artifact's own repository.
METHODS = ("http", "dns", "repository")
NOTE_UNVERIFIED = "builder identity is not verified yet"
NOTE_NO_OUTCOMES = "no observed match outcomes yet"
# The provenance entries ``verification_provenance`` may write: drop these from an older
# version's provenance before adding the new ones.
VERIFICATION_PROVENANCE_KEYS = ("artifact.verified",)
_ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@dataclass(frozen=True)
class Verification:
    """A proof of the builder's identity that the registry saw.

    ``method``: one of ``METHODS``; ``verified_at``: when the proof was seen, ISO-8601 UTC
    with milliseconds and a Z like every timestamp of a body; ``subject``: what was proven,
    i.e. where the token was found (a URL, a DNS name, a repository URL).
    Raises ``ValueError`` for anything else.
    """

    method: str
    verified_at: str
    subject: str

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"verification method must be one of {', '.join(METHODS)}, "
                             f"not {self.method!r}")
        if not isinstance(self.verified_at, str) or not _ISO_MS.fullmatch(self.verified_at):
            raise ValueError("verified_at must be an ISO-8601 UTC time with milliseconds, "
                             f"such as 2026-12-06T10:00:00.000Z, not {self.verified_at!r}")
        if not isinstance(self.subject, str) or not self.subject.strip():
            raise ValueError("a verification needs a subject: what was proven")

    def to_json(self) -> dict[str, str]:
        return {"method": self.method, "verified_at": self.verified_at, "subject": self.subject}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verification:
        """Read ``to_json``'s object back. Raises ``ValueError`` for anything off it."""
        if not isinstance(data, Mapping):
            raise ValueError("a verification is a JSON object")
        values = {key: data.get(key) for key in ("method", "verified_at", "subject")}
        for key, value in values.items():
            if not isinstance(value, str):
                raise ValueError(f"verification.{key} must be a string")
        return cls(method=str(values["method"]), verified_at=str(values["verified_at"]),
                   subject=str(values["subject"]))


def with_identity_note(failure_modes: Sequence[str], *, verified: bool) -> list[str]:
    """``failure_modes`` with the registry's note ``NOTE_UNVERIFIED`` removed (verified) or in
    its place (unverified): after the limitations and declared modes, before
    ``NOTE_NO_OUTCOMES`` when that note is there (PROTOCOL.md A.2). The note's text is the
    registry's: any entry equal to it is taken for the note."""
    out = [m for m in failure_modes if m != NOTE_UNVERIFIED]
    if not verified:
        at = out.index(NOTE_NO_OUTCOMES) if NOTE_NO_OUTCOMES in out else len(out)
        out.insert(at, NOTE_UNVERIFIED)
    return out


def apply_verification(body: Mapping[str, Any], verification: Verification | None, *,
                       manifest_community: Mapping[str, int | None] | None = None
                       ) -> dict[str, Any]:
    """A new body (``body`` is left untouched) as the registry issues it with
    ``verification`` (None: unverified).

    - ``artifact.verified`` and ``trust.verified``: whether there is a verification;
    - ``trust.failure_modes``: ``NOTE_UNVERIFIED`` removed or put back (``with_identity_note``);
    - ``trust.rank_breakdown.adoption``: with ``manifest_community`` (the counts the manifest
      declared, for a body published from a manifest), rescored by
      ``scoring.declared_adoption``: counted when verified, the floor when not. Without it
      (an imported body) the adoption component is kept as it came (PROTOCOL.md B.5);
    - ``trust.score``: recomputed from the components.

    Idempotent, and reversible: applying None to a verified body gives the unverified body.
    """
    verified = verification is not None
    out = copy.deepcopy(dict(body))
    artifact = out["artifact"]
    trust = out["trust"]
    artifact["verified"] = verified
    trust["verified"] = verified
    trust["failure_modes"] = with_identity_note(trust["failure_modes"], verified=verified)
    breakdown = trust["rank_breakdown"]
    if manifest_community is not None:
        breakdown["adoption"] = scoring.declared_adoption(
            artifact["type"], manifest_community, verified=verified).value
    trust["score"] = scoring.score(breakdown, breakdown["weights"])
    return out


def verification_provenance(verification: Verification | None) -> dict[str, str]:
    """The provenance entries a verification adds to the signed passport: one,
    ``artifact.verified`` (``trust.verified`` mirrors it), saying how, what and when, e.g.
    ``"proven by http (https://example.org/.well-known/unfragile.json) at
    2026-12-06T10:00:00.000Z"``. None (unverified) adds nothing; the keys it may write are
    ``VERIFICATION_PROVENANCE_KEYS``."""
    if verification is None:
        return {}
    v = verification
    return {"artifact.verified": f"proven by {v.method} ({v.subject}) at {v.verified_at}"}
