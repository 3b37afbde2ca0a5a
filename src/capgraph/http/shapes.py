"""The API's JSON: every typed result of the registry, shaped for the wire in one place.
The CLI's ``--json`` prints the same shapes."""

from __future__ import annotations

from typing import Any

from capgraph.errors import Finding
from capgraph.ports import ClaimRecord, OwnershipRecord, StoredVersion
from capgraph.registry import (
    FeedbackResult,
    ImportReport,
    PublishResult,
    ValidationReport,
    VerifyReport,
)
from capgraph.search.results import (
    Alternative,
    Answer,
    ArtifactMatch,
    CapabilityMatch,
    Resolution,
    SearchResult,
)

__all__ = [
    "claim_json",
    "compare_json",
    "feedback_json",
    "ownership_json",
    "publish_json",
    "resolution_json",
    "search_json",
    "validation_json",
    "verify_json",
    "version_json",
]


def _findings(findings: list[Finding]) -> list[dict[str, str]]:
    return [f.to_json() for f in findings]


def validation_json(report: ValidationReport) -> dict[str, Any]:
    return {"valid": report.valid, "errors": _findings(report.errors),
            "warnings": _findings(report.warnings)}


def publish_json(result: PublishResult) -> dict[str, Any]:
    return {
        "slug": result.stored.slug,
        "version": result.stored.version,
        "created": result.created,
        "score": result.stored.score,
        "contentHash": result.stored.content_hash,
        "warnings": _findings(result.warnings),
    }


def import_json(report: ImportReport) -> dict[str, Any]:
    """An import's summary and each entry's outcome (docs/IMPORT.md)."""
    return {"format": report.format, "source": report.source, "summary": report.counts(),
            "entries": [e.to_json() for e in report.entries]}


def verify_json(report: VerifyReport) -> dict[str, Any]:
    return {"valid": report.valid, "slug": report.slug, "version": report.version,
            "keyId": report.key_id, "signedAt": report.signed_at, "reasons": report.reasons}


def version_json(stored: StoredVersion, base: str) -> dict[str, Any]:
    return {
        "version": stored.version,
        "createdAt": stored.created_at,
        "contentHash": stored.content_hash,
        "source": stored.source_kind,
        "score": stored.score,
        "keyId": stored.key_id,
        "url": f"{base}/api/v1/artifacts/{stored.slug}/versions/{stored.version}",
    }


def feedback_json(result: FeedbackResult) -> dict[str, Any]:
    return {"accepted": True, "counted": result.counted, "slug": result.slug,
            "capability": result.capability, "outcome": result.outcome,
            "passportVersion": result.passport_version}


def _capability_match(c: CapabilityMatch) -> dict[str, Any]:
    return {"id": c.id, "uri": c.uri, "name": c.name, "matchScore": round(c.match_score, 4)}


def _artifact_match(m: ArtifactMatch) -> dict[str, Any]:
    return {
        "artifact": {"slug": m.slug, "name": m.name, "type": m.type,
                     "unfragileRank": m.unfragile_rank, "verified": m.verified,
                     "description": m.description},
        "matchScore": round(m.match_score, 4),
        "capabilities": [_capability_match(c) for c in m.capabilities],
        "matchRecordId": m.match_record_id,
    }


def search_json(result: SearchResult) -> dict[str, Any]:
    return {"query": result.query, "intent": result.intent,
            "matches": [_artifact_match(m) for m in result.matches]}


def _alternative(alt: Alternative) -> dict[str, Any]:
    return {"slug": alt.slug, "name": alt.name, "capability": alt.capability,
            "why_alternative": alt.why}


