"""Why an artifact has the UnfragileRank it has: each component's value, weight, contribution
and a sentence on how the value was reached, rebuilt from what the version stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capgraph.core import scoring
from capgraph.core.manifest import Manifest
from capgraph.core.passport import COMPONENTS
from capgraph.core.quality import quality

__all__ = ["explain_score"]


def explain_score(body: Mapping[str, Any], *, manifest: Manifest | None,
                  imported_from: str | None = None) -> dict[str, Any]:
    """The score breakdown of a passport body. ``manifest`` is the published manifest the
    body came from (None for imports, whose components are kept as they came)."""
    trust = body["trust"]
    breakdown = trust["rank_breakdown"]
    weights = breakdown["weights"]
    outcomes = trust["observed_outcomes"]
    reasons: dict[str, str] = {}
    points: dict[str, float] = {}
    if manifest is None:
        kept = f"kept as imported from {imported_from or 'another registry'} (PROTOCOL.md B.5)"
        reasons = dict.fromkeys(COMPONENTS, kept)
    else:
        q, points = quality(manifest)
        # Declared counts count only for a verified builder (PROTOCOL.md B.13).
        reasons["adoption"] = scoring.declared_adoption(
            manifest.artifact.type, manifest.community, verified=bool(trust["verified"])
        ).explanation
        reasons["quality"] = q.explanation
        reasons["ecosystem"] = ("integration references in the registry as counted when this "
                                "version was issued; a partner's arrival re-issues it")
        reasons["freshness"] = (f"last updated {trust['maintenance']['updated_at']}; half-life "
                                f"{scoring.FRESHNESS_HALF_LIFE_DAYS:.0f} days, at issue time")
    if manifest is not None or outcomes["matches"]:  # imported values stand until reports
        successes = round(outcomes["success_rate"] * outcomes["matches"])
        reasons["match_graph"] = scoring.match_graph(successes, outcomes["matches"]).explanation
    components = {
        name: {
            "value": breakdown[name],
            "weight": weights[name],
            "contribution": round(100 * weights[name] * breakdown[name], 2),
            "formula": scoring.COMPONENT_FORMULAS[name],
            "explanation": reasons[name],
        }
        for name in COMPONENTS
    }
    out: dict[str, Any] = {
        "score": trust["score"],
        "formula": "round_half_up(100 x sum(weight x component))",
        "components": components,
    }
    if points:
        out["qualityChecklist"] = points
    return out
