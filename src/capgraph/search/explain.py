"""Why a capability matched an intent, and how it compares with the runner-up: plain
sentences built from the words they share, never from anything that was not matched."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from capgraph.search.documents import query_terms
from capgraph.search.results import match_score

__all__ = ["coverage", "matched_terms", "vs_alternative", "why_this_matches"]

_WORD = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    """A crude stem (first five letters) so that 'invoices' meets 'invoice'."""
    return word[:5] if len(word) > 5 else word


def matched_terms(terms: Sequence[str], text: str) -> list[str]:
    """The query terms that occur (by stem) in a text, in query order."""
    stems = {_stem(w) for w in _WORD.findall(text.lower())}
    return [t for t in terms if _stem(t) in stems]


def _capability_text(cap: Mapping[str, Any]) -> str:
    return " ".join([cap["name"], cap["description"], *cap["intents"], *cap["best_for"],
                     *cap["input_types"], *cap["output_types"]])


def coverage(intent: str, cap: Mapping[str, Any]) -> float:
    """The share of the intent's content words that the capability's text contains."""
    terms = query_terms(intent)
    if not terms:
        return 0.0
    return len(matched_terms(terms, _capability_text(cap))) / len(terms)


def why_this_matches(intent: str, cap: Mapping[str, Any]) -> list[str]:
    """Sentences naming which words of the intent each part of the capability contains."""
    terms = query_terms(intent)
    reasons = []
    for label, texts in (("name", [cap["name"]]), ("intents", cap["intents"]),
                         ("best for", cap["best_for"]), ("description", [cap["description"]]),
                         ("inputs and outputs", [*cap["input_types"], *cap["output_types"]])):
        best_text, best = "", list[str]()
        for text in texts:
            found = matched_terms(terms, text)
            if len(found) > len(best):
                best_text, best = text, found
        if best:
            quoted = best_text if len(best_text) <= 120 else best_text[:117] + "..."
            reasons.append(f"{label} shares {', '.join(repr(t) for t in best)}: \"{quoted}\"")
    missing = [t for t in terms if t not in matched_terms(terms, _capability_text(cap))]
    if missing:
        reasons.append(f"not mentioned: {', '.join(repr(t) for t in missing)}")
    return reasons


def vs_alternative(top_name: str, top_score: float, top_rank: int,
                   alt_name: str | None, alt_score: float, alt_rank: int, *,
                   top_adoption: float = 0.0, alt_adoption: float = 0.0) -> str:
    """One sentence on why the top answer beats the runner-up. ``*_adoption``: the rank
    score each gains from sourced adoption (``scoring.adoption_prior`` x its weight)."""
    if alt_name is None:
        return "no other capability in the registry matches this intent"
    parts = [f"match {match_score(top_score):.2f} vs {match_score(alt_score):.2f}"]
    if top_rank != alt_rank:
        side = "higher" if top_rank > alt_rank else "lower"
        parts.append(f"{side} UnfragileRank ({top_rank} vs {alt_rank})")
    if round(top_adoption, 3) != round(alt_adoption, 3):
        side = "more" if top_adoption > alt_adoption else "less"
        parts.append(f"{side} sourced adoption (prior +{top_adoption:.3f} vs "
                     f"+{alt_adoption:.3f})")
    return f"{top_name} ranks above {alt_name}: " + "; ".join(parts)