def _answer(a: Answer, feedback_url: str) -> dict[str, Any]:
    c = a.capability
    return {
        "artifact": {"name": a.artifact.name, "slug": a.artifact.slug, "type": a.artifact.type,
                     "url": a.artifact.url},
        "capability": {
            "id": c.id, "uri": c.uri, "name": c.name, "intent": c.intent,
            "description": c.description, "whyThisMatches": c.why_this_matches,
            "vsAlternatives": c.vs_alternatives, "bestFor": c.best_for,
            "limitations": c.limitations,
        },
        "invocation": a.invocation.to_json(),
        "trust": a.trust,
        "alternatives": [_alternative(alt) for alt in a.alternatives],
        "matchConfidence": a.match_confidence,
        "lastVerified": a.last_verified,
        "feedbackUrl": feedback_url,
        "callbackToken": a.callback_token,
    }


def resolution_json(result: Resolution, base_url: str) -> dict[str, Any]:
    """The resolve response of PROTOCOL.md A.5; answers link to ``{base_url}/api/feedback``."""
    feedback_url = f"{base_url.rstrip('/')}/api/feedback"
    out: dict[str, Any] = {
        "intent": result.intent,
        "resolved": [_answer(a, feedback_url) for a in result.resolved],
        "resolvedAt": result.resolved_at,
        "resolveId": result.resolve_id,
        "resolverVersion": result.resolver_version,
        "risk": result.risk,
    }
    if not result.confident:
        if result.filtered and not result.alternatives:
            out["message"] = (f"candidates match, but none clears the '{result.risk}' risk "
                              "posture: see filteredByRisk for the gates that removed them")
            out["reason"] = "filtered-by-risk"
        else:
            out["message"] = "no confident match"
            out["reason"] = "low-confidence"
        out["matchConfidence"] = result.match_confidence
        out["alternatives"] = [_alternative(alt) for alt in result.alternatives]
        out["filteredByRisk"] = [
            {"slug": f.slug, "name": f.name, "capability": f.capability,
             "matchScore": round(f.match_score, 4), "gates": f.gates}
            for f in result.filtered
        ]
    return out


def ownership_json(slug: str, record: OwnershipRecord | None) -> dict[str, Any]:
    """Who owns an artifact (``owner`` null: nobody yet, it can be claimed)."""
    return {
        "slug": slug,
        "owner": record.owner if record else None,
        "maintainers": list(record.maintainers) if record else [],
        "verified": bool(record and record.verification),
        "verification": record.verification if record else None,
        "updatedAt": record.updated_at if record else None,
    }


def claim_json(claim: ClaimRecord, instructions: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "claimId": claim.claim_id,
        "kind": claim.kind,
        "subject": claim.subject,
        "method": claim.method,
        "token": claim.token,
        "status": claim.status,
        "expiresAt": claim.expires_at,
    }
    if instructions is not None:
        out["instructions"] = instructions
    return out


def compare_json(sides: list[tuple[StoredVersion, dict[str, Any]]], base: str
                 ) -> dict[str, Any]:
    """Artifacts side by side: each one's score components (``score_breakdown``) and
    capabilities, and per component the slug that contributes most (or ``tie``)."""
    artifacts: list[dict[str, Any]] = []
    for stored, breakdown in sides:
        body = stored.body()
        artifacts.append({
            "slug": stored.slug, "name": stored.name, "type": stored.artifact_type,
            "unfragileRank": stored.score, "version": stored.version,
            "verified": bool(body.get("trust", {}).get("verified")),
            "capabilities": [c.get("name") for c in body.get("capabilities", [])],
            "components": {name: {k: c[k] for k in ("value", "weight", "contribution")}
                           for name, c in breakdown["components"].items()},
            "passport": f"{base}/api/v1/passport/{stored.slug}",
        })
    leaders: dict[str, str] = {}
    for name in artifacts[0]["components"] if artifacts else ():
        points = [(a["components"][name]["contribution"], a["slug"]) for a in artifacts]
        best = max(points)[0]
        top = [slug for value, slug in points if value == best]
        leaders[name] = top[0] if len(top) == 1 else "tie"
    return {"artifacts": artifacts, "leaders": leaders}
