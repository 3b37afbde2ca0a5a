"""Observed outcomes: how reported successes and failures change a passport body.

Evidence is counted per capability. With ``s`` successes in ``n`` counted reports:

- capability ``confidence`` = (1 + s) / (2 + n), the Beta(1, 1) posterior mean (0.5 at n = 0);
- capability ``success_rate`` = s / n (0 at n = 0), ``matches`` = n: the sample size is always
  shown beside the rate, so 2 reports never read like 2,000;
- the artifact's ``match_graph`` component = (1 + S) / (4 + N) over all its capabilities, the
  Beta(1, 3) posterior mean (0.25 at N = 0, the seeds' neutral value);
- ``observed_outcomes``: N, S / N, the mean confidence of the reported resolves, the most
  reported intents, and the time of the last report;
- the registry note "no observed match outcomes yet" goes once N > 0.

What counts is decided before this module (``feedback.py``): one report per resolve or search
match, and at most ``PER_CLIENT_CAP`` reports per client per artifact per day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from capgraph.core import scoring
from capgraph.core.compose import NOTE_NO_OUTCOMES

__all__ = ["CapabilityOutcomes", "Outcomes", "apply_outcomes"]


@dataclass(frozen=True)
class CapabilityOutcomes:
    successes: int = 0
    reports: int = 0


@dataclass(frozen=True)
class Outcomes:
    """Everything the registry has counted for one artifact."""

    capabilities: dict[str, CapabilityOutcomes] = field(default_factory=dict)
    avg_confidence: float = 0.0
    top_intents: list[str] = field(default_factory=list)
    last_matched_at: str | None = None

    @property
    def reports(self) -> int:
        return sum(c.reports for c in self.capabilities.values())

    @property
    def successes(self) -> int:
        return sum(c.successes for c in self.capabilities.values())

    def key(self) -> tuple[Any, ...]:
        """What distinguishes one state of evidence from another."""
        return (tuple(sorted((k, v.successes, v.reports) for k, v in self.capabilities.items())),
                round(self.avg_confidence, 4), tuple(self.top_intents), self.last_matched_at)


def apply_outcomes(body: Mapping[str, Any], outcomes: Outcomes) -> dict[str, Any]:
    """A copy of a passport body with its outcome fields, match_graph and score updated."""
    out = dict(body)
    caps = []
    for cap in body["capabilities"]:
        seen = outcomes.capabilities.get(cap["id"], CapabilityOutcomes())
        caps.append({
            **cap,
            "confidence": scoring.capability_confidence(seen.successes, seen.reports),
            "matches": seen.reports,
            "success_rate": scoring.round_half_up(seen.successes / seen.reports)
            if seen.reports else 0,
        })
    out["capabilities"] = caps
    trust = dict(body["trust"])
    reports, successes = outcomes.reports, outcomes.successes
    breakdown = dict(trust["rank_breakdown"])
    breakdown["match_graph"] = scoring.match_graph(successes, reports).value
    trust["rank_breakdown"] = breakdown
    trust["score"] = scoring.score(breakdown, breakdown["weights"])
    trust["observed_outcomes"] = {
        "matches": reports,
        "success_rate": scoring.round_half_up(successes / reports) if reports else 0,
        "avg_confidence": scoring.round_half_up(outcomes.avg_confidence) if reports else 0,
        "top_intents": list(outcomes.top_intents),
        "last_matched_at": outcomes.last_matched_at,
    }
    modes = [m for m in trust["failure_modes"] if m != NOTE_NO_OUTCOMES]
    if reports == 0:
        modes.append(NOTE_NO_OUTCOMES)
    trust["failure_modes"] = modes
    out["trust"] = trust
    return out
