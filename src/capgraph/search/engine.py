"""Retrieval: candidates for a query, from a keyword and a dense index, fused, with the trust
score as a small prior.

For each capability found by either index:

    relevance = DENSE_WEIGHT x cosine + (1 - DENSE_WEIGHT) x bm25 / best bm25 of the query

(cosine computed exactly for keyword-only finds; bm25 counts 0 for dense-only finds), plus
DECLARED_INTENT_BONUS when the query is word for word an intent the capability declares, plus
the learned boost from outcomes reported for similar intents (``learning.py``). An
artifact's rank score is its best capability's relevance + PRIOR_WEIGHT x UnfragileRank / 100
+ ADOPTION_PRIOR_WEIGHT x its sourced adoption share (``scoring.adoption_prior``, kept on its
card: 0 for numbers an unverified builder declared): the priors only reorder near-ties, so
trust never lifts an artifact that does not match.
Without an embedder, relevance is the keyword part alone. The weights were chosen on the
retrieval dev set (BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import math
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from capgraph.core.scoring import ADOPTION_PRIOR_WEIGHT
from capgraph.errors import BadRequest
from capgraph.ports import ArtifactCard, Embedder, IndexFeeds, StoredVersion, VersionStore
from capgraph.search.cards import card_facts
from capgraph.search.documents import (
    ARTIFACT_DOC,
    normalize_intent,
    query_terms,
    readable,
    split_key,
    vector_keys,
)
from capgraph.search.keyword import KeywordIndex
from capgraph.search.learning import LearnedIndex
from capgraph.search.results import ArtifactMatch, CapabilityMatch, SearchResult, match_score
from capgraph.search.vectors import VectorIndex

__all__ = ["PRIOR_WEIGHT", "Candidate", "Card", "SearchEngine", "check_query"]


def _view_keys(wanted: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The vector keys of capabilities and of artifacts' own documents (capability id "")."""
    return [(slug, key) for slug, cap_id in wanted for key in vector_keys(cap_id or ARTIFACT_DOC)]


def _combine(views: dict[tuple[str, str], list[float]]) -> dict[tuple[str, str], float]:
    """A capability's (or an artifact's) cosine from its views' cosines."""
    return {key: VIEW_MAX * max(c) + (1 - VIEW_MAX) * sum(c) / len(c)
            for key, c in views.items()}


PRIOR_WEIGHT = 0.05
MAX_PRIOR = PRIOR_WEIGHT + ADOPTION_PRIOR_WEIGHT  # the most a card adds to a rank score
DENSE_WEIGHT = 0.9
# A query that is, word for word, an intent a capability declares: the builder said this is
# what it serves, so it outranks any paraphrase match (it still meets the risk gates).
DECLARED_INTENT_BONUS = 0.5
# An artifact ranks by the better of its best capability and its own document (name,
# description, every capability's name) times this share.
ARTIFACT_SHARE = 1.0
# A capability's cosine from its views' (each a unit vector): VIEW_MAX x the best view's +
# (1 - VIEW_MAX) x their mean. Chosen on the dev set's tuning tools (BENCHMARKS.md, issue 16):
# the best view alone lost 2.6 points of Recall@1 there (1.3 on the held-out tools), a
# quarter of it 0.7 (0.2), so the mean stays; being a mean of unit vectors' cosines, it
# carries no hidden per-document norm.
VIEW_MAX = 0.0
DENSE_K = 100
CANDIDATES = 200
FIRST_CARDS = 16  # cards read in the first batch of a lazy ranking (then 32, 64, ...)
CAPS_PER_ARTIFACT = 3
STORED_CACHE = 256  # whole stored versions (passport + source, ~30-60 KB each)
# Parsed passport bodies kept between queries: only answers need them now (cards carry the
# rest), and each is hundreds of objects for the garbage collector to walk.
BODY_CACHE = 1_024
LATEST_REMEMBERED = 100_000  # (version, score, card) per artifact, between writes


