"""Resolve: an intent in, the capability that will do it out, with a calibrated confidence,
alternatives, a ready invocation, the signed passport and a callback token for feedback.

Risk postures are gates applied before ranking (documented in docs/RESOLVE.md):
- ``default``: anything not archived;
- ``production``: active, quality >= 0.5, UnfragileRank >= 25;
- ``enterprise``: production, quality >= 0.6, and data access risk not high unless verified;
- ``strict``: production, verified, quality >= 0.7, data access risk low or moderate.
"""

from __future__ import annotations

import functools
import json
import math
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from capgraph import __version__
from capgraph.core.callback import issue_token
from capgraph.core.compose import iso_ms
from capgraph.core.invocation import invocation_for
from capgraph.core.risk import RISK_POSTURES
from capgraph.errors import BadRequest
from capgraph.search.calibration import Calibrator
from capgraph.search.engine import Candidate, Card, SearchEngine, check_query
from capgraph.search.explain import coverage, vs_alternative, why_this_matches
from capgraph.search.results import (
    Alternative,
    Answer,
    Filtered,
    Resolution,
    ResolvedArtifact,
    ResolvedCapability,
    match_score,
)

__all__ = ["Resolver", "gates_failed", "passes"]

TOKEN_TTL_SECONDS = 7 * 24 * 3600
FEATURE_PICKS = 5  # the leading picks the confidence features look at
CROWD_MARGIN = 0.05  # a pick this close to the top answer's score crowds it
OUTCOMES_FULL = 20  # counted reports at which a capability's own record counts in full
MAX_FILTERED = 5  # candidates a posture removed, reported with the gates they failed
RESOLVER_VERSION = f"capgraph-resolver/{__version__}"


def gates_failed(posture: str, card: Card) -> list[str]:
    """The gates of a risk posture an artifact does not clear (from its card alone), each as
    a sentence; empty when it clears them all (docs/RESOLVE.md, "Risk postures")."""
    status, quality, risk, verified = card.status, card.quality, card.risk, card.verified
    failed: list[str] = []
    if posture == "default":
        return ["it is archived"] if status == "archived" else []
    floor = {"production": 0.5, "enterprise": 0.6}.get(posture, 0.7)
    if status != "active":
        failed.append(f"its status is {status}, not active")
    if quality < floor:
        failed.append(f"its quality {quality:.2f} is below {floor}")
    if card.score < 25:
        failed.append(f"its UnfragileRank {card.score} is below 25")
    if posture == "enterprise" and risk == "high" and not verified:
        failed.append("its data access risk is high and its builder is not verified")
    if posture not in ("production", "enterprise"):  # strict, the narrowest posture
        if not verified:
            failed.append("its builder is not verified")
        if risk not in ("low", "moderate"):
            failed.append(f"its data access risk is {risk}")
    return failed


def passes(posture: str, card: Card) -> bool:
    """Whether an artifact clears a risk posture's gate (from its card alone)."""
    return not gates_failed(posture, card)


class _Pick:
    """A candidate and the capability it is picked for. Ranking and alternatives need only
    the capability's URI and name (on the card); the whole capability is read from the
    passport when an answer or the confidence model needs it."""

    __slots__ = ("_cap", "cand", "cap_id", "name", "score", "uri")

    def __init__(self, cand: Candidate, cap_id: str, uri: str, name: str, score: float
                 ) -> None:
        self.cand = cand
        self.cap_id = cap_id
        self.uri = uri
        self.name = name
        self.score = score
        self._cap: dict[str, Any] | None = None

    @property
    def cap(self) -> dict[str, Any]:
        if self._cap is None:
            cap = self.cand.card.capability(self.cap_id)
            if cap is None:  # the card and its passport are written together
                raise LookupError(f"{self.cand.card.slug} has no capability {self.cap_id}")
            self._cap = cap
        return self._cap


def _matches(cap: Mapping[str, Any]) -> int:
    """How many counted reports a capability's passport states (0 when it states none)."""
    try:
        return max(0, int(cap.get("matches") or 0))
    except (TypeError, ValueError):
        return 0


def outcome_evidence(cap: Mapping[str, Any]) -> float:
    """How a capability's reported outcomes lean, from its passport: the Beta(1, 1) posterior
    mean of its success rate (``confidence``, core/outcomes.py) less the neutral 0.5, scaled
    by how much evidence there is (``matches`` up to ``OUTCOMES_FULL``). 0 with no reports;
    -0.5..0.5 once 20 reports are counted. Query features cannot tell an artifact whose
    answers tend to be taken for another's (a broad tool's intents answered by a narrow one,
    or the reverse): its record can. The model also sees how much record there is
    (``evidence``), so "no reports yet" is not read as "a neutral record"."""
    matches = _matches(cap)
    if matches == 0:
        return 0.0
    try:
        posterior = float(cap.get("confidence", 0.5))
    except (TypeError, ValueError):
        return 0.0
    return (posterior - 0.5) * min(matches, OUTCOMES_FULL) / OUTCOMES_FULL


