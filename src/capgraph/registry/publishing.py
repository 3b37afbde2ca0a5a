"""Publishing: validate a manifest, import a passport, and sign new versions of either."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from capgraph.core import scoring
from capgraph.core.canonical import canonical_bytes
from capgraph.core.compose import compose_body, iso_ms, rescore
from capgraph.core.feedback import aggregate
from capgraph.core.manifest import Manifest, parse_manifest_text
from capgraph.core.outcomes import apply_outcomes
from capgraph.core.passport import Passport, PassportBody
from capgraph.core.signing import verify_passport
from capgraph.core.validation import validate_manifest
from capgraph.core.verification import (
    VERIFICATION_PROVENANCE_KEYS,
    Verification,
    apply_verification,
    verification_provenance,
)
from capgraph.errors import CapgraphError, Finding, InvalidManifest, InvalidPassport
from capgraph.ports import KeyRing, OwnershipRecord, Store, StoredVersion, WriteTransaction
from capgraph.registry.indexing import Indexer, Vectors, summary_of
from capgraph.registry.ownership import admit_writer
from capgraph.registry.versions import NewVersion, append_version
from capgraph.search.cards import card_json
from capgraph.search.documents import documents_for

__all__ = ["PublishResult", "Publishing", "ValidationReport", "integrations_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationReport:
    findings: list[Finding]

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


@dataclass(frozen=True)
class PublishResult:
    stored: StoredVersion
    created: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


class _Checked(Exception):
    """Raised inside a write transaction to roll it back after a check passed."""


def _verification(owned: OwnershipRecord | None) -> Verification | None:
    if owned is None or owned.verification is None:
        return None
    return Verification.from_json(owned.verification)


def integrations_of(stored: StoredVersion) -> list[str]:
    """The integrations a stored version's manifest names (an import names none)."""
    if stored.source_kind != "manifest":
        return []
    named = json.loads(stored.source).get("artifact", {}).get("integrations", [])
    return [s for s in named if isinstance(s, str) and s != stored.slug]


def content_hash(data: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_bytes(data)).hexdigest()


