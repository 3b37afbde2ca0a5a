"""From a validated manifest to a passport body, by the rules the seed passports obey (A.2)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from capgraph.core import scoring
from capgraph.core.manifest import Manifest
from capgraph.core.passport import PassportBody
from capgraph.core.quality import quality
from capgraph.core.risk import derive_data_access_risk, runs_locally
from capgraph.core.taxonomy import infer_artifact_categories, infer_capability_categories
from capgraph.core.verification import (
    NOTE_NO_OUTCOMES,
    NOTE_UNVERIFIED,
    Verification,
    verification_provenance,
    with_identity_note,
)

__all__ = [
    "NOTE_NO_OUTCOMES",
    "NOTE_UNVERIFIED",
    "Composition",
    "capability_uri",
    "compose_body",
    "derive_failure_modes",
    "derive_permissions",
    "iso_ms",
    "rescore",
]

MAX_DERIVED = 10
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def iso_ms(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, as the seeds write timestamps."""
    utc = moment.astimezone(UTC)
    # The year by hand: strftime("%Y") does not pad years before 1000 to four digits.
    return f"{utc.year:04d}" + utc.strftime("-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def capability_uri(primary_category: str, name: str) -> str:
    """``capability://`` + category (``-`` as ``.``) + ``.`` + the name's alphanumeric runs.

    A separator at the very start or end of the name is dropped (the seeds have none; a URI
    like ``code.generation.editing..name.`` would only be a typo trap for agents)."""
    return (
        "capability://" + primary_category.replace("-", ".") + "."
        + _NON_ALNUM.sub(".", name.lower()).strip(".")
    )


def derive_permissions(capabilities: Sequence[Mapping[str, Any]]) -> list[str]:
    """The first ten distinct ``requires`` entries over all capabilities, in listed order."""
    out: list[str] = []
    for cap in capabilities:
        for item in cap["requires"]:
            if item not in out:
                out.append(item)
    return out[:MAX_DERIVED]


def derive_failure_modes(
    capabilities: Sequence[Mapping[str, Any]],
    *,
    declared: Sequence[str] = (),
    verified: bool,
    matches: int,
) -> list[str]:
    """The first ten limitations in listed order, then declared failure modes, then the
    registry's notes about what it has not seen yet."""
    limits: list[str] = []
    for cap in capabilities:
        for item in cap["limitations"]:
            if item not in limits:
                limits.append(item)
    out = with_identity_note(limits[:MAX_DERIVED] + [d for d in declared if d not in limits],
                             verified=verified)
    if matches == 0:
        out.append(NOTE_NO_OUTCOMES)
    return out


@dataclass(frozen=True)
class Composition:
    """A composed body, where each derived value came from, and how the score was reached."""

    body: PassportBody
    provenance: dict[str, str]
    capability_numbers: dict[str, int]
    explanations: dict[str, str]
    quality_points: dict[str, float]


def _parse_time(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def compose_body(
    manifest: Manifest,
    *,
    now: datetime,
    public_url: str,
    numbers: Mapping[str, int] | None = None,
    references_in: int = 0,
    references_out: int = 0,
    verification: Verification | None = None,
) -> Composition:
    """Build the passport body for a manifest.

    ``numbers`` maps manifest capability ids to the ``cap_<n>`` numbers earlier versions gave
    them, so a capability keeps its id when others are added, removed or reordered.
    ``verification``: the builder's proven identity (None: unverified). The body is what
    ``verification.apply_verification`` makes of the same manifest's body with the
    manifest's ``community`` (same helpers): the flags, the registry note, and adoption
    counting the declared numbers only when verified (PROTOCOL.md B.13).
    """
    verified = verification is not None
    a = manifest.artifact
    artifact_id = a.slug
    numbering = dict(numbers or {})
    next_n = max(numbering.values(), default=-1) + 1
    provenance: dict[str, str] = {}
    caps: list[dict[str, Any]] = []
    for index, cap in enumerate(manifest.capabilities):
        if cap.id not in numbering:
            numbering[cap.id] = next_n
            next_n += 1
        if cap.categories:
            categories = list(cap.categories)
        else:
            categories = infer_capability_categories(cap.name, cap.description, cap.intents)
            provenance[f"capabilities[{cap.id}].categories"] = "derived"
        caps.append({
            "id": f"{artifact_id}__cap_{numbering[cap.id]}",
            "uri": capability_uri(categories[0], cap.name),
            "name": cap.name,
            "description": cap.description,
            "intents": list(cap.intents),
            "best_for": list(cap.best_for),
            "limitations": list(cap.limitations),
            "requires": list(cap.requires),
            "input_types": list(cap.input_types),
            "output_types": list(cap.output_types),
            "categories": categories,
            "confidence": scoring.capability_confidence(0, 0),
            "matches": 0,
            "success_rate": 0,
            "_index": index,
        })
    caps.sort(key=lambda c: c["id"])
    for entry in caps:
        del entry["_index"]
    if a.categories:
        artifact_categories = list(a.categories)
    else:
        artifact_categories = infer_artifact_categories([c["categories"] for c in caps])
        provenance["artifact.categories"] = "derived"
    if manifest.data_access_risk:
        risk = manifest.data_access_risk
        provenance["trust.data_access_risk"] = "declared"
    else:
        ex = manifest.execution
        local = runs_locally(ex.protocol if ex else None, ex.endpoint if ex else None,
                             manifest.permissions)
        risk, _ = derive_data_access_risk(
            [t for c in caps for t in c["input_types"]], manifest.permissions, local=local
        )
        provenance["trust.data_access_risk"] = "derived"
    if any(v is not None for v in manifest.community.values()):
        provenance["trust.community"] = "declared"
    provenance.update(verification_provenance(verification))
    updated = _parse_time(a.updated_at, now)
    weights = scoring.weights_for(a.type)
    q, points = quality(manifest)
    components = {
        "adoption": scoring.declared_adoption(a.type, manifest.community, verified=verified),
        "quality": q,
        "ecosystem": scoring.ecosystem(references_in, references_out),
        "match_graph": scoring.match_graph(0, 0),
        "freshness": scoring.freshness(updated, now),
    }
    values = {k: c.value for k, c in components.items()}
    declared_modes = [
        fm.mode + (f" (mitigation: {fm.mitigation})" if fm.mitigation else "")
        for fm in manifest.failure_modes
    ]
    base = public_url.rstrip("/")
    body = {
        "@version": "1.0",
        "version": now.strftime("%Y-%m"),
        "artifact": {
            "id": artifact_id,
            "slug": a.slug,
            "name": a.name,
            "type": a.type,
            "url": manifest.url,
            "page_url": f"{base}/{a.slug}",
            "categories": artifact_categories,
            "tags": list(a.tags),
            "pricing": {
                "model": manifest.pricing_model,
                "free": manifest.pricing_free,
                "starting_price": manifest.starting_price,
            },
            "status": a.status,
            "verified": verified,
        },
        "capabilities": caps,
        "trust": {
            "score": scoring.score(values, weights),
            "verified": verified,
            "data_access_risk": risk,
            "permissions": derive_permissions(caps),
            "failure_modes": derive_failure_modes(
                caps, declared=declared_modes, verified=verified, matches=0
            ),
            "rank_breakdown": {**values, "weights": weights},
            "observed_outcomes": {
                "matches": 0,
                "success_rate": 0,
                "avg_confidence": 0,
                "top_intents": [],
                "last_matched_at": None,
            },
            "maintenance": {
                "status": a.status,
                "updated_at": iso_ms(updated),
                "last_scraped_at": None,  # a builder's own manifest: nothing was scraped
                "last_commit": None,
            },
            "community": manifest.community,
        },
        "distribution": {
            "claim_url": f"{base}/submit?claim={a.slug}",
            "compare_url": f"{base}/compare?artifact={a.slug}",
        },
        "declared": _declared(manifest),
    }
    return Composition(
        body=PassportBody.from_json(body),
        provenance=provenance,
        capability_numbers=numbering,
        explanations={k: c.explanation for k, c in components.items()},
        quality_points=points,
    )


def _declared(manifest: Manifest) -> dict[str, Any]:
    """The manifest's fields the seeds' shape has no key for, carried as declared."""
    a, ex = manifest.artifact, manifest.execution
    return {
        "description": a.description,
        "maintainer": a.maintainer,
        "license": a.license,
        "repository": a.repository,
        "homepage": a.homepage,
        "permissions": list(manifest.permissions),
        "execution": None if ex is None else {
            "protocol": ex.protocol, "auth_method": ex.auth_method, "endpoint": ex.endpoint,
            "command": ex.command, "install": ex.install,
            # The call's facts, only when declared: older passports keep their shape.
            **{k: v for k, v in (("method", ex.method), ("path", ex.path),
                                 ("auth_header", ex.auth_header), ("headers", ex.headers))
               if v},
        },
    }


def rescore(body: Mapping[str, Any]) -> dict[str, Any]:
    """An imported body with ``trust.score`` recomputed from its own components and weights
    (PROTOCOL.md B.5). Everything else is kept as it came."""
    out = dict(body)
    trust = dict(out["trust"])
    breakdown = trust["rank_breakdown"]
    trust["score"] = scoring.score(breakdown, breakdown["weights"])
    out["trust"] = trust
    return out