class Resolver:
    def __init__(self, *, engine: SearchEngine, secret: Callable[[], bytes],
                 now: Callable[[], datetime], calibrator: Calibrator | None = None) -> None:
        self.engine = engine
        self._secret = secret
        self._now = now
        self.calibrator = calibrator or Calibrator.load()
        # An answer's execution block, by (slug, version): bounded, as the registry grows.
        self._execution = functools.lru_cache(maxsize=1_024)(self._read_execution)

    def features(self, intent: str, picks: list[_Pick]) -> dict[str, float]:
        """What the confidence model sees of a ranking."""
        if not picks:
            return {}
        top = picks[0]
        second = picks[1] if len(picks) > 1 else None
        # Only the first FEATURE_PICKS: a resolve asks for at least that many, and they are
        # the same whatever more it asks for, so eval and resolve see the same features.
        rest = picks[1:FEATURE_PICKS]
        others = len(rest) or 1
        best_raw = max((p.cand.raw for p in rest), default=0.0)
        return {
            "coverage": coverage(intent, top.cap),
            "lead": top.score - (second.score if second else 0.0),
            "strength": math.log1p(top.cand.raw) / math.log1p(50.0),
            "dense": top.cand.cosine,
            "dense_lead": top.cand.cosine - (second.cand.cosine if second else 0.0),
            # Features meant to carry from tool to tool: does the dense side, and the
            # keyword side, put the top answer first among the leaders; how far it leads
            # on keywords; how many leaders crowd it; how long the intent is.
            "dense_first": float(all(top.cand.cosine >= p.cand.cosine for p in rest)),
            "keyword_first": float(top.cand.raw > 0 and top.cand.raw >= best_raw),
            "dense_rank": sum(p.cand.cosine > top.cand.cosine for p in rest) / others,
            "keyword_rank": sum(p.cand.raw > top.cand.raw for p in rest) / others,
            "keyword_lead": (math.log1p(top.cand.raw) - math.log1p(best_raw)) / math.log1p(50.0),
            "crowd": sum(top.score - p.score <= CROWD_MARGIN for p in rest) / others,
            "top_score": top.score,
            "words": min(len(intent.split()), 30) / 30,
            "outcomes": outcome_evidence(top.cap),
            "evidence": min(_matches(top.cap), OUTCOMES_FULL) / OUTCOMES_FULL,
        }

    def rank(self, intent: str, capability: str | None, artifact_type: str | None,
             risk: str, *, need: int | None = None,
             filtered: list[Filtered] | None = None) -> list[_Pick]:
        """The best picks, best first: at least the ``need`` best (all when None).
        ``filtered``, when given, collects the best candidates the posture removed."""
        uri = capability if capability and capability.startswith("capability://") else None
        if uri is None:
            query = f"{capability} {intent}" if capability else intent
            return self._picks(query, None, artifact_type, risk, need, filtered)
        # An exact URI names a capability: find it by the URI's own words too (the intent
        # alone may not retrieve it). Otherwise the URI is a prefix: only capabilities under
        # it, at a segment boundary, are kept.
        words = uri.removeprefix("capability://").replace(".", " ")
        exact = self._picks(f"{words} {intent}", lambda u: u == uri, artifact_type, risk, need,
                            filtered)
        if exact:
            return exact
        prefix = uri.rstrip(".") + "."
        if filtered:
            filtered.clear()
        return self._picks(intent, lambda u: u.startswith(prefix), artifact_type, risk, need,
                           filtered)

    def _picks(self, query: str, keep: Callable[[str], bool] | None,
               artifact_type: str | None, risk: str, need: int | None,
               filtered: list[Filtered] | None = None) -> list[_Pick]:
        """Candidates that clear the posture, each with its best kept capability. A pick
        never scores above its candidate's rank score, and candidates come best first, so
        once ``need`` picks beat the next candidate's rank score the rest cannot enter: their
        passports are never read (at 1M capabilities, reading all ~200 cost 150 ms)."""
        picks: list[_Pick] = []
        for cand in self.engine.ranked(query, artifact_type=artifact_type):
            if need is not None and len(picks) >= need:
                picks.sort(key=lambda p: (-p.score, p.cand.card.slug))
                if picks[need - 1].score > cand.rank_score + 1e-9:
                    break
            failed = gates_failed(risk, cand.card)
            for cap_id, rel in cand.caps:
                brief = cand.card.brief(cap_id)
                if brief is None or (keep is not None and not keep(brief[0])):
                    continue
                if not failed:
                    picks.append(_Pick(cand, cap_id, *brief,
                                       cand.rank_score - cand.relevance + cand.lift + rel))
                elif filtered is not None and len(filtered) < MAX_FILTERED:
                    filtered.append(Filtered(cand.card.slug, cand.card.name, brief[0],
                                             match_score(rel), failed))
                break
        picks.sort(key=lambda p: (-p.score, p.cand.card.slug))
        return picks

    def _read_execution(self, slug: str, version: int) -> dict[str, Any] | None:
        stored = self.engine.stored(slug, version)
        execution = None
        if stored is not None and stored.source_kind == "manifest":
            execution = json.loads(stored.source).get("execution")
        return execution if isinstance(execution, dict) else None

    def resolve(self, intent: str, *, limit: int = 3, artifact_type: str | None = None,
                risk: str = "default", capability: str | None = None) -> Resolution:
        """The resolve answer of PROTOCOL.md A.5 (see module docstring for postures)."""
        intent = check_query(intent, field="intent")
        if not 1 <= limit <= 10:
            raise BadRequest("limit must be between 1 and 10")
        if risk not in RISK_POSTURES:
            raise BadRequest(f"risk must be one of {', '.join(RISK_POSTURES)}")
        if capability is not None and len(capability) > 500:
            raise BadRequest("capability must be at most 500 characters")
        # Answers, then up to 4 alternatives after the last (5 when none is confident).
        filtered: list[Filtered] = []
        picks = self.rank(intent, capability, artifact_type, risk, need=max(limit + 4, 5),
                          filtered=filtered)
        resolve_id = "r_" + secrets.token_urlsafe(16)
        now = self._now()
        features = self.features(intent, picks)
        confidence = self.calibrator.confidence(features) if picks else 0.0
        head = functools.partial(Resolution, intent=intent, risk=risk, resolve_id=resolve_id,
                                 resolved_at=iso_ms(now), resolver_version=RESOLVER_VERSION,
                                 features=features)
        # A capability named by its exact URI is the answer whatever the intent's wording.
        exact = bool(picks) and picks[0].uri == capability
        if not (picks and (exact or confidence >= self.calibrator.threshold)):
            return head(match_confidence=round(confidence, 4),
                        alternatives=[self._alternative(p, picks[0] if picks else None)
                                      for p in picks[:5]],
                        filtered=filtered)
        resolved = []
        conf = confidence
        for i, pick in enumerate(picks[:limit]):
            if i:  # judged against the top answer, never above the one ranked before it
                conf = min(conf, self.calibrator.confidence(
                    self.features(intent, [pick, picks[0]])))
            resolved.append(self._answer(intent, pick, picks, i, conf, resolve_id, now))
        return head(resolved=resolved, match_confidence=round(confidence, 4))

    @staticmethod
    def _alternative(pick: _Pick, top: _Pick | None) -> Alternative:
        card = pick.cand.card
        why = f"offers '{pick.name}' (match {match_score(pick.score):.2f}"
        if top is not None and top is not pick:
            why += f" vs {match_score(top.score):.2f}"
        why += f"; UnfragileRank {card.score}"
        if card.adoption:
            why += f"; sourced adoption prior +{card.adoption_lift:.3f}"
        why += ")"
        return Alternative(slug=card.slug, name=card.name, capability=pick.uri, why=why)

    def _answer(self, intent: str, pick: _Pick, picks: list[_Pick], i: int, conf: float,
                resolve_id: str, now: datetime) -> Answer:
        card = pick.cand.card
        stored = self.engine.stored(card.slug, card.version)
        if stored is None:  # versions are never deleted: the card names a stored one
            raise LookupError(f"{card.slug} version {card.version} is not stored")
        passport = json.loads(stored.passport)
        runner_up = picks[i + 1] if i + 1 < len(picks) else None
        cap = pick.cap
        return Answer(
            artifact=ResolvedArtifact(name=card.name, slug=card.slug, type=card.type,
                                      url=card.url),
            capability=ResolvedCapability(
                id=cap["id"], uri=cap["uri"], name=cap["name"], intent=intent,
                description=cap["description"],
                why_this_matches=why_this_matches(intent, cap),
                vs_alternatives=vs_alternative(
                    card.name, pick.score, card.score,
                    runner_up.cand.card.name if runner_up else None,
                    runner_up.score if runner_up else 0.0,
                    runner_up.cand.card.score if runner_up else 0,
                    top_adoption=card.adoption_lift,
                    alt_adoption=runner_up.cand.card.adoption_lift if runner_up else 0.0),
                best_for=cap["best_for"], limitations=cap["limitations"],
            ),
            invocation=invocation_for(
                slug=card.slug, artifact_type=card.type, url=card.url,
                execution=self._execution(card.slug, card.version), requires=cap["requires"]),
            # The signed passport object as stored: any member added here would be covered by
            # no signature and break verification (``verified`` is in its body's trust).
            trust=passport,
            alternatives=[self._alternative(p, pick) for p in picks[i + 1:i + 4]],
            match_confidence=round(conf, 4),
            last_verified=passport.get("signedAt"),
            callback_token=issue_token(self._secret(), resolve_id=resolve_id, slug=card.slug,
                                       expires=int(now.timestamp()) + TOKEN_TTL_SECONDS),
        )
