"""Similarity for the compare pages: the closest alternatives to an artifact, and capability
alignment.

With the search engine's embedding model (the normal case), both use its vectors:

- capabilities are aligned by the cosine of their own texts (name and description) embedded
  by the search engine's model; pairs are taken greedily, the best remaining pair first, each
  capability at most once, until no pair reaches ``EMBED_ALIGN_THRESHOLD``;
- the closest alternatives to an artifact are scored by the vectors the search index holds
  for capabilities: for each of its capabilities, the best cosine with any capability of the
  other artifact, averaged over its capabilities (how much of what it does the other does).

A registry without an embedding model falls back to token overlap, deliberately simple:

- a text's *tokens* are its lower-cased words of three or more letters or digits, minus a
  short stop list, each cut to a crude stem (``editing``, ``edits`` and ``edit`` are one
  token; so are ``code`` and ``coding``);
- two token sets are compared by Jaccard overlap, ``|A & B| / |A | B|``;
- two artifacts are compared by ``0.5 x Jaccard(capability categories)
  + 0.5 x Jaccard(capability name tokens)``, so sharing categories matters as much as
  naming similar things;
- capabilities are aligned greedily as above, every pair scored by the Jaccard overlap of
  its name and description tokens, until no pair reaches ``ALIGN_THRESHOLD``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

__all__ = [
    "ALIGN_THRESHOLD",
    "EMBED_ALIGN_THRESHOLD",
    "Aligned",
    "Candidate",
    "CapabilitySpace",
    "align",
    "align_vectors",
    "artifact_similarity",
    "closest",
    "jaccard",
    "stem",
    "tokens",
]

ALIGN_THRESHOLD = 0.05
# Cosine of two capability texts under the search model: unrelated capabilities of the demo
# corpus (document conversion vs speech transcription) reach 0.38 at most, matching ones
# (table structure recognition vs table recognition) 0.7 to 0.8.
EMBED_ALIGN_THRESHOLD = 0.45
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


class CapabilitySpace:
    """Every artifact's capability vectors (unit rows) in one matrix, to rank alternatives."""

    def __init__(self, vectors: Mapping[str, np.ndarray]) -> None:
        self.slugs = sorted(s for s, m in vectors.items() if len(m))
        self._rows = {s: np.asarray(vectors[s], dtype=np.float32) for s in self.slugs}
        sizes = [len(self._rows[s]) for s in self.slugs]
        self._starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        self._matrix = (np.concatenate([self._rows[s] for s in self.slugs]) if self.slugs
                        else np.zeros((0, 1), dtype=np.float32))

    def __bool__(self) -> bool:
        return bool(self.slugs)

    def closest(self, target: str, *, limit: int = 3) -> list[tuple[str, float]]:
        """The ``limit`` artifacts most like ``target``, best first (ties by slug): each
        scored by the mean, over ``target``'s capabilities, of the best cosine with any of
        its own capabilities (how much of what ``target`` does it also does)."""
        mine = self._rows.get(target)
        if mine is None:
            return []
        cosines = mine @ self._matrix.T  # (target capabilities, every capability)
        best = np.maximum.reduceat(cosines, self._starts, axis=1).mean(axis=0)
        scored = [(s, round(float(v), 4)) for s, v in zip(self.slugs, best, strict=True)
                  if s != target and v > 0]
        scored.sort(key=lambda sv: (-sv[1], sv[0]))
        return scored[:limit]


def align(left: Sequence[T], right: Sequence[U], *, left_text: list[str], right_text: list[str],
          threshold: float = ALIGN_THRESHOLD) -> list[Aligned[T, U]]:
    """Greedy best-match alignment of two lists by token Jaccard of their texts (see
    ``_pair``)."""
    lt = [tokens(t) for t in left_text]
    rt = [tokens(t) for t in right_text]
    return _pair(left, right, [[jaccard(a, b) for b in rt] for a in lt], threshold)


def align_vectors(left: Sequence[T], right: Sequence[U], *, left_vectors: np.ndarray,
                  right_vectors: np.ndarray, threshold: float = EMBED_ALIGN_THRESHOLD
                  ) -> list[Aligned[T, U]]:
    """Greedy best-match alignment of two lists by the cosine of their unit vectors (one
    row per item, see ``_pair``)."""
    if not len(left) or not len(right):
        return _pair(left, right, [[] for _ in left], threshold)
    cosines = np.asarray(left_vectors, dtype=np.float32) @ np.asarray(
        right_vectors, dtype=np.float32).T
    return _pair(left, right, [[round(float(x), 4) for x in row] for row in cosines], threshold)


def _pair(left: Sequence[T], right: Sequence[U], scores: list[list[float]], threshold: float
          ) -> list[Aligned[T, U]]:
    """Take the best remaining pair first, each item at most once, while pairs reach
    ``threshold``. Returns the matched pairs (best first), then the unmatched left items,
    then the unmatched right items, each in their original order."""
    pairs = sorted(
        ((scores[i][j], i, j) for i in range(len(left)) for j in range(len(right))),
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
