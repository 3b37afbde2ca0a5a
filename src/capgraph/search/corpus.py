"""Evaluation corpora (../shared/eval format) turned into passport bodies, and IR metrics."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from capgraph.core.compose import capability_uri, derive_failure_modes, derive_permissions
from capgraph.core.scoring import weights_for
from capgraph.core.taxonomy import ARTIFACT_TYPES, infer_capability_categories

__all__ = ["body_from_entry", "ece", "metrics_at"]

_SLUG = re.compile(r"[^a-z0-9._-]+")


def _texts(cap: Mapping[str, Any], key: str) -> list[str]:
    return [str(v) for v in cap.get(key) or []]


def body_from_entry(entry: Mapping[str, Any], *, version: str) -> dict[str, Any]:
    """A passport body for one corpus line, with neutral trust components (no evidence).
    Every capability field a publish keeps and indexes (best-for, limitations, requires,
    input and output types) is kept when the line has it, so ``capgraph eval`` indexes what
    a publish would: the registry's one builder of indexed text (``documents_for``) reads
    this body exactly as it reads a published one."""
    slug = _SLUG.sub("-", str(entry["slug"]).lower()).strip("-._") or "artifact"
    kind = entry.get("type") if entry.get("type") in ARTIFACT_TYPES else "api"
    caps: list[dict[str, Any]] = []
    for n, cap in enumerate(entry.get("capabilities") or []):
        name = str(cap.get("name") or entry["name"])
        description = str(cap.get("description") or entry.get("description") or name)
        intents = _texts(cap, "intents")
        categories = infer_capability_categories(name, description, intents)
        caps.append({
            "id": f"{slug}__cap_{n}", "uri": capability_uri(categories[0], name), "name": name,
            "description": description, "intents": intents,
            "best_for": _texts(cap, "best_for"), "limitations": _texts(cap, "limitations"),
            "requires": _texts(cap, "requires"), "input_types": _texts(cap, "input_types"),
            "output_types": _texts(cap, "output_types"),
            "categories": categories, "confidence": 0.5, "matches": 0, "success_rate": 0,
        })
    caps.sort(key=lambda c: c["id"])
    weights = weights_for(str(kind))
    return {
        "@version": "1.0", "version": version,
        "artifact": {
            "id": slug, "slug": slug, "name": str(entry["name"]), "type": kind,
            "url": str(entry.get("url") or ""), "page_url": "", "categories":
            [str(c) for c in entry.get("categories") or []],
            "tags": [str(t) for t in entry.get("tags") or []],
            "pricing": {"model": "unknown", "free": False, "starting_price": None},
            "status": "active", "verified": False,
        },
        "capabilities": caps,
        "trust": {
            "score": 0, "verified": False, "data_access_risk": "low",
            "permissions": derive_permissions(caps),
            "failure_modes": derive_failure_modes(caps, verified=False, matches=0),
            "rank_breakdown": {"adoption": 0.05, "quality": 0.5, "ecosystem": 0,
                               "match_graph": 0.25, "freshness": 0.5, "weights": weights},
            "observed_outcomes": {"matches": 0, "success_rate": 0, "avg_confidence": 0,
                                  "top_intents": [], "last_matched_at": None},
            "maintenance": {"status": "active", "updated_at": None, "last_scraped_at": None,
                            "last_commit": None},
            "community": {"stars": None, "forks": None, "weekly_downloads": None,
                          "model_downloads": None, "model_likes": None},
        },
        "distribution": {"claim_url": "", "compare_url": ""},
    }


def metrics_at(ranked: Sequence[str], relevant: set[str]) -> dict[str, float]:
    """Recall@1, Recall@5, MRR@10 and nDCG@10 (binary gains) of one ranked list."""
    if not relevant:
        return {"recall@1": 0.0, "recall@5": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}
    top = list(ranked[:10])
    rr = next((1 / (i + 1) for i, s in enumerate(top) if s in relevant), 0.0)
    dcg = sum(1 / math.log2(i + 2) for i, s in enumerate(top) if s in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return {
        "recall@1": len(relevant.intersection(ranked[:1])) / len(relevant),
        "recall@5": len(relevant.intersection(ranked[:5])) / len(relevant),
        "mrr@10": rr,
        "ndcg@10": dcg / ideal,
    }


def ece(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error with equal-width bins."""
    n = len(confidences)
    if n == 0:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences)
               if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if idx:
            acc = sum(correct[i] for i in idx) / len(idx)
            conf = sum(confidences[i] for i in idx) / len(idx)
            total += len(idx) / n * abs(acc - conf)
    return total
