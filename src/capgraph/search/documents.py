"""Search documents: what of a passport is indexed, one document per capability and one for
the artifact as a whole."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ARTIFACT_DOC", "STOPWORDS", "VIEW_MARK", "SearchDoc", "documents_for",
           "normalize_intent", "query_terms", "readable", "split_key", "vector_keys"]

STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "for", "from", "how", "i",
    "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "please", "some", "that",
    "the", "this", "to", "use", "want", "what", "which", "with", "you", "your", "need", "help",
    "find", "tool", "get", "give", "show", "tell", "about", "any", "using", "we", "our",
})  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")
READABLE_SHARE = 0.5


ARTIFACT_DOC = "#artifact"
"""The key of an artifact's own document (its name, description and the names of all its
capabilities), beside one per capability: a multi-tool server is found as a whole too."""
VIEW_MARK = "#"
"""Joins a capability id and a view (``cap_0#p``) in the vector log; capability ids never
contain it (``core/manifest_shape.CAP_ID``). A log row without it was written by an index
before views (``vectors.legacy_count``), and is rebuilt."""
PURPOSE, DOES, NAMES = "p", "c", "n"
"""The views' marks: a capability's purpose and what it does; an artifact's names (its whole
document's first view has no mark)."""


def vector_keys(cap_id: str) -> tuple[str, ...]:
    """Every vector key a document keyed ``cap_id`` may have (``SearchDoc.views``), and, for a
    capability, the key of its vector written before views."""
    if cap_id == ARTIFACT_DOC:
        return (cap_id, cap_id + VIEW_MARK + NAMES)
    return (cap_id, cap_id + VIEW_MARK + PURPOSE, cap_id + VIEW_MARK + DOES)


@dataclass(frozen=True)
class SearchDoc:
    """The indexed text of one capability (or, keyed ``ARTIFACT_DOC``, of the artifact as a
    whole), in fields weighted separately by the keyword index."""

    cap_id: str
    name: str
    intents: str
    body: str
    artifact: str
    summary: str = ""  # the artifact's own one-paragraph description, when known
    declared_intents: tuple[str, ...] = ()  # the intents as listed, for exact lookup
    artifact_name: str = ""

    @property
    def whole_artifact(self) -> bool:
        return self.cap_id == ARTIFACT_DOC

    def views(self) -> tuple[tuple[str, str], ...]:
        """(vector key, text) of each text the embedding model reads, each embedded and
        stored apart as a unit vector (the model keeps the first 256 tokens of each). A
        capability has two views: what it is for (the artifact's summary, the capability's
        intents and best-for) and what it does (its own name, unless that is just the
        artifact's name, its description and its input and output types); its cosine with a
        query is the better of the two. Averaging the two instead let a boilerplate summary
        ("a Model Context Protocol server ...") drown the capability's own text, and the
        mean's norm (0.70-0.99) acted as a hidden per-document prior. The artifact's own
        document has two: all of it, and its name with its capabilities' names. Two
        identical texts are stored once."""
        if self.whole_artifact:  # name, description, capability names; and without the
            # description, which for many servers is boilerplate that drowns the names
            full = ". ".join(p for p in (self.name, self.body, self.intents) if p)
            names = ". ".join(p for p in (self.name, self.intents) if p)
            if not self.intents or names == full:
                return ((self.cap_id, full),)
            return ((self.cap_id, full), (self.cap_id + VIEW_MARK + NAMES, names))
        # Text the English model cannot read (``readable``) is left out of the views: its
        # vectors would be noise. The capability then leans on its names, and on the keyword
        # index, which keeps every text.
        purpose = ". ".join(p for p in (self.summary, self.intents) if p and readable(p))
        own_name = self.name if self.name.casefold() != self.artifact_name.casefold() else ""
        does = ". ".join(p for p in (own_name, self.body) if p and readable(p))
        purpose, does = purpose or does or self.name, does or purpose or self.name
        mark = self.cap_id + VIEW_MARK
        if purpose == does:
            return ((mark + DOES, does),)
        return ((mark + PURPOSE, purpose), (mark + DOES, does))


def documents_for(body: Mapping[str, Any], *, summary: str | None = None) -> list[SearchDoc]:
    """What a version puts in the search indexes, the same for a publish, an import, a
    rebuild and ``capgraph eval`` (the one builder of indexed text): one document per
    capability (capability name; intents and best-for; description with input and output
    types; the artifact's name, tags and categories, and its description from the manifest,
    which the passport body does not carry), then, when it has several capabilities, the
    artifact's own document (``ARTIFACT_DOC``: its name, description and every capability's
    name). A one-capability artifact gets none: its capability's document already holds its
    name and description, and a second copy only shifted the keyword statistics (-0.4 points
    of Recall@1 on the dev set, whose tools each have one capability)."""
    artifact = body["artifact"]
    artifact_text = " ".join(
        [artifact["name"], artifact["slug"], *artifact["tags"], *artifact["categories"]]
    )
    caps = body["capabilities"]
    docs = [
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
        for cap in caps
    ]
    if len(caps) < 2:  # a single capability is the artifact: its document says it all
        return docs
    names = ", ".join(dict.fromkeys(c["name"] for c in caps
                                    if c["name"].casefold() != artifact["name"].casefold()))
    docs.append(SearchDoc(cap_id=ARTIFACT_DOC, name=artifact["name"], intents=names,
                          body=summary or "", artifact=artifact_text,
                          artifact_name=artifact["name"]))
    return docs


def readable(text: str) -> bool:
    """Whether the embedding model (English WordPiece) can read ``text``: at least
    ``READABLE_SHARE`` of its letters are ASCII. Chinese, Japanese, Cyrillic or Greek text is
    mostly unknown or split into single characters by its vocabulary, and its vectors say
    little; a text without letters (numbers, symbols) counts as readable."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    return sum(c.isascii() for c in letters) >= READABLE_SHARE * len(letters)


def split_key(key: str) -> tuple[str, str]:
    """(capability id, view) of an index key; ("", "") for the artifact's own document, and
    the view "" for a vector written before views."""
    if key.startswith(ARTIFACT_DOC):
        return "", ""
    cap_id, _, view = key.partition(VIEW_MARK)
    return cap_id, view


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