class Card:
    """What ranking, the risk gates, search results and alternatives need of an artifact's
    latest version: its score and its compact card (``search/cards.py``), read with every
    candidate's version in one query. The passport body is loaded only for what a card lacks
    (an answer's whole capability), or when the version has no card (stored before cards
    were kept). Cards live for one query; bodies are shared through a small cache."""

    __slots__ = ("_body", "_card", "_facts", "_load", "score", "slug", "version")

    def __init__(self, slug: str, version: int, body: dict[str, Any] | None = None, *,
                 score: int | None = None, card: str = "",
                 load: Callable[[str, int], dict[str, Any]] | None = None) -> None:
        if body is None and load is None:
            raise ValueError("a card needs its body or a way to load it")
        self.slug = slug
        self.version = version
        self._body = body
        self._card = card
        self._facts: dict[str, Any] | None = None
        self._load = load
        self.score = int(body["trust"]["score"]) if score is None and body else int(score or 0)

    @property
    def body(self) -> dict[str, Any]:
        if self._body is not None:
            return self._body
        assert self._load is not None
        return self._load(self.slug, self.version)

    @property
    def facts(self) -> dict[str, Any]:
        """The compact card's fields (``card_facts``), parsed once per query."""
        if self._facts is None:
            self._facts = json.loads(self._card) if self._card else card_facts(self.body)
        return self._facts

    @property
    def name(self) -> str:
        return str(self.facts["name"])

    @property
    def type(self) -> str:
        return str(self.facts["type"])

    @property
    def url(self) -> str:
        return str(self.facts["url"])

    @property
    def status(self) -> str:
        return str(self.facts["status"])

    @property
    def quality(self) -> float:
        return float(self.facts["quality"])

    @property
    def risk(self) -> str:
        return str(self.facts["risk"])

    @property
    def verified(self) -> bool:
        return bool(self.facts["verified"])

    @property
    def adoption(self) -> float:
        """The share (0..1) of ``ADOPTION_PRIOR_WEIGHT`` its sourced adoption earns: 0 on a
        card kept before the prior was, and without a card (ranking never loads a passport
        for it; a passport alone does not say whether its counts were sourced)."""
        if not self._card:
            return 0.0
        return min(1.0, max(0.0, float(self.facts.get("adoption", 0.0))))

    @property
    def adoption_lift(self) -> float:
        """What its sourced adoption adds to a rank score: ``ADOPTION_PRIOR_WEIGHT`` x
        ``adoption`` (the one place it is computed; explanations quote it)."""
        return ADOPTION_PRIOR_WEIGHT * self.adoption

    @property
    def prior(self) -> float:
        """What its card adds to a rank score: the trust prior and the adoption prior."""
        return PRIOR_WEIGHT * min(self.score, 100) / 100 + self.adoption_lift

    @property
    def description(self) -> str:
        return str(self.facts["description"])

    def brief(self, cap_id: str) -> tuple[str, str] | None:
        """(URI, name) of one of its capabilities, from the card."""
        for found, uri, name in self.facts["caps"]:
            if found == cap_id:
                return str(uri), str(name)
        return None

    def capability(self, cap_id: str) -> dict[str, Any] | None:
        """The whole capability, from the passport."""
        for cap in self.body["capabilities"]:
            if cap["id"] == cap_id:
                return dict(cap)
        return None


class Candidate:
    """An artifact and its matching capabilities (best first) for one query. A query makes
    hundreds and reads a few, so the capability list is built only when read."""

    __slots__ = ("_ranked", "card", "cosine", "rank_score", "raw", "relevance")

    def __init__(self, card: Card, ranked: list[tuple[float, str, float, float]], *,
                 rank_score: float) -> None:
        self.card = card
        self._ranked = ranked  # (-relevance, capability id, raw bm25, cosine), sorted
        neg, _, self.raw, self.cosine = ranked[0]
        self.relevance = -neg
        self.rank_score = rank_score
        # raw: the best capability's BM25 score (0 when only the dense index found it);
        # cosine: the best capability's cosine with the query.

    @property
    def caps(self) -> list[tuple[str, float]]:
        """(capability id, relevance 0..1), best first. An artifact matched by its own
        document alone has all its capabilities, in its order, each with relevance 0: none
        of them matched by itself."""
        found = [(cap_id, -neg) for neg, cap_id, _, _ in self._ranked if cap_id]
        return found or [(str(cap_id), 0.0) for cap_id, _, _ in self.card.facts["caps"]]

    @property
    def lift(self) -> float:
        """How far the artifact's own document lifts it above its best capability (0 when
        it does not; all of it when none of them matched by itself): its capabilities' picks
        are raised by as much, keeping their order."""
        return self.relevance - next((-neg for neg, cap_id, _, _ in self._ranked if cap_id),
                                     0.0)


def check_query(text: str, *, field: str = "q") -> str:
    text = text.strip()
    if not 2 <= len(text) <= 500:
        raise BadRequest(f"{field} must be 2 to 500 characters")
    return text


class EngineStore(VersionStore, IndexFeeds, Protocol):
    """What the engine reads: versions and their cards, and the declared intents."""


