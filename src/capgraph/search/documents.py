"""Search documents: what of a passport is indexed, one document per capability."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["STOPWORDS", "SearchDoc", "documents_for", "normalize_intent", "query_terms"]

STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "for", "from", "how", "i",
    "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "please", "some", "that",
    "the", "this", "to", "use", "want", "what", "which", "with", "you", "your", "need", "help",
    "find", "tool", "get", "give", "show", "tell", "about", "any", "using", "we", "our",
})  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class SearchDoc:
    """The indexed text of one capability, in fields weighted separately by the index."""

    cap_id: str
    name: str
    intents: str
    body: str
    artifact: str
    summary: str = ""  # the artifact's own one-paragraph description, when known
    declared_intents: tuple[str, ...] = ()  # the intents as listed, for exact lookup
    artifact_name: str = ""

    def dense_texts(self) -> tuple[str, str]:
        """The two texts the embedding model reads (it keeps the first 256 tokens of each):
        what the artifact is for (its summary and the capability's intents) and what the
        capability does (its own name, unless that is just the artifact's name, and its
        description). The capability's vector is the mean of their embeddings, so its dot
        product with a query is the mean of the two cosines. A brand name tells the model
        nothing and repeating it in both texts pulled them together: embedding the two views
        apart raised Recall@1 on the dev set from 0.560 to 0.592 (BENCHMARKS.md)."""
        short = ". ".join(p for p in (self.summary, self.intents) if p) or self.body or self.name
        own_name = self.name if self.name.casefold() != self.artifact_name.casefold() else ""
        full = ". ".join(p for p in (own_name, self.body) if p)
        return short, full or short


def documents_for(body: Mapping[str, Any], *, summary: str | None = None) -> list[SearchDoc]:
    """One document per capability of a passport body: capability name; intents and best-for;
    description with input and output types; the artifact's name, tags and categories (and
    its description from the manifest, which the passport body does not carry)."""
    artifact = body["artifact"]
    artifact_text = " ".join(
        [artifact["name"], artifact["slug"], *artifact["tags"], *artifact["categories"]]
    )
    return [
        SearchDoc(
            cap_id=cap["id"],
            name=cap["name"],
            intents=" ".join([*cap["intents"], *cap["best_for"]]),
            body=" ".join([cap["description"], *cap["input_types"], *cap["output_types"]]),
            artifact=artifact_text + (" " + summary if summary else ""),
            summary=summary or "",
            declared_intents=tuple(normalize_intent(i) for i in cap["intents"]),
            artifact_name=artifact["name"],
        )
        for cap in body["capabilities"]
    ]


def query_terms(text: str) -> list[str]:
    """Lower-cased content words of a query, in order, without duplicates."""
    seen: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen


def normalize_intent(text: str) -> str:
    """An intent reduced to its lower-case words, for exact matching of declared intents."""
    return " ".join(_WORD.findall(text.lower()))
