"""The Registry: capgraph's use cases (validate, publish, import, read, verify), over ports."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from capgraph.core import translog
from capgraph.core.callback import verify_token
from capgraph.core.canonical import canonical_bytes
from capgraph.core.checkpoint import Checkpoint, NoteVerifier, sign_checkpoint
from capgraph.core.compose import compose_body, iso_ms, rescore
from capgraph.core.explain_score import explain_score
from capgraph.core.feedback import (
    CAP_WINDOW,
    COMMENT_MAX,
    OUTCOMES,
    PER_CLIENT_CAP,
    aggregate,
)
from capgraph.core.manifest import Manifest, parse_manifest_text
from capgraph.core.outcomes import Outcomes, apply_outcomes
from capgraph.core.passport import Passport, PassportBody, links_for
from capgraph.core.signing import SigningKey, verify_passport
from capgraph.core.validation import validate_manifest
from capgraph.errors import (
    BadRequest,
    Conflict,
    Finding,
    InvalidManifest,
    InvalidPassport,
    NotFound,
    SignatureInvalid,
    Unauthorized,
)
from capgraph.ports import (
    ApiKeyRecord,
    ArtifactSummary,
    Embedder,
    FeedbackRecord,
    KeyRing,
    NewVersion,
    Store,
    StoredVersion,
)
from capgraph.search.cards import card_json
from capgraph.search.documents import SearchDoc, documents_for
from capgraph.search.engine import SearchEngine
from capgraph.search.keyword import KeywordIndex
from capgraph.search.learning import LearnedIndex
from capgraph.search.resolver import Resolver
from capgraph.search.results import SearchResult
from capgraph.search.vectors import VectorIndex

__all__ = ["PublishResult", "Registry", "SystemClock", "ValidationReport", "VerifyReport"]

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class ValidationReport:
    findings: list[Finding]

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [f.to_json() for f in self.findings if f.severity == "error"],
            "warnings": [f.to_json() for f in self.findings if f.severity == "warning"],
        }


@dataclass(frozen=True)
class PublishResult:
    stored: StoredVersion
    created: bool
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.stored.slug,
            "version": self.stored.version,
            "created": self.created,
            "score": self.stored.score,
            "contentHash": self.stored.content_hash,
            "warnings": [f.to_json() for f in self.findings if f.severity == "warning"],
        }


@dataclass(frozen=True)
class VerifyReport:
    valid: bool
    key_id: str | None
    reasons: list[str]
    slug: str | None = None
    version: int | None = None
    signed_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "slug": self.slug,
            "version": self.version,
            "keyId": self.key_id,
            "signedAt": self.signed_at,
            "reasons": self.reasons,
        }


def _hash(data: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_bytes(data)).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Registry:
    """The application service. Transports (HTTP, CLI, MCP) call only this."""

    def __init__(
        self,
        *,
        store: Store,
        keys: KeyRing,
        registry_name: str,
        public_url: str,
        clock: Callable[[], datetime] | None = None,
        log_origin: str | None = None,
        embedder: Embedder | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.registry_name = registry_name
        self.public_url = public_url.rstrip("/")
        self._default_origin = log_origin or f"{urlparse(self.public_url).netloc}/log"
        self._log_key: tuple[SigningKey, str] | None = None
        self._now = clock or SystemClock().now
        self._checkpoints: dict[int, tuple[Checkpoint, str]] = {}
        self.embedder = embedder
        self.vectors = (VectorIndex(store, dim=embedder.dim,
                                    snapshot=index_dir / "vectors.npz" if index_dir else None)
                        if embedder is not None else None)
        self.learned = LearnedIndex(store, dim=embedder.dim) if embedder is not None else None
        self.keywords = KeywordIndex(store, path=index_dir / "keyword" if index_dir else None)
        self.engine = SearchEngine(store, keywords=self.keywords, embedder=embedder,
                                   vectors=self.vectors, learned=self.learned)
        self._callback_secret: bytes | None = None
        self.resolver = Resolver(store=store, engine=self.engine, secret=self.callback_secret,
                                 now=self._now)
        self._envelopes: dict[tuple[str, str], tuple[int, bytes]] = {}
        self._envelope_lock = threading.Lock()

    # -- manifests ---------------------------------------------------------------------------
    def validate(self, text: str | bytes, *, hint: str | None = None) -> ValidationReport:
        """Parse and validate manifest text. Malformed input raises ``ParseError``."""
        data = parse_manifest_text(text, hint=hint)
        _, findings = validate_manifest(data)
        return ValidationReport(findings)

    def publish(self, text: str | bytes, *, hint: str | None = None) -> PublishResult:
        """Validate a manifest and store it as a new signed passport version.

        Publishing content identical to the latest version stores nothing and returns it.
        Raises ``ParseError`` or ``InvalidManifest``; nothing is written on any error.
        """
        data = parse_manifest_text(text, hint=hint)
        manifest, findings = validate_manifest(data)
        if manifest is None:
            raise InvalidManifest(findings)
        return self._publish_manifest(manifest, findings)

    def _publish_manifest(self, manifest: Manifest, findings: list[Finding]) -> PublishResult:
        slug = manifest.artifact.slug
        content_hash = _hash(manifest.raw)
        integrations = [s for s in manifest.artifact.integrations if s != slug]
        references_out = len(self.store.existing(integrations))
        references_in = self.store.references_to(slug)
        summary = manifest.artifact.description
        # Embed outside the write transaction (tens of milliseconds): the texts do not depend
        # on what the transaction reads, only their capability ids might.
        current = self.store.latest(slug)
        if current is not None and current.content_hash == content_hash:
            return PublishResult(current, False, findings)
        draft = compose_body(manifest, now=self._now(), public_url=self.public_url,
                             numbers=current.capability_numbers if current else None)
        vectors = self._embed(documents_for(draft.body.to_json(), summary=summary))

        def build(latest: StoredVersion | None, number: int) -> NewVersion | None:
            if latest is not None and latest.content_hash == content_hash:
                return None
            now = self._now()
            composed = compose_body(
                manifest,
                now=now,
                public_url=self.public_url,
                numbers=latest.capability_numbers if latest else None,
                references_in=references_in,
                references_out=references_out,
            )
            body = composed.body.to_json()
            evidence = self.outcomes(slug)
            if evidence.reports:
                body = apply_outcomes(body, evidence)
            return self._sign_version(
                slug=slug, body=body, number=number, now=now, content_hash=content_hash,
                source_kind="manifest", source=canonical_bytes(manifest.raw).decode(),
                provenance=composed.provenance, numbers=composed.capability_numbers,
                integrations=integrations, summary=summary, vectors=vectors,
            )

        stored, created = self.store.append(slug, build)
        if created:
            log.info("published %s version %d", slug, stored.version)
            try:  # the publisher brings the shared keyword index up to date, not a reader
                self.keywords.sync()
            except Exception:  # the version is stored: the next search applies it instead
                log.exception("keyword index update after publishing %s failed", slug)
        return PublishResult(stored, created, findings)

    def import_passport(self, document: Mapping[str, Any], *, summary: str | None = None
                        ) -> PublishResult:
        """Store a passport from another registry (an envelope or a bare ``passport`` object).

        Its components are kept and its score recomputed from them (PROTOCOL.md B.5); it is
        re-signed by this registry. ``summary``, when given, is the artifact's description for
        the search index (passport bodies carry none). Raises ``InvalidPassport`` for anything
        off the format.
        """
        if not isinstance(document, Mapping):
            raise InvalidPassport("expected a JSON object")
        inner = document.get("passport", document)
        if not isinstance(inner, Mapping) or "unfragile" not in inner:
            raise InvalidPassport("expected {'passport': {'unfragile': ...}} or a passport object")
        body = rescore(PassportBody.from_json(inner["unfragile"]).to_json())
        body = PassportBody.from_json(body).to_json()
        slug = body["artifact"]["slug"]
        content_hash = _hash(body)
        provenance = {
            "source": f"imported: signed by {inner.get('signedBy', 'unknown')} "
            f"at {inner.get('signedAt', 'unknown')}",
            "trust.score": "derived",
        }

        current = self.store.latest(slug)
        if current is not None and current.content_hash == content_hash:
            return PublishResult(current, False, [])
        vectors = self._embed(documents_for(body, summary=summary))

        def build(latest: StoredVersion | None, number: int) -> NewVersion | None:
            if latest is not None and latest.content_hash == content_hash:
                return None
            return self._sign_version(
                slug=slug, body=body, number=number, now=self._now(),
                content_hash=content_hash, source_kind="import",
                source=canonical_bytes(body).decode(), provenance=provenance, numbers={},
                integrations=[], summary=summary, vectors=vectors,
            )

        stored, created = self.store.append(slug, build)
        return PublishResult(stored, created, [])

    def _sign_version(
        self, *, slug: str, body: dict[str, Any], number: int, now: datetime, content_hash: str,
        source_kind: str, source: str, provenance: dict[str, str], numbers: dict[str, int],
        integrations: list[str], summary: str | None = None,
        vectors: dict[tuple[str, str], bytes] | None = None, keep_vectors: bool = False,
    ) -> NewVersion:
        key = self.keys.signing_key(now)
        # A rotation (``capgraph keys rotate``, another process) can land between the caller's
        # clock read and the key-ring read; signing at that earlier ``now`` would date the
        # passport before its key's window and it would never verify. Read the clock again.
        now = max(now, self._now())
        unsigned = Passport(
            unfragile=body, signature="", signed_at=iso_ms(now), signed_by=self.registry_name,
            version=number, key_id=key.kid, provenance=provenance,
        )
        signature = key.sign(unsigned.to_json())
        signed = Passport(**{**unsigned.__dict__, "signature": signature})
        docs = documents_for(body, summary=summary)
        cap_vectors = None
        if self.embedder is not None and not keep_vectors:
            known = vectors or {}
            missing = [d for d in docs if d.dense_texts() not in known]
            known = {**known, **self._embed(missing)}
            cap_vectors = [(d.cap_id, known[d.dense_texts()]) for d in docs]
        return NewVersion(
            log_leaf=canonical_bytes(signed.to_json()),
            search_docs=docs,
            vectors=cap_vectors,
            slug=slug, name=body["artifact"]["name"], artifact_type=body["artifact"]["type"],
            score=body["trust"]["score"], content_hash=content_hash, source_kind=source_kind,
            source=source, passport=signed.to_bytes(), key_id=key.kid, created_at=iso_ms(now),
            capability_numbers=numbers, integrations=integrations, card=card_json(body),
        )

    def rebuild_index(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-derive every artifact's keyword, intent and vector entries from its latest
        version (after a model or text change), then save the vector snapshot. Returns the
        number of artifacts reindexed."""
        total = self.store.count()
        done = 0
        offset = 0
        while True:
            page = self.store.artifacts(limit=500, offset=offset)
            if not page:
                break
            offset += len(page)
            for row in page:
                stored = self.store.latest(row.slug)
                if stored is None:
                    continue
                body = json.loads(stored.passport)["unfragile"]
                summary = None
                if stored.source_kind == "manifest":
                    summary = json.loads(stored.source).get("artifact", {}).get("description")
                docs = documents_for(body, summary=summary)
                vectors = None
                if self.embedder is not None:
                    embedded = self._embed(docs)
                    vectors = [(d.cap_id, embedded[d.dense_texts()]) for d in docs]
                self.store.reindex(row.slug, row.artifact_type, docs, vectors)
                done += 1
                if progress is not None:
                    progress(done, total)
        self.keywords.rebuild()
        if self.vectors is not None:
            self.vectors.sync()
            self.vectors.save_snapshot()
        return done

    def _embed(self, docs: list[SearchDoc]) -> dict[tuple[str, str], bytes]:
        """Each document's dense vector (the mean of its two texts' embeddings) as float16
        bytes, keyed by its texts; empty without an embedder."""
        if self.embedder is None or not docs:
            return {}
        pairs = list(dict.fromkeys(d.dense_texts() for d in docs))
        texts = list(dict.fromkeys(t for pair in pairs for t in pair))
        vectors: dict[str, Any] = {}
        for start in range(0, len(texts), 32):
            batch = texts[start:start + 32]
            for text, row in zip(batch, self.embedder.embed(batch), strict=True):
                vectors[text] = row
        return {pair: ((vectors[pair[0]] + vectors[pair[1]]) / 2).astype("float16").tobytes()
                for pair in pairs}

    # -- reading -----------------------------------------------------------------------------
    def passport(self, slug: str, *, version: int | None = None) -> StoredVersion:
        """The latest (or a given) version of an artifact; ``NotFound`` when there is none."""
        stored = (self.store.latest(slug) if version is None
                  else self.store.version(slug, version))
        if stored is None:
            what = f"artifact {slug!r}" + (f" version {version}" if version is not None else "")
            raise NotFound(f"{what} is not in the registry", slug=slug)
        return stored

    def versions(self, slug: str) -> list[StoredVersion]:
        history = self.store.versions(slug)
        if not history:
            raise NotFound(f"artifact {slug!r} is not in the registry", slug=slug)
        return history

    def artifacts(self, *, artifact_type: str | None = None, limit: int = 100, offset: int = 0
                  ) -> list[ArtifactSummary]:
        return self.store.artifacts(artifact_type=artifact_type, limit=limit, offset=offset)

    def envelope_bytes(self, slug: str, base_url: str, *, version: int | None = None) -> bytes:
        """The served envelope ``{"passport": ..., "_links": ...}`` as bytes.

        Latest versions are cached per (slug, base URL) until any process writes; the stored
        passport bytes are spliced in unchanged, never re-serialised.
        """
        if version is not None:
            return self._envelope(self.passport(slug, version=version), base_url)
        # One cheap read per GET: any process's write shows on the very next request
        # (BENCHMARKS.md: ~7% of the fast path's CPU, kept for that guarantee).
        generation = self.store.generation()
        cached = self._envelopes.get((slug, base_url))
        if cached is not None and cached[0] == generation:
            return cached[1]
        data = self._envelope(self.passport(slug), base_url)
        with self._envelope_lock:
            if len(self._envelopes) > 50_000:
                self._envelopes.clear()
            self._envelopes[(slug, base_url)] = (generation, data)
        return data

    def _envelope(self, stored: StoredVersion, base_url: str) -> bytes:
        links = json.dumps(links_for(base_url, stored.slug), separators=(",", ":")).encode()
        proof = json.dumps(self.log_proof_for(stored), separators=(",", ":")).encode()
        return (b'{"passport":' + stored.passport + b',"_links":' + links + b',"_log":' + proof
                + b"}")

    # -- search ------------------------------------------------------------------------------
    def search(self, q: str, *, limit: int = 5, artifact_type: str | None = None
               ) -> SearchResult:
        """Artifacts whose capabilities match a query, best first (``search/engine.py``).
        Each match is remembered under its ``matchRecordId`` so it can be reported on."""
        result = self.engine.search(q, limit=limit, artifact_type=artifact_type)
        now = iso_ms(self._now())
        rows = [(m.match_record_id, m.slug, m.capabilities[0].id if m.capabilities else "",
                 result.query, m.match_score, now) for m in result.matches]
        if rows:
            self.store.record_matches(rows)
        return result

    def callback_secret(self) -> bytes:
        """The HMAC key of callback tokens (kept with the signing keys)."""
        if self._callback_secret is None:
            self._callback_secret = self.keys.secret("callback")
        return self._callback_secret

    def resolve(self, intent: str, *, limit: int = 3, artifact_type: str | None = None,
                risk: str = "default", capability: str | None = None,
                base_url: str | None = None) -> dict[str, Any]:
        """The best capability for an intent (``search/resolver.py``)."""
        result = self.resolver.resolve(intent, limit=limit, artifact_type=artifact_type,
                                       risk=risk, capability=capability,
                                       base_url=base_url or self.public_url)
        items = [(r["artifact"]["slug"], r["capability"]["id"], r["matchConfidence"])
                 for r in result["resolved"]]
        if items:
            self.store.record_resolve(result["resolveId"], result["intent"],
                                      result["resolvedAt"], items)
        return result

    def score_breakdown(self, slug: str, *, version: int | None = None) -> dict[str, Any]:
        """Each component's value, weight, contribution and how it was reached."""
        stored = self.passport(slug, version=version)
        passport = json.loads(stored.passport)
        manifest = None
        if stored.source_kind == "manifest":
            manifest, _ = validate_manifest(json.loads(stored.source))
        origin = passport.get("provenance", {}).get("source")
        out = explain_score(passport["unfragile"], manifest=manifest, imported_from=origin)
        out.update({"slug": slug, "version": stored.version})
        return out

    # -- outcomes ----------------------------------------------------------------------------
    def client_id(self, address: str) -> str:
        """A salted hash of a client address. The salt changes every day and old salts are
        deleted after two days, so stored ids cannot be linked back to an address or across
        days (docs/PRIVACY.md)."""
        return self.client_ids(address)[0]

    def client_ids(self, address: str) -> tuple[str, ...]:
        """The address's id today (``client_id``, what a report stores), then its id under
        yesterday's salt while that salt is kept: compared with stored reports only, never
        stored, so that the per-client cap over the last 24 hours does not start afresh when
        the salt changes at midnight UTC."""
        now = self._now()
        salt = self.keys.secret(f"client-salt-{now:%Y%m%d}")
        self.keys.prune_secrets("client-salt-", keep=2)
        ids = [self._hashed(salt, address)]
        earlier = self.keys.existing_secret(f"client-salt-{now - timedelta(days=1):%Y%m%d}")
        if earlier is not None:
            ids.append(self._hashed(earlier, address))
        return tuple(ids)

    @staticmethod
    def _hashed(salt: bytes, address: str) -> str:
        return "ip:" + hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:24]

    def feedback(self, payload: Any, *, client: str, same_client: Sequence[str] = ()
                 ) -> dict[str, Any]:
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
            found = self.store.match_record(match_id)
            if found is None:
                raise NotFound(f"no search match {match_id!r}")
            slug, cap_id, intent, confidence = found
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
            verify_token(self.callback_secret(), token, resolve_id=resolve_id, slug=slug,
                         now=int(now.timestamp()))
            record = self.store.resolve_record(resolve_id, slug)
            if record is None:
                raise NotFound(f"resolve {resolve_id!r} did not answer with {slug!r}")
            cap_id, intent, confidence = record
            ref, kind = f"resolve:{resolve_id}:{slug}", "resolve"
        vector = None
        if self.embedder is not None and intent:
            vector = self.embedder.embed([intent])[0].astype("float16").tobytes()
        stored, counted = self.store.add_feedback(
            FeedbackRecord(ref=ref, kind=kind, slug=slug, cap_id=cap_id, intent=intent,
                           outcome=str(outcome), clicked=clicked, source=source,
                           comment=comment, confidence=confidence, client=client,
                           created_at=iso_ms(now), intent_vec=vector),
            per_client_cap=PER_CLIENT_CAP, since=iso_ms(now - CAP_WINDOW),
            same_client=same_client,
        )
        if not stored:
            raise Conflict("this resolve or match has already been reported")
        version = self.passport(slug).version
        if counted:
            version = self._reissue_with_outcomes(slug).version
        return {"accepted": True, "counted": counted, "slug": slug, "capability": cap_id,
                "outcome": outcome, "passportVersion": version}

    def outcomes(self, slug: str) -> Outcomes:
        """The counted evidence about an artifact."""
        return aggregate(self.store.counted_feedback(slug))

    def _reissue_with_outcomes(self, slug: str) -> StoredVersion:
        def build(latest: StoredVersion | None, number: int) -> NewVersion | None:
            if latest is None:
                return None
            # Read the evidence inside the write transaction: read before it, a report counted
            # meanwhile (another thread or process) would be dropped from the passport signed
            # here, after the other report's re-issue had already included it.
            outcomes = self.outcomes(slug)
            old = json.loads(latest.passport)
            body = apply_outcomes(old["unfragile"], outcomes)
            if body == old["unfragile"]:
                return None
            provenance = {**old.get("provenance", {}), "trust.observed_outcomes": "observed"}
            source = json.loads(latest.source) if latest.source_kind == "manifest" else {}
            summary = source.get("artifact", {}).get("description")
            integrations = source.get("artifact", {}).get("integrations", [])
            return self._sign_version(
                slug=slug, body=body, number=number, now=self._now(),
                content_hash=latest.content_hash, source_kind=latest.source_kind,
                source=latest.source, provenance=provenance,
                numbers=latest.capability_numbers, integrations=list(integrations),
                summary=summary, keep_vectors=True,
            )

        stored, _ = self.store.append(slug, build)
        return stored

    # -- transparency log --------------------------------------------------------------------
    def checkpoint(self) -> tuple[Checkpoint, str]:
        """The current tree head and its signed note (C2SP tlog-checkpoint)."""
        size = self.store.log_size()
        cached = self._checkpoints.get(size)
        if cached is not None:
            return cached
        key, origin = self._log_identity()
        head = Checkpoint(origin, size, translog.tree_hash(self.store.log_node, size))
        note = sign_checkpoint(head, key, name=origin)
        if len(self._checkpoints) > 1024:
            self._checkpoints.clear()
        self._checkpoints[size] = (head, note)
        return head, note

    def _log_identity(self) -> tuple[SigningKey, str]:
        if self._log_key is None:
            self._log_key = self.keys.log_key(self._now(), self._default_origin)
        return self._log_key

    @property
    def log_origin(self) -> str:
        return self._log_identity()[1]

    def log_verifier(self) -> NoteVerifier:
        """The signed-note verifier key of the log's checkpoints."""
        key, origin = self._log_identity()
        return NoteVerifier(origin, key.public.raw)

    def log_proof_for(self, stored: StoredVersion) -> dict[str, Any]:
        """The ``_log`` block of an envelope: where the version sits in the log, and proof."""
        head, note = self.checkpoint()
        proof = translog.inclusion_proof(self.store.log_node, stored.log_index, head.size)
        leaf = self.store.log_entries(stored.log_index, stored.log_index + 1)[0]
        return {
            "index": stored.log_index,
            "treeSize": head.size,
            "leafHash": _b64(translog.leaf_hash(leaf)),
            "inclusionProof": [_b64(h) for h in proof],
            "checkpoint": note,
        }

    def _check_range(self, low: int, high: int, what: str) -> int:
        size = self.store.log_size()
        if not 0 <= low < high <= size:
            raise BadRequest(f"{what} must satisfy 0 <= start < end <= tree size ({size})")
        return size

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        """``{index, treeSize, leafHash, hashes}`` for entry ``index`` in the tree of ``size``."""
        self._check_range(index, size, "index and size")
        leaf = self.store.log_entries(index, index + 1)[0]
        proof = translog.inclusion_proof(self.store.log_node, index, size)
        return {"index": index, "treeSize": size, "leafHash": _b64(translog.leaf_hash(leaf)),
                "hashes": [_b64(h) for h in proof]}

    def consistency(self, old_size: int, size: int) -> dict[str, Any]:
        """``{from, treeSize, hashes}`` proving the tree of ``old_size`` is a prefix."""
        self._check_range(old_size - 1, size, "from and size")
        proof = translog.consistency_proof(self.store.log_node, old_size, size)
        return {"from": old_size, "treeSize": size, "hashes": [_b64(h) for h in proof]}

    def log_entries(self, start: int, end: int) -> list[bytes]:
        """Leaf data of entries [start, end), at most 1000 at a time."""
        self._check_range(start, end, "start and end")
        if end - start > 1000:
            raise BadRequest("at most 1000 entries per request")
        return self.store.log_entries(start, end)

    # -- keys and verification ---------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        """The JWK Set of every signing key, with status and validity window."""
        self.keys.signing_key(self._now())
        keys = [k.to_jwk() for k in self.keys.public_keys().values()]
        log_jwk = self._log_identity()[0].public.to_jwk()
        log_jwk.update({"purpose": "checkpoint", "verifierKey": self.log_verifier().encode()})
        return {"keys": [*keys, log_jwk]}

    def verify_document(self, document: Any) -> VerifyReport:
        """Verify a posted envelope or passport object against this registry's keys."""
        if not isinstance(document, Mapping):
            raise BadRequest("expected a JSON object: a passport envelope or passport object")
        inner = document.get("passport", document)
        if not isinstance(inner, Mapping):
            raise BadRequest("'passport' must be an object")
        return self._verify(inner)

    def verify_slug(self, slug: str) -> VerifyReport:
        """Verify what the registry serves now for ``slug``."""
        stored = self.passport(slug)
        return self._verify(json.loads(stored.passport))

    def _verify(self, passport: Mapping[str, Any]) -> VerifyReport:
        body = passport.get("unfragile")
        slug = None
        if isinstance(body, Mapping) and isinstance(body.get("artifact"), Mapping):
            slug = body["artifact"].get("slug")
        version = passport.get("version")
        signed_at = passport.get("signedAt")
        key_id = passport.get("keyId")
        report = VerifyReport(
            valid=False,
            key_id=key_id if isinstance(key_id, str) else None,
            reasons=[],
            slug=slug if isinstance(slug, str) else None,
            version=version if isinstance(version, int) else None,
            signed_at=signed_at if isinstance(signed_at, str) else None,
        )
        try:
            key = verify_passport(passport, self.keys.public_keys())
        except SignatureInvalid as exc:
            return replace(report, reasons=exc.reasons)
        return replace(report, valid=True, key_id=key.kid)

    # -- API keys ----------------------------------------------------------------------------
    def create_api_key(self, name: str) -> tuple[str, str]:
        """A new API key: returns (key id, secret). Only a hash of the secret is stored."""
        key_id = "key_" + secrets.token_hex(6)
        secret = "cg_" + secrets.token_urlsafe(32)
        self.store.add_api_key(key_id, name, _hash_secret(secret), iso_ms(self._now()))
        return key_id, secret

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key; ``NotFound`` when there is no such key."""
        if not self.store.revoke_api_key(key_id):
            raise NotFound(f"no API key {key_id}")

    def authenticate(self, secret: str | None) -> ApiKeyRecord:
        """The API key a secret belongs to; ``Unauthorized`` when missing, unknown or revoked."""
        if not secret:
            raise Unauthorized("this endpoint needs an API key (Authorization: Bearer <key>)")
        record = self.store.api_key_by_hash(_hash_secret(secret))
        if record is None or record.revoked:
            raise Unauthorized("the API key is unknown or revoked")
        return record

    # -- demo data ---------------------------------------------------------------------------
    def load_demo(self) -> tuple[int, int]:
        """Publish the bundled demo manifests. Returns (created, unchanged)."""
        created = unchanged = 0
        folder = resources.files("capgraph.demo").joinpath("manifests")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".yml", ".yaml")):
                result = self.publish(entry.read_text(encoding="utf-8"), hint="yaml")
                created += result.created
                unchanged += not result.created
        return created, unchanged