class Publishing:
    """Turns manifests and imported passports into signed, logged, indexed versions."""

    def __init__(self, *, store: Store, keys: KeyRing, indexer: Indexer, registry_name: str,
                 public_url: str, now: Callable[[], datetime],
                 after_write: Callable[[str], None]) -> None:
        self._store = store
        self._keys = keys
        self._indexer = indexer
        self._registry_name = registry_name
        self._public_url = public_url
        self._now = now
        self._after_write = after_write

    def validate(self, text: str | bytes, *, hint: str | None = None) -> ValidationReport:
        """Parse and validate manifest text. Malformed input raises ``ParseError``."""
        _, findings = validate_manifest(parse_manifest_text(text, hint=hint))
        return ValidationReport(findings)

    def publish(self, text: str | bytes, *, hint: str | None = None,
                publisher_id: str | None = None) -> PublishResult:
        """Validate a manifest and store it as a new signed passport version, for
        ``publisher_id`` (None: the operator; see ``registry/ownership.py``).

        Publishing content identical to the latest version stores nothing and returns it.
        Raises ``ParseError``, ``InvalidManifest`` or ``NotOwner``; nothing is written on
        any error.
        """
        manifest, findings = validate_manifest(parse_manifest_text(text, hint=hint))
        if manifest is None:
            raise InvalidManifest(findings)
        return self._publish_manifest(manifest, findings, publisher_id)

    def _publish_manifest(self, manifest: Manifest, findings: list[Finding],
                          publisher_id: str | None) -> PublishResult:
        slug = manifest.artifact.slug
        digest = content_hash(manifest.raw)
        integrations = [s for s in manifest.artifact.integrations if s != slug]
        references_in, references_out = self.references(slug, integrations)
        summary = manifest.artifact.description
        current = self._store.latest(slug)
        self._check_writer(slug, publisher_id, manifest.url)
        if current is not None and current.content_hash == digest:
            return PublishResult(current, False, findings)
        # Embed outside the write transaction (tens of milliseconds): the texts do not depend
        # on what the transaction reads, only their capability ids might.
        draft = compose_body(manifest, now=self._now(), public_url=self._public_url,
                             numbers=current.capability_numbers if current else None)
        vectors = self._indexer.embed(documents_for(draft.body.to_json(), summary=summary))

        def build(tx: WriteTransaction, latest: StoredVersion | None, number: int
                  ) -> NewVersion | None:
            now = self._now()
            owned = admit_writer(tx, slug, publisher_id, exists=latest is not None,
                                 url=manifest.url, at=iso_ms(now))
            if latest is not None and latest.content_hash == digest:
                return None
            verification = _verification(owned)
            composed = compose_body(
                manifest, now=now, public_url=self._public_url,
                numbers=latest.capability_numbers if latest else None,
                references_in=references_in, references_out=references_out,
                verification=verification,
            )
            body = composed.body.to_json()
            evidence = aggregate(tx.counted_feedback(slug))
            if evidence.reports:
                body = apply_outcomes(body, evidence)
            return self.sign(
                body=body, number=number, now=now, content_hash=digest,
                source_kind="manifest", source=canonical_bytes(manifest.raw).decode(),
                provenance={**composed.provenance, **verification_provenance(verification)},
                numbers=composed.capability_numbers,
                integrations=integrations, summary=summary, vectors=vectors,
            )

        return self.append(slug, build, findings)

    def import_passport(self, document: Mapping[str, Any], *, summary: str | None = None,
                        publisher_id: str | None = None) -> PublishResult:
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
        url = body["artifact"].get("url")
        self._check_writer(slug, publisher_id, url)  # before anything else: 403, not "unchanged"
        own = self._own_version(slug, inner)
        if own is not None:
            return PublishResult(own, False, [])
        digest = content_hash(body)
        provenance = {
            "source": f"imported: signed by {inner.get('signedBy', 'unknown')} "
            f"at {inner.get('signedAt', 'unknown')}",
            "trust.score": "derived",
        }
        current = self._store.latest(slug)
        if current is not None and current.content_hash == digest:
            return PublishResult(current, False, [])
        vectors = self._indexer.embed(documents_for(body, summary=summary))

        def build(tx: WriteTransaction, latest: StoredVersion | None, number: int
                  ) -> NewVersion | None:
            admit_writer(tx, slug, publisher_id, exists=latest is not None, url=url,
                         at=iso_ms(self._now()))
            if latest is not None and latest.content_hash == digest:
                return None
            return self.sign(
                body=body, number=number, now=self._now(), content_hash=digest,
                source_kind="import", source=canonical_bytes(body).decode(),
                provenance=provenance, numbers={}, integrations=[], summary=summary,
                vectors=vectors,
            )

        return self.append(slug, build, [])

    def references(self, slug: str, integrations: Sequence[str]) -> tuple[int, int]:
        """The ecosystem component's counts now: artifacts naming ``slug`` as an integration,
        and those of ``integrations`` that are in the registry."""
        return self._store.references_to(slug), len(self._store.existing(integrations))

    def rescore_partners(self, stored: StoredVersion, before: Sequence[str] = ()
                         ) -> list[StoredVersion]:
        """After ``stored``, a new version: re-issue every artifact whose ecosystem counts it
        may have changed, so that no score depends on the order artifacts arrived in
        (docs/TRUST.md). Those are the artifacts it names now or its previous version named
        (``before``: their references in changed) and the artifacts that name it (their
        references out count it once it is in the registry). Each is re-issued only when its
        ecosystem value changes; returns the new versions."""
        slug = stored.slug
        partners = sorted({*before, *integrations_of(stored), *self._store.referrers(slug)}
                          - {slug})
        out = []
        for partner in self._store.existing(partners):
            reissued = self.rescore_ecosystem(partner, because=slug)
            if reissued is not None:
                out.append(reissued)
        return out

    def rescore_ecosystem(self, slug: str, *, because: str) -> StoredVersion | None:
        """Sign a new version of ``slug`` whose ecosystem component (and so score) counts
        the registry as it is now, when that differs from its latest version's; else None.
        Imported passports keep their components (PROTOCOL.md B.5) and are left alone."""
        current = self._store.latest(slug)
        if current is None or current.source_kind != "manifest":
            return None
        integrations = integrations_of(current)
        component = scoring.ecosystem(*self.references(slug, integrations))

        def build(tx: WriteTransaction, latest: StoredVersion | None, number: int
                  ) -> NewVersion | None:
            if latest is None or latest.version != current.version:
                return None  # a newer version counted the references itself
            old = json.loads(latest.passport)
            body = copy.deepcopy(old["unfragile"])
            breakdown = body["trust"]["rank_breakdown"]
            if breakdown["ecosystem"] == component.value:
                return None
            breakdown["ecosystem"] = component.value
            provenance = dict(old.get("provenance") or {})
            provenance["trust.ecosystem"] = (
                f"re-issued after {because} arrived or changed: {component.explanation}")
            return self._reissue(latest, number, rescore(body), provenance)

        stored, created = append_version(self._store, slug, build)
        if not created:
            return None
        log.info("re-issued %s version %d: ecosystem %s", slug, stored.version,
                 component.value)
        self._after_write(slug)
        return stored

    def _own_version(self, slug: str, passport: Mapping[str, Any]) -> StoredVersion | None:
        """The stored latest version of ``slug`` when ``passport`` is one this registry
        signed (its signature verifies under our own keys): such a passport is already in
        the log, so importing it again changes nothing (no new version, no frozen
        components, no lost provenance)."""
        try:
            verify_passport(passport, self._keys.public_keys())
        except CapgraphError:
            return None
        return self._store.latest(slug)

    def _check_writer(self, slug: str, publisher_id: str | None, url: str | None) -> None:
        """Refuse a writer early, before any embedding; the write transaction checks again."""
        owned = self._store.ownership(slug)
        if publisher_id is None or (owned is None and self._store.latest(slug) is None):
            return
        try:
            with self._store.write() as tx:
                admit_writer(tx, slug, publisher_id, exists=True, url=url, at="")
                raise _Checked  # roll back whatever admitting a writer would have written
        except _Checked:
            pass

    def reissue_verification(self, slug: str, verification: Verification | None
                             ) -> StoredVersion:
        """Sign a new version of ``slug`` with ``verification`` (None: unverified), when it
        changes the body."""
        def build(tx: WriteTransaction, latest: StoredVersion | None, number: int
                  ) -> NewVersion | None:
            if latest is None:
                return None
            old = json.loads(latest.passport)
            community = None  # an import keeps its adoption as imported
            sourced = old.get("provenance", {}).get("trust.community", "").startswith("sourced")
            if latest.source_kind == "manifest" and not sourced:  # sourced counts stay counted
                manifest, _ = validate_manifest(json.loads(latest.source))
                community = manifest.community if manifest is not None else None
            body = apply_verification(old["unfragile"], verification,
                                      manifest_community=community)
            if body == old["unfragile"]:
                return None
            provenance = {k: v for k, v in old.get("provenance", {}).items()
                          if k not in VERIFICATION_PROVENANCE_KEYS}
            provenance.update(verification_provenance(verification))
            return self._reissue(latest, number, body, provenance)

        stored, created = append_version(self._store, slug, build)
        if created:
            self._after_write(slug)
        return stored

    def resign(self, slug: str) -> StoredVersion | None:
        """When the latest version of ``slug`` was signed with a revoked key, sign the same
        body again with the current key as a new version (logged like any other); else None."""
        def build(tx: WriteTransaction, latest: StoredVersion | None, number: int
                  ) -> NewVersion | None:
            if latest is None:
                return None
            key = self._keys.public_keys().get(latest.key_id)
            if key is None or key.status != "revoked":
                return None
            old = json.loads(latest.passport)
            provenance = dict(old.get("provenance") or {})
            provenance["resigned"] = f"re-signed: version {latest.version} was signed with " \
                f"revoked key {latest.key_id}"
            return self._reissue(latest, number, old["unfragile"], provenance)

        stored, created = append_version(self._store, slug, build)
        if created:
            self._after_write(slug)
            return stored
        return None

    def append(self, slug: str, build: Any, findings: list[Finding], *,
               what: str = "stored") -> PublishResult:
        """Store the version ``build`` makes (publish and import), then re-score the partners
        whose ecosystem counts it changed."""
        before = self._store.latest(slug)
        stored, created = append_version(self._store, slug, build)
        if created:
            log.info("%s %s version %d", what, slug, stored.version)
            self._after_write(slug)
            self.rescore_partners(stored, integrations_of(before) if before else [])
        return PublishResult(stored, created, findings)

    def _reissue(self, latest: StoredVersion, number: int, body: dict[str, Any],
                 provenance: dict[str, str]) -> NewVersion:
        """A new version of ``latest`` with another body or provenance: the same source,
        content hash, capability numbers and index entries."""
        return self.sign(
            body=body, number=number, now=self._now(), content_hash=latest.content_hash,
            source_kind=latest.source_kind, source=latest.source, provenance=provenance,
            numbers=latest.capability_numbers, integrations=integrations_of(latest),
            summary=summary_of(latest.source_kind, latest.source), keep_index=True,
        )

    def sign(
        self, *, body: dict[str, Any], number: int, now: datetime, content_hash: str,
        source_kind: str, source: str, provenance: dict[str, str], numbers: dict[str, int],
        integrations: list[str], summary: str | None = None, vectors: Vectors | None = None,
        keep_index: bool = False,
    ) -> NewVersion:
        """A signed version of ``body`` with everything stored beside it. ``keep_index``:
        a re-issue whose indexed text did not change (trust, verification, outcomes or the
        signing key did), so the artifact's index entries (declared intents, keyword
        documents, vectors) stay as they are and no index is rewritten."""
        key = self._keys.signing_key(now)
        # A rotation (``capgraph keys rotate``, another process) can land between the caller's
        # clock read and the key-ring read; signing at that earlier ``now`` would date the
        # passport before its key's window and it would never verify. Read the clock again.
        now = max(now, self._now())
        unsigned = Passport(
            unfragile=body, signature="", signed_at=iso_ms(now), signed_by=self._registry_name,
            version=number, key_id=key.kid, provenance=provenance,
        )
        signed = Passport(**{**unsigned.__dict__, "signature": key.sign(unsigned.to_json())})
        docs = None if keep_index else documents_for(body, summary=summary)
        return NewVersion(
            name=body["artifact"]["name"], artifact_type=body["artifact"]["type"],
            score=body["trust"]["score"], content_hash=content_hash, source_kind=source_kind,
            source=source, passport=signed.to_bytes(), key_id=key.kid, created_at=iso_ms(now),
            log_leaf=canonical_bytes(signed.to_json()), capability_numbers=numbers,
            integrations=integrations, search_docs=docs,
            vectors=None if docs is None else self._indexer.vectors_for(docs, vectors),
            card=card_json(body, provenance),
        )
