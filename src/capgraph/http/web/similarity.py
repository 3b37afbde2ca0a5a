"""Token-overlap similarity: the closest alternatives to an artifact, and capability alignment.

Deliberately simple and explainable (the compare page says how it works):

- a text's *tokens* are its lower-cased words of three or more letters or digits, minus a
  short stop list, each cut to a crude stem (``editing``, ``edits`` and ``edit`` are one
  token; so are ``code`` and ``coding``);
- two token sets are compared by Jaccard overlap, ``|A & B| / |A | B|``;
- two artifacts are compared by ``0.5 x Jaccard(capability categories)
  + 0.5 x Jaccard(capability name tokens)``, so sharing categories matters as much as
  naming similar things;
- capabilities are aligned greedily: every pair is scored by the Jaccard overlap of its
  name and description tokens, and the best remaining pair is taken first, until no pair
  reaches ``ALIGN_THRESHOLD``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "ALIGN_THRESHOLD",
    "Aligned",
    "Candidate",
    "align",
    "artifact_similarity",
    "closest",
    "jaccard",
    "stem",
    "tokens",
]

ALIGN_THRESHOLD = 0.05
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset({
    "and", "are", "for", "from", "into", "its", "not", "that", "the", "this", "with", "without",
    "your", "you", "can", "will", "via", "using", "use", "over", "per", "any", "all", "each",
    "when", "which", "their", "them", "then", "than", "also", "such", "one", "more", "has",
    "have", "was", "were", "been", "but", "only", "other",
})  # fmt: skip

T = TypeVar("T")
U = TypeVar("U")
L = TypeVar("L")
R = TypeVar("R")


def stem(word: str) -> str:
    """A crude suffix cut, enough to make plurals and verb forms meet."""
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def tokens(text: str) -> frozenset[str]:
    """Content words of a text: lower-cased, three or more characters, stop words dropped,
    stemmed."""
    return frozenset(stem(w) for w in _WORD.findall(text.lower())
                     if len(w) > 2 and w not in _STOP)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """``|A & B| / |A | B|``; 0 when both are empty."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 0.0


@dataclass(frozen=True)
class Candidate:
    """What ``closest`` needs to know about an artifact."""

    slug: str
    categories: frozenset[str]
    name_tokens: frozenset[str]


def artifact_similarity(a: Candidate, b: Candidate) -> float:
    """Half category overlap, half capability-name token overlap, in 0..1."""
    return 0.5 * jaccard(a.categories, b.categories) + 0.5 * jaccard(a.name_tokens, b.name_tokens)


def closest(target: Candidate, others: Iterable[Candidate], *, limit: int = 3
            ) -> list[tuple[Candidate, float]]:
    """The ``limit`` most similar other artifacts, best first; ties broken by slug."""
    scored = [(c, artifact_similarity(target, c)) for c in others if c.slug != target.slug]
    scored = [(c, s) for c, s in scored if s > 0]
    scored.sort(key=lambda cs: (-cs[1], cs[0].slug))
    return scored[:limit]


@dataclass(frozen=True)
class Aligned(Generic[L, R]):
    """One row of an alignment: a left item, a right item, or both with their similarity."""

    left: L | None
    right: R | None
    similarity: float


def align(left: Sequence[T], right: Sequence[U], *, left_text: list[str], right_text: list[str],
          threshold: float = ALIGN_THRESHOLD) -> list[Aligned[T, U]]:
    """Greedy best-match alignment of two lists by token Jaccard of their texts.

    Returns the matched pairs (best first), then the unmatched left items, then the
    unmatched right items, each in their original order.
    """
    lt = [tokens(t) for t in left_text]
    rt = [tokens(t) for t in right_text]
    pairs = sorted(
        ((jaccard(lt[i], rt[j]), i, j) for i in range(len(left)) for j in range(len(right))),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    used_l: set[int] = set()
    used_r: set[int] = set()
    rows: list[Aligned[T, U]] = []
    for sim, i, j in pairs:
        if sim < threshold:
            break
        if i in used_l or j in used_r:
            continue
        used_l.add(i)
        used_r.add(j)
        rows.append(Aligned(left[i], right[j], sim))
    rows += [Aligned(left[i], None, 0.0) for i in range(len(left)) if i not in used_l]
    rows += [Aligned(None, right[j], 0.0) for j in range(len(right)) if j not in used_r]
    return rows
