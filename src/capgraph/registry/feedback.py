"""Reported outcomes: check a report against what was answered, count it at most once and
within the per-client cap, and re-issue the artifact's passport with the new evidence."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from capgraph.core.callback import verify_token
from capgraph.core.compose import iso_ms
from capgraph.core.feedback import CAP_WINDOW, COMMENT_MAX, OUTCOMES, PER_CLIENT_CAP, aggregate
from capgraph.core.outcomes import Outcomes, apply_outcomes
from capgraph.errors import BadRequest, Conflict, NotFound
from capgraph.ports import FeedbackRecord, KeyRing, Store, StoredVersion, WriteTransaction
from capgraph.registry.indexing import Indexer, summary_of
from capgraph.registry.publishing import Publishing
from capgraph.registry.versions import NewVersion, append_version

__all__ = ["FeedbackResult", "Reporting", "store_report"]


@dataclass(frozen=True)
class FeedbackResult:
    counted: bool
    slug: str
    capability: str
    outcome: str
    passport_version: int


def store_report(store: Store, record: FeedbackRecord, *, since: str,
                 same_client: Sequence[str] = (), per_client_cap: int = PER_CLIENT_CAP
                 ) -> tuple[bool, bool]:
    """Store a report once per ``ref``: (stored, counted). Not stored when the ref was
    reported before; not counted when its client (``record.client`` or any id in
    ``same_client``) already has ``per_client_cap`` counted reports on the artifact since
    ``since``. One write transaction, so concurrent reports cannot both slip under the cap."""
    clients = list(dict.fromkeys([record.client, *same_client]))
    with store.write() as tx:
        if tx.feedback_exists(record.ref):
            return False, False
        counted = tx.counted_reports_by(clients, record.slug, since=since) < per_client_cap
        tx.add_feedback(record, counted=counted)
    return True, counted


class Reporting:
    """``POST /api/feedback`` and the client ids it counts by."""

    def __init__(self, *, store: Store, keys: KeyRing, indexer: Indexer,
                 publishing: Publishing, callback_secret: Callable[[], bytes],
                 now: Callable[[], datetime]) -> None:
        self._store = store
        self._keys = keys
        self._indexer = indexer
        self._publishing = publishing
        self._secret = callback_secret
        self._now = now
        self._day = ""  # the UTC day salts were last pruned on, by this process
        self._salts: dict[str, bytes] = {}  # stored salts never change: read once a process

    def client_ids(self, address: str) -> tuple[str, ...]:
        """The address's id today (what a report stores), then its id under yesterday's salt
        while that salt is kept: compared with stored reports only, never stored, so that the
        per-client cap over the last 24 hours does not start afresh when the salt changes at
        midnight UTC. The salts are in the store, the same for every host sharing it; each
        day's is made on first use and deleted two days later (docs/PRIVACY.md)."""
        now = self._now()
        today, yesterday = f"{now:%Y%m%d}", f"{now - timedelta(days=1):%Y%m%d}"
        if self._day != today:
            self._store.prune_salts(before=yesterday)
            # Salts were files of each host's key ring before they moved to the store.
            self._keys.prune_secrets("client-salt-", keep=0)
            self._salts = {d: s for d, s in self._salts.items() if d >= yesterday}
            self._day = today
        salts = [self._salt(today, make=True), self._salt(yesterday, make=False)]
        return tuple(_hashed(salt, address) for salt in salts if salt is not None)

    def _salt(self, day: str, *, make: bool) -> bytes | None:
        salt = self._salts.get(day)
        if salt is None:
            salt = self._store.daily_salt(day) if make else self._store.existing_salt(day)
            if salt is not None:
                self._salts[day] = salt
        return salt

    def report(self, payload: Any, *, client: str, same_client: Sequence[str] = ()
               ) -> FeedbackResult:
        """Count a reported outcome of a resolve (resolveId, slug, callbackToken) or a search
        match (matchRecordId); re-issue the artifact's passport with the new evidence.

        Raises ``BadRequest`` (malformed), ``TokenInvalid`` (forged, expired, mismatched
        token), ``NotFound`` (unknown resolve or match) or ``Conflict`` (already reported):
        in every one of those cases nothing is counted.
        """
        if not isinstance(payload, Mapping):
            raise BadRequest("expected a JSON object")
        outcome = payload.get("outcome")
        if outcome not in OUTCOMES:
            raise BadRequest("outcome must be 'success' or 'failure'")
        comment = payload.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > COMMENT_MAX):
            raise BadRequest(f"comment must be a string of at most {COMMENT_MAX} characters")
        clicked = payload.get("clickedThrough")
        if clicked is not None and not isinstance(clicked, bool):
            raise BadRequest("clickedThrough must be true or false")
        source = payload.get("source")
        if source is not None and (not isinstance(source, str) or len(source) > 100):
            raise BadRequest("source must be a string of at most 100 characters")
        now = self._now()
        if payload.get("matchRecordId") is not None:
            match_id = payload["matchRecordId"]
            if not isinstance(match_id, str) or len(match_id) > 100:
                raise BadRequest("matchRecordId must be a string")
            match = self._store.match_record(match_id)
            if match is None:
                raise NotFound(f"no search match {match_id!r}")
            slug, cap_id, intent, confidence = (match.slug, match.cap_id, match.query,
                                                match.confidence)
            ref, kind = f"match:{match_id}", "match"
        else:
            resolve_id, given_slug, token = (payload.get(k) for k in
                                             ("resolveId", "slug", "callbackToken"))
            if not (isinstance(resolve_id, str) and isinstance(given_slug, str)
                    and isinstance(token, str)
                    and all(0 < len(v) <= 500 for v in (resolve_id, given_slug, token))):
                raise BadRequest("a resolve report needs resolveId, slug and callbackToken "
                                 "(or give matchRecordId for a search match)")
            slug = given_slug
            verify_token(self._secret(), token, resolve_id=resolve_id, slug=slug,
                         now=int(now.timestamp()))
            answered = self._store.resolve_record(resolve_id, slug)
            if answered is None:
                raise NotFound(f"resolve {resolve_id!r} did not answer with {slug!r}")
            cap_id, intent, confidence = answered.cap_id, answered.intent, answered.confidence
            ref, kind = f"resolve:{resolve_id}:{slug}", "resolve"
        record = FeedbackRecord(
            ref=ref, kind=kind, slug=slug, cap_id=cap_id, intent=intent, outcome=str(outcome),
            clicked=clicked, source=source, comment=comment, confidence=confidence,
            client=client, created_at=iso_ms(now),
            intent_vec=self._indexer.embed_intent(intent),
        )
        stored, counted = store_report(self._store, record, since=iso_ms(now - CAP_WINDOW),
                                       same_client=same_client)
        if not stored:
            raise Conflict("this resolve or match has already been reported")
        latest = self._store.latest(slug)
        if latest is None:
            raise NotFound(f"artifact {slug!r} is not in the registry", slug=slug)
        version = self.reissue(slug).version if counted else latest.version
        return FeedbackResult(counted, slug, cap_id, str(outcome), version)

    def outcomes(self, slug: str) -> Outcomes:
        """The counted evidence about an artifact."""
        return aggregate(self._store.counted_feedback(slug))

    def reissue(self, slug: str) -> StoredVersion:
        """Sign a new version of ``slug`` carrying its counted evidence (none when unchanged)."""
        def build(tx: WriteTransaction, latest: StoredVersion | None, number: int
                  ) -> NewVersion | None:
            if latest is None:
                return None
            # Read the evidence inside the write transaction: read before it, a report counted
            # meanwhile (another thread or process) would be dropped from the passport signed
            # here, after the other report's re-issue had already included it.
            old = json.loads(latest.passport)
            body = apply_outcomes(old["unfragile"], aggregate(tx.counted_feedback(slug)))
            if body == old["unfragile"]:
                return None
            provenance = {**old.get("provenance", {}), "trust.observed_outcomes": "observed"}
            source = json.loads(latest.source) if latest.source_kind == "manifest" else {}
            integrations = source.get("artifact", {}).get("integrations", [])
            return self._publishing.sign(
                body=body, number=number, now=self._now(), content_hash=latest.content_hash,
                source_kind=latest.source_kind, source=latest.source, provenance=provenance,
                numbers=latest.capability_numbers, integrations=list(integrations),
                summary=summary_of(latest.source_kind, latest.source), keep_index=True,
            )

        stored, _ = append_version(self._store, slug, build)
        return stored


def _hashed(salt: bytes, address: str) -> str:
    return "ip:" + hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:24]
