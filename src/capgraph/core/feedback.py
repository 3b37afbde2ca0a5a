"""What a report of an outcome is allowed to count for, and how reports add up.

Rules (each one a test):
- a resolve's callback token is checked (HMAC, bound to resolveId and slug, expiry) and a
  resolve entry or a search match can be reported once: a replay is refused, never counted;
- one client (an API key, or a salted hash of the address) counts for at most
  ``PER_CLIENT_CAP`` reports per artifact per ``CAP_WINDOW``: beyond that its reports are
  stored but not counted, which bounds how far one client can move an artifact (see
  ``max_rank_shift``);
- comments are at most ``COMMENT_MAX`` characters.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from capgraph.core.outcomes import CapabilityOutcomes, Outcomes
from capgraph.core.scoring import MATCH_GRAPH_PRIOR, WEIGHTS

__all__ = [
    "CAP_WINDOW",
    "COMMENT_MAX",
    "MIN_INTENT_REPORTS",
    "OUTCOMES",
    "PER_CLIENT_CAP",
    "aggregate",
    "max_rank_shift",
    "normalise_intent",
]

OUTCOMES = ("success", "failure")
COMMENT_MAX = 500
PER_CLIENT_CAP = 3
CAP_WINDOW = timedelta(days=1)
TOP_INTENTS = 5
# An intent is published in a passport's signed top_intents (and so in the append-only log)
# only in its normalised form and once this many counted reports carry it: more than one
# client's daily cap (PER_CLIENT_CAP), so no single requester's words are published in a day.
MIN_INTENT_REPORTS = 2 * PER_CLIENT_CAP
_SPACE = re.compile(r"\s+")
_EDGE = re.compile(r"^[^\w]+|[^\w]+$")


def normalise_intent(text: str) -> str:
    """Lower case, one space between words, no punctuation at either end."""
    return _EDGE.sub("", _SPACE.sub(" ", text.casefold()).strip())


def aggregate(rows: Sequence[tuple[str, str, str, float, str]]) -> Outcomes:
    """Counted reports (capability id, outcome, intent, confidence, time) -> Outcomes."""
    per_cap: dict[str, list[int]] = {}
    intents: Counter[str] = Counter()
    for cap_id, outcome, intent, _, _ in rows:
        tally = per_cap.setdefault(cap_id, [0, 0])
        tally[0] += outcome == "success"
        tally[1] += 1
        if intent and (plain := normalise_intent(intent)):
            intents[plain] += 1
    confidences = [row[3] for row in rows]
    return Outcomes(
        capabilities={k: CapabilityOutcomes(successes=v[0], reports=v[1])
                      for k, v in per_cap.items()},
        avg_confidence=sum(confidences) / len(confidences) if confidences else 0.0,
        top_intents=[i for i, n in sorted(intents.items(), key=lambda kv: (-kv[1], kv[0]))
                     if n >= MIN_INTENT_REPORTS][:TOP_INTENTS],
        last_matched_at=max((row[4] for row in rows), default=None),
    )


def max_rank_shift(artifact_type: str, *, prior_reports: int = 0, prior_successes: int = 0
                   ) -> float:
    """The most one client can move an artifact's UnfragileRank within one cap window, in
    points: PER_CLIENT_CAP extra successes on top of the evidence already counted.

    The served score is an integer and match_graph is published rounded to 0.01, so the
    bound adds both roundings (up to 0.01 on the component, then up to the next whole point):
    without them one client could move a score one point further than this promises."""
    a, b = MATCH_GRAPH_PRIOR
    weight = WEIGHTS.get(artifact_type, {}).get("match_graph", 0.25)
    before = (a + prior_successes) / (a + b + prior_reports)
    after = (a + prior_successes + PER_CLIENT_CAP) / (a + b + prior_reports + PER_CLIENT_CAP)
    return float(math.ceil(100 * weight * (after - before + 0.01) - 1e-9))
