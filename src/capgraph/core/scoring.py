"""UnfragileRank: five components in 0..1, a weight table per artifact type, and the score.

Every formula here is published on the methodology page, which renders ``WEIGHTS``,
``COMPONENT_FORMULAS`` and ``ADOPTION_SCALES`` from this module, so the page and the scorer
cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from capgraph.core.passport import COMPONENTS

__all__ = [
    "ADOPTION_PRIOR_RULE",
    "ADOPTION_PRIOR_WEIGHT",
    "ADOPTION_SCALES",
    "COMPONENT_FORMULAS",
    "CONFIDENCE_PRIOR",
    "DEFAULT_WEIGHTS",
    "FRESHNESS_HALF_LIFE_DAYS",
    "MATCH_GRAPH_PRIOR",
    "NOT_COUNTED",
    "WEIGHTS",
    "Component",
    "adoption",
    "adoption_prior",
    "capability_confidence",
    "declared_adoption",
    "ecosystem",
    "freshness",
    "match_graph",
    "round_half_up",
    "score",
    "weights_for",
]

# PROTOCOL.md B.4: used for any type without a table of its own.
DEFAULT_WEIGHTS: dict[str, float] = {
    "adoption": 0.25, "quality": 0.25, "ecosystem": 0.10, "match_graph": 0.25, "freshness": 0.15,
}  # fmt: skip

# Per-type tables. ``model`` is the table observed in the seed passports. For the others the
# reasoning is: hosted services (api, mcp, agent) are judged mostly by whether they work when
# called (match_graph); code people build on (framework, repo, cli) by adoption and upkeep;
# data (dataset, benchmark) by adoption and documentation quality, rarely by call outcomes.
WEIGHTS: dict[str, dict[str, float]] = {
    "model": {"adoption": 0.35, "quality": 0.20, "ecosystem": 0.10, "match_graph": 0.30,
              "freshness": 0.05},
    "api": {"adoption": 0.20, "quality": 0.25, "ecosystem": 0.10, "match_graph": 0.35,
            "freshness": 0.10},
    "mcp": {"adoption": 0.20, "quality": 0.30, "ecosystem": 0.10, "match_graph": 0.30,
            "freshness": 0.10},
    "agent": {"adoption": 0.20, "quality": 0.25, "ecosystem": 0.10, "match_graph": 0.35,
              "freshness": 0.10},
    "framework": {"adoption": 0.30, "quality": 0.25, "ecosystem": 0.15, "match_graph": 0.15,
                  "freshness": 0.15},
    "repo": {"adoption": 0.30, "quality": 0.25, "ecosystem": 0.15, "match_graph": 0.15,
             "freshness": 0.15},
    "cli": {"adoption": 0.30, "quality": 0.25, "ecosystem": 0.10, "match_graph": 0.20,
            "freshness": 0.15},
    "dataset": {"adoption": 0.35, "quality": 0.35, "ecosystem": 0.15, "match_graph": 0.05,
                "freshness": 0.10},
    "benchmark": {"adoption": 0.35, "quality": 0.35, "ecosystem": 0.15, "match_graph": 0.05,
                  "freshness": 0.10},
}

# Adoption: the count that earns full marks on each signal, per type (log scale below it).
ADOPTION_SCALES: dict[str, dict[str, int]] = {
    "default": {"stars": 50_000, "forks": 10_000, "weekly_downloads": 5_000_000,
                "model_downloads": 10_000_000, "model_likes": 10_000},
    "model": {"stars": 50_000, "forks": 10_000, "weekly_downloads": 5_000_000,
              "model_downloads": 50_000_000, "model_likes": 10_000},
    "mcp": {"stars": 20_000, "forks": 3_000, "weekly_downloads": 500_000,
            "model_downloads": 1, "model_likes": 1},
    "dataset": {"stars": 10_000, "forks": 2_000, "weekly_downloads": 1_000_000,
                "model_downloads": 5_000_000, "model_likes": 5_000},
}
ADOPTION_FLOOR = 0.05  # what an artifact with no adoption signal at all gets (as the seeds)
# Why a publisher's own counts did not count (PROTOCOL.md B.13, docs/TRUST.md).
NOT_COUNTED = "declared by an unverified builder: not counted until verified"
# Ranking's adoption prior (docs/RESOLVE.md): at most this much is added to an artifact's
# rank score (relevance is ~0..1), in proportion to ``adoption_prior``. Small enough that it
# reorders near-ties only and never a clearly better text match.
ADOPTION_PRIOR_WEIGHT = 0.03
ADOPTION_PRIOR_RULE = (
    "rank score + {weight} x max over the sourced signals s of min(1, ln(1 + s) / ln(1 + S)) "
    "(S as for adoption). Sourced: counts an importer read from their source (provenance "
    "trust.community 'sourced: ...'), or counts a verified builder declared. An unverified "
    "builder's counts, and counts carried by a passport imported from another registry, "
    "add nothing."
)
ECOSYSTEM_FULL = 50  # references that earn full ecosystem marks
FRESHNESS_HALF_LIFE_DAYS = 180.0
MATCH_GRAPH_PRIOR = (1.0, 3.0)  # Beta(a, b) pseudo-counts: 0.25 with no outcomes
CONFIDENCE_PRIOR = (1.0, 1.0)  # Beta(1, 1): capability confidence 0.5 with no outcomes

COMPONENT_FORMULAS: dict[str, str] = {
    "adoption": (
        "0.05 + 0.95 x max over the counted signals s of min(1, ln(1 + s) / ln(1 + S)), where S "
        "is the per-type count that earns full marks (ADOPTION_SCALES); 0.05 with no counted "
        "signal. Counts a publisher declares in its manifest are counted only once the builder "
        "is verified; until then adoption is 0.05, as if none were declared."
    ),
    "quality": (
        "(checklist points out of 70 + coherence points out of 30) / 100: description depth 20, "
        "field completeness 20, provenance 15, link form 5, artifact blocks 10; intents agreeing "
        "with descriptions 15, distinct capabilities 10, declared categories agreeing with the "
        "text 5."
    ),
    "ecosystem": (
        "min(1, ln(1 + r_in + 0.5 x r_out) / ln(1 + 50)), where r_in counts registry artifacts "
        "that name this one as an integration and r_out the integrations it names that are in "
        "the registry. When an artifact arrives or changes, every artifact whose r_in or r_out "
        "it changes is re-issued at once as a new, logged version with the new value, so the "
        "order artifacts arrived in never changes a score."
    ),
    "match_graph": (
        "(1 + successes) / (4 + reports): the mean of a Beta(1, 3) prior updated by observed "
        "outcomes; 0.25 with no outcomes."
    ),
    "freshness": "0.5 ^ (days since the last update / 180).",
}


@dataclass(frozen=True)
class Component:
    """One component's value and a sentence saying how it was reached."""

    name: str
    value: float
    explanation: str