class SearchEngine:
    def __init__(self, store: EngineStore, *, keywords: KeywordIndex,
                 embedder: Embedder | None = None,
                 vectors: VectorIndex | None = None, learned: LearnedIndex | None = None,
                 ) -> None:
        self.store = store
        self.keywords = keywords
        self.embedder = embedder
        self.vectors = vectors
        self.learned = learned
        self.learning = True
        # Both keyed by (slug, version), which never changes once written. lru_cache is
        # thread-safe: request threads share these.
        self._body = functools.lru_cache(maxsize=BODY_CACHE)(self._parse_body)
        self._version = functools.lru_cache(maxsize=STORED_CACHE)(self._read_version)
        self._latest: dict[str, ArtifactCard] = {}
        self._latest_generation = -1

    def _read_version(self, slug: str, version: int) -> StoredVersion:
        found = self.store.version(slug, version)
        if found is None:  # raised, not returned: lru_cache keeps no exceptions
            raise LookupError(f"{slug} version {version} is not stored")
        return found

    def stored(self, slug: str, version: int) -> StoredVersion | None:
        """A stored version, from a small cache (versions never change once written): a
        resolve reads the same few versions for its gates, its answers and their snippets."""
        try:
            return self._version(slug, version)
        except LookupError:
            return None

    def _load(self, slug: str, version: int) -> dict[str, Any]:
        body: dict[str, Any] = self._version(slug, version).body()
        return body

    def _parse_body(self, slug: str, version: int) -> dict[str, Any]:
        return self._load(slug, version)  # looked up per call: tests count loads

    def cards(self, slugs: list[str]) -> dict[str, Card]:
        """The cards of these artifacts' latest versions (unknown slugs are left out)."""
        return {slug: Card(slug, version, score=score, card=card, load=self._body)
                for slug, (version, score, card) in self._latest_cards(slugs).items()}

    def _latest_cards(self, slugs: list[str]) -> dict[str, ArtifactCard]:
        """(latest version, score, card) per slug, remembered until any process writes (the
        store's generation moves) or ``LATEST_REMEMBERED`` are held (cards are ~1.3 KB):
        between writes a query reads none of them again."""
        generation = self.store.generation()
        known = self._latest
        if generation != self._latest_generation or len(known) > LATEST_REMEMBERED:
            known = self._latest = {}
            self._latest_generation = generation
        missing = [s for s in slugs if s not in known]
        if missing:
            known.update(self.store.latest_cards(missing))
        return {s: known[s] for s in slugs if s in known}

    def card(self, slug: str) -> Card | None:
        return self.cards([slug]).get(slug)

    def candidates(self, text: str, *, artifact_type: str | None = None) -> list[Candidate]:
        """Every artifact with a matching capability, best first."""
        return list(self.ranked(text, artifact_type=artifact_type))

    def ranked(self, text: str, *, artifact_type: str | None = None) -> Iterator[Candidate]:
        """The artifacts of ``candidates``, in the same order, read lazily: an artifact's rank
        score is its relevance plus at most ``MAX_PRIOR`` (both priors in full), so the
        artifacts are taken by relevance and their cards (version and score) read in growing
        batches; a candidate is yielded once no artifact still unread could outrank it. A
        caller that wants the first few never reads the cards of the hundreds after them."""
        scored = self._scored(text, artifact_type)
        # (-best relevance, slug): the order in which cards are read
        by_relevance = sorted((caps[0][0], slug) for slug, caps in scored.items())
        ready: list[tuple[float, str, Candidate]] = []  # a heap by (-rank score, slug)
        read, batch = 0, FIRST_CARDS
        while read < len(by_relevance) or ready:
            # the best rank score an artifact whose card is unread could still reach
            bound = (MAX_PRIOR - by_relevance[read][0] if read < len(by_relevance)
                     else -math.inf)
            while ready and -ready[0][0] > bound:
                yield heapq.heappop(ready)[2]
            if read >= len(by_relevance):
                continue
            slugs = [slug for _, slug in by_relevance[read:read + batch]]
            read, batch = read + len(slugs), batch * 2
            cards = self.cards(slugs)
            for slug in slugs:
                card = cards.get(slug)
                if card is None:
                    continue
                caps = scored[slug]
                # (scores are 0..100; an imported passport claiming more gets no more)
                rank_score = card.prior - caps[0][0]
                heapq.heappush(ready, (-rank_score, slug, Candidate(card, caps,
                                                                    rank_score=rank_score)))

    def _scored(self, text: str, artifact_type: str | None
                ) -> dict[str, list[tuple[float, str, float, float]]]:
        """Each matching artifact's capabilities as (-relevance, capability id, raw BM25,
        cosine), best first (ties by id). An artifact whose own document (``ARTIFACT_DOC``)
        matches better than its best capability has that document first, under the
        capability id "": the artifact ranks by the better of the two."""
        terms = query_terms(text)
        hits = self.keywords.search(terms, limit=CANDIDATES, artifact_type=artifact_type)
        keyword: dict[tuple[str, str], float] = {}
        top = 0.0  # the best capability's BM25: an artifact's own document may score above
        for slug, doc_key, score in hits:
            cap_id, _ = split_key(doc_key)
            keyword.setdefault((slug, cap_id), score)
            if cap_id:
                top = max(top, score)
        top = top if top > 0 else 1.0
        dense: dict[tuple[str, str], float] = {}
        declared = {(m.slug, m.cap_id) for m in self.store.intent_matches(
            normalize_intent(text), artifact_type=artifact_type)}
        if self.embedder is not None and self.vectors is not None:
            query = self.embedder.embed([text])[0]
            # Each view's cosine once: those the top-k returned, then exactly those of every
            # capability (and artifact document) either index found; an artifact found by its
            # own document alone brings all of its views.
            views: dict[tuple[str, str], list[float]] = defaultdict(list)
            seen: set[tuple[str, str]] = set()
            for slug, vec_key, cosine in self.vectors.query(query, k=DENSE_K,
                                                            artifact_type=artifact_type):
                views[(slug, split_key(vec_key)[0])].append(cosine)
                seen.add((slug, vec_key))
            wanted = keyword.keys() | declared | views.keys()
            alone = {s for s, c in wanted if not c} - {s for s, c in wanted if c}
            extra = self.vectors.cosines(query, [k for k in _view_keys(wanted)
                                                 if k not in seen])
            if alone:
                extra.update(self.vectors.artifact_cosines(query, sorted(alone)))
            for (slug, vec_key), cosine in extra.items():
                if (slug, vec_key) not in seen:
                    seen.add((slug, vec_key))
                    views[(slug, split_key(vec_key)[0])].append(cosine)
            dense = _combine(views)
            floor = min(dense.values(), default=0.0)
            # a query the model cannot read is matched on its words alone, when it has any
            weight = DENSE_WEIGHT if readable(text) or not hits else 0.0
        else:
            floor, weight = 0.0, 0.0
        boosts: dict[tuple[str, str], float] = {}
        if self.learning and self.learned is not None and self.embedder is not None:
            boosts = self.learned.boosts(query)
        # Sorted as tuples: best first, ties by id (this loop runs over ~300 capabilities).
        scored: dict[str, list[tuple[float, str, float, float]]] = defaultdict(list)
        whole: dict[str, tuple[float, float, float]] = {}
        keyword_part = (1 - weight) / top
        for key in keyword.keys() | dense.keys() | declared:
            raw = keyword.get(key, 0.0)
            cosine = dense.get(key, floor)
            relevance = weight * cosine + keyword_part * raw
            if not key[1]:  # the artifact's own document
                whole[key[0]] = (relevance, raw, cosine)
                continue
            if key in declared:
                relevance += DECLARED_INTENT_BONUS
            if boosts:
                relevance += boosts.get(key, 0.0)
            scored[key[0]].append((-relevance, key[1], raw, cosine))
        # An artifact found by its own document alone (without an embedder, whose views of
        # all its capabilities would have come with it) has no capability entry: it ranks by
        # that document, its capabilities with relevance 0 (``Candidate.caps``).
        for slug in scored.keys() | whole.keys():
            caps = scored[slug]
            if len(caps) > 1:
                caps.sort()
            own = whole.get(slug)
            if own is not None and (not caps or ARTIFACT_SHARE * own[0] > -caps[0][0]):
                caps.insert(0, (-ARTIFACT_SHARE * own[0], "", own[1], own[2]))
        return scored

    def search(self, query: str, *, limit: int = 5, artifact_type: str | None = None
               ) -> SearchResult:
        """The ``limit`` best artifacts for a query, each with its matching capabilities."""
        text = check_query(query)
        if not 1 <= limit <= 20:
            raise BadRequest("limit must be between 1 and 20")
        matches = []
        for cand in itertools.islice(self.ranked(text, artifact_type=artifact_type), limit):
            card = cand.card
            capabilities = []
            for cap_id, rel in cand.caps[:CAPS_PER_ARTIFACT]:
                brief = card.brief(cap_id)
                if brief is not None:
                    capabilities.append(CapabilityMatch(cap_id, brief[0], brief[1],
                                                        match_score(rel)))
            matches.append(ArtifactMatch(
                slug=card.slug, name=card.name, type=card.type, unfragile_rank=card.score,
                verified=card.verified, description=card.description,
                match_score=match_score(cand.rank_score), capabilities=capabilities,
                match_record_id="m_" + secrets.token_urlsafe(12),
            ))
        return SearchResult(query=text, intent=" ".join(query_terms(text)), matches=matches)
