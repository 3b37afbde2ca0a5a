"""The quality component: a 70-point checklist and a 30-point coherence check of a manifest.

Link health is judged by form only (https, well-formed): capgraph does not reach the network
while scoring, so a dead link is not detected here.
"""

from __future__ import annotations

from itertools import combinations

from capgraph.core.manifest import Manifest
from capgraph.core.scoring import Component, round_half_up
from capgraph.core.taxonomy import infer_capability_categories, words

__all__ = ["CHECKLIST", "quality"]

CHECKLIST: dict[str, int] = {
    "description depth": 20,
    "field completeness": 20,
    "provenance": 15,
    "link form": 5,
    "artifact blocks": 10,
    "intents agree with descriptions": 15,
    "distinct capabilities": 10,
    "declared categories agree with the text": 5,
}
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
    "its", "of", "on", "or", "that", "the", "this", "to", "with", "without", "your", "you",
    "can", "will", "via", "using", "use",
})  # fmt: skip


def _content(text: str) -> set[str]:
    return {w for w in words(text) if w not in _STOP and len(w) > 2}


def quality(manifest: Manifest) -> tuple[Component, dict[str, float]]:
    """Quality in 0..1 and the points earned on each checklist line."""
    caps = manifest.capabilities
    n = len(caps)
    points: dict[str, float] = {}
    points["description depth"] = 20 * sum(min(1.0, len(c.description) / 300) for c in caps) / n
    fields = [
        (len(c.intents) >= 2, bool(c.best_for), bool(c.limitations), bool(c.requires),
         bool(c.input_types), bool(c.output_types))
        for c in caps
    ]
    points["field completeness"] = 20 * sum(sum(f) / len(f) for f in fields) / n
    a = manifest.artifact
    points["provenance"] = (3 * bool(a.maintainer) + 4 * bool(a.license)
                            + 4 * bool(a.repository) + 4 * bool(a.homepage))
    urls = [u for u in (a.repository, a.homepage) if u]
    points["link form"] = 5 * sum(u.startswith("https://") for u in urls) / len(urls) if urls else 0
    points["artifact blocks"] = (4 * bool(manifest.failure_modes) + 3 * bool(manifest.execution)
                                 + 3 * (n >= 3))
    agree = []
    for c in caps:
        described = _content(c.name + " " + c.description)
        intent_words = _content(" ".join(c.intents))
        overlap = len(intent_words & described) / len(intent_words) if intent_words else 0.0
        agree.append(min(1.0, overlap / 0.4))
    points["intents agree with descriptions"] = 15 * sum(agree) / n
    if n > 1:
        texts = [_content(c.name + " " + c.description) for c in caps]
        worst = max(len(x & y) / len(x | y) if x | y else 1.0 for x, y in combinations(texts, 2))
        points["distinct capabilities"] = 10 * min(1.0, (1 - worst) / 0.5)
    else:
        points["distinct capabilities"] = 10.0
    declared = [c for c in caps if c.categories]
    if declared:
        hits = sum(
            c.categories[0] in infer_capability_categories(c.name, c.description, c.intents)
            for c in declared
        )
        points["declared categories agree with the text"] = 5 * hits / len(declared)
    else:
        points["declared categories agree with the text"] = 5.0
    total = sum(points.values())
    value = round_half_up(total / 100)
    weakest = min(points, key=lambda k: points[k] / CHECKLIST[k])
    explanation = f"{total:.0f}/100 checklist and coherence points; weakest: {weakest}"
    return Component("quality", value, explanation), {k: round(v, 1) for k, v in points.items()}