def weights_for(artifact_type: str) -> dict[str, float]:
    """The weight table of a type (``DEFAULT_WEIGHTS`` when the type has none)."""
    return dict(WEIGHTS.get(artifact_type, DEFAULT_WEIGHTS))


def round_half_up(x: float) -> float:
    """Two decimals, half up (0.125 -> 0.13), as every published component is rounded."""
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def score(components: Mapping[str, float], weights: Mapping[str, float]) -> int:
    """100 x sum(weight x component), rounded half up (PROTOCOL.md B.4).

    Decimal arithmetic on the printed values, so 0.252 gives 25 and 0.125 gives 13 exactly as
    the published numbers say, whatever binary floating point would make of them.
    """
    total = Decimal(0)
    for c in COMPONENTS:
        total += Decimal(repr(float(weights[c]))) * Decimal(repr(float(components[c])))
    return int((total * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def adoption(artifact_type: str, signals: Mapping[str, int | None]) -> Component:
    """Adoption from community counts, log-normalised against the type's scale."""
    scales = ADOPTION_SCALES.get(artifact_type, ADOPTION_SCALES["default"])
    parts = _shares(artifact_type, signals)
    if not parts:
        return Component("adoption", ADOPTION_FLOOR, "no adoption signal is known: the floor")
    best = max(parts, key=lambda k: parts[k])
    value = round_half_up(ADOPTION_FLOOR + (1 - ADOPTION_FLOOR) * parts[best])
    why = f"strongest signal {best}={signals[best]} of {scales[best]} for full marks"
    return Component("adoption", value, why)


def adoption_prior(body: Mapping[str, Any], provenance: Mapping[str, str] | None) -> float:
    """The share (0..1) of ``ADOPTION_PRIOR_WEIGHT`` an artifact's sourced adoption earns in
    ranking: its strongest counted signal, log-normalised against its type's scale.

    Counted only when the counts in ``trust.community`` are sourced: an importer read them
    from their source (provenance ``trust.community`` starts with ``sourced``), or a verified
    builder declared them (``declared`` and the passport is verified). Anything else (an
    unverified builder's own numbers, a passport imported as it was signed elsewhere, no
    provenance at all) is 0: self-declared numbers never move ranking.
    """
    trust = body.get("trust") or {}
    origin = (provenance or {}).get("trust.community", "")
    if not (origin.startswith("sourced") or (origin == "declared" and trust.get("verified"))):
        return 0.0
    parts = _shares(str(body.get("artifact", {}).get("type")), trust.get("community") or {})
    return round(max(parts.values(), default=0.0), 4)


def _shares(artifact_type: str, signals: Mapping[str, Any]) -> dict[str, float]:
    """Each positive count's ``min(1, ln(1 + s) / ln(1 + S))`` against the type's scale."""
    scales = ADOPTION_SCALES.get(artifact_type, ADOPTION_SCALES["default"])
    return {name: min(1.0, math.log1p(count) / math.log1p(scales[name]))
            for name, count in signals.items()
            if name in scales and isinstance(count, int) and not isinstance(count, bool)
            and count > 0}


def declared_adoption(artifact_type: str, declared: Mapping[str, int | None], *,
                      verified: bool) -> Component:
    """Adoption from counts the publisher declared (a manifest's ``community``).

    The rule (PROTOCOL.md B.13): a verified builder's declared counts are scored by
    ``adoption``; an unverified builder's are not counted at all, so adoption is what no
    signal gives (``ADOPTION_FLOOR``), exactly as if the manifest declared none. Declaring
    numbers can then neither raise nor lower an unverified artifact's score.
    """
    if verified:
        counted = adoption(artifact_type, declared)
        if any(v is not None for v in declared.values()):
            return Component("adoption", counted.value,
                             f"{counted.explanation} (declared by the verified builder)")
        return counted
    floor = adoption(artifact_type, {})
    shown = ", ".join(f"{k}={v}" for k, v in declared.items() if v is not None)
    if not shown:
        return floor
    return Component("adoption", floor.value,
                     f"{NOT_COUNTED} ({shown}); with no counted signal: the floor")


def ecosystem(references_in: int, references_out: int) -> Component:
    """Ecosystem presence from integration references inside the registry."""
    raw = math.log1p(references_in + 0.5 * references_out) / math.log1p(ECOSYSTEM_FULL)
    return Component(
        "ecosystem",
        round_half_up(min(1.0, raw)),
        f"{references_in} artifact(s) name it as an integration; it names {references_out}",
    )


def match_graph(successes: int, reports: int) -> Component:
    """Posterior mean of the success probability under the Beta(1, 3) prior."""
    a, b = MATCH_GRAPH_PRIOR
    value = (a + successes) / (a + b + reports)
    why = f"{successes} success(es) in {reports} reported outcome(s)"
    return Component("match_graph", round_half_up(value), why)


def capability_confidence(successes: int, reports: int) -> float:
    """A capability's confidence: posterior mean under Beta(1, 1); 0.5 with no outcomes."""
    a, b = CONFIDENCE_PRIOR
    return round_half_up((a + successes) / (a + b + reports))


def freshness(updated_at: datetime, now: datetime) -> Component:
    """Exponential decay of the time since the artifact's last update."""
    days = max(0.0, (now - updated_at).total_seconds() / 86400)
    value = round_half_up(0.5 ** (days / FRESHNESS_HALF_LIFE_DAYS))
    return Component("freshness", value, f"last updated {days:.0f} day(s) ago")
