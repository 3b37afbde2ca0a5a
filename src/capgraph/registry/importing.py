"""Importing: documents in other formats (``importers/``) become signed passport versions,
entry by entry, each refused on its own without stopping the others.

Each mapped entry is validated as a manifest and published like one, with three differences:
- provenance records the source format, the source URL and the time of the import
  (``import.format``, ``import.url``, ``import.at``);
- counts the source gave (a model card's downloads and likes) are *sourced*: they feed the
  adoption component as they are, verified builder or not (``core/verification.py`` keeps
  that rule for self-declared counts only), and the provenance says where they came from;
- the version's content hash covers the format, the mapped manifest and the sourced counts,
  not the URL or the time: importing the same input again stores nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from capgraph.core import scoring
from capgraph.core.canonical import canonical_bytes
from capgraph.core.compose import compose_body, iso_ms
from capgraph.core.feedback import aggregate
from capgraph.core.outcomes import apply_outcomes
from capgraph.core.passport import PassportBody
from capgraph.core.validation import validate_manifest
from capgraph.core.verification import Verification, verification_provenance
from capgraph.errors import CapgraphError, Conflict, ImportRefused, InvalidManifest
from capgraph.importers import (
    FORMATS,
    IMPORT_KEY,
    PASSPORT,
    Document,
    Mapped,
    PassportEntry,
    Refusal,
    read_document,
)
from capgraph.importers.server_json import FORMAT as SERVER_JSON
from capgraph.ports import DocumentFetcher, Store, StoredVersion, WriteTransaction
from capgraph.registry.indexing import Indexer, Vectors
from capgraph.registry.ownership import admit_writer
from capgraph.registry.publishing import (
    Publishing,
    PublishResult,
    content_hash,
)
from capgraph.registry.versions import NewVersion
from capgraph.search.documents import documents_for

__all__ = ["IMPORT_FORMATS", "PASSPORT_FORMAT", "EntryOutcome", "ImportReport", "Importing",
           "Progress", "imported_original"]

log = logging.getLogger(__name__)
IMPORT_FORMATS = FORMATS
PASSPORT_FORMAT = PASSPORT
Progress = Callable[[int, int, "EntryOutcome"], None]


@dataclass(frozen=True)
class EntryOutcome:
    """What became of one entry: ``status`` is ``new``, ``updated`` (a new version),
    ``unchanged`` or ``refused`` (with ``errors``, and the error itself in ``error``)."""

    index: int
    name: str | None
    status: str
    slug: str | None = None
    version: int | None = None
    score: int | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: CapgraphError | None = field(default=None, compare=False, repr=False)
    result: PublishResult | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "name": self.name, "status": self.status}
        if self.slug is not None:
            out.update({"slug": self.slug, "version": self.version, "score": self.score})
        if self.errors:
            out["errors"] = list(self.errors)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True)
class ImportReport:
    """A document's import: its format, where it came from, and each entry's outcome."""

    format: str
    source: str | None
    entries: list[EntryOutcome]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("new", "updated", "unchanged", "refused"), 0)
        for entry in self.entries:
            out[entry.status] += 1
        return out

    def raise_if_nothing_stored(self) -> None:
        """Raise when every entry was refused: the single entry's own error (``NotOwner``,
        ``InvalidManifest``, ...) for a one-entry document, else ``ImportRefused``."""
        if not self.entries or any(e.status != "refused" for e in self.entries):
            return
        if len(self.entries) == 1 and self.entries[0].error is not None:
            raise self.entries[0].error
        refused = len(self.entries)
        raise ImportRefused(f"all {refused} entr{'y was' if refused == 1 else 'ies were'} "
                            "refused; nothing was stored",
                            entries=[e.to_json() for e in self.entries])


def imported_original(stored: StoredVersion) -> dict[str, Any] | None:
    """The server.json a version was imported from, as it came; None for anything else."""
    if stored.source_kind != "manifest":
        return None
    marker = json.loads(stored.source).get(IMPORT_KEY)
    if not isinstance(marker, dict) or marker.get("format") != SERVER_JSON:
        return None
    original = marker.get("original")
    return original if isinstance(original, dict) else None


def _verification(tx: WriteTransaction, slug: str) -> Verification | None:
    owned = tx.ownership(slug)
    if owned is None or owned.verification is None:
        return None
    return Verification.from_json(owned.verification)


class Importing:
    """Reads documents (bytes, or a URL through the ``DocumentFetcher`` port) with the
    importers and stores each entry as a signed version."""

    def __init__(self, *, store: Store, publishing: Publishing, indexer: Indexer,
                 fetcher: DocumentFetcher, public_url: str, now: Callable[[], datetime],
                 after_write: Callable[[str], None], max_bytes: int) -> None:
        self._store = store
        self._publishing = publishing
        self._indexer = indexer
        self._fetcher = fetcher
        self._public_url = public_url
        self._now = now
        self._after_write = after_write
        self._max_bytes = max_bytes

    def import_url(self, url: str, *, fmt: str | None = None, publisher_id: str | None = None,
                   progress: Progress | None = None) -> ImportReport:
        """Fetch ``url`` (https, same-host redirects, public addresses, ``max_bytes``) and
        import it; a failed fetch is one refused entry."""
        fetched = self._fetcher.fetch(url)
        if fetched.body is None:
            return self._refused(fmt or "unknown", url, f"could not fetch {url}: "
                                 f"{fetched.problem}", progress)
        return self.import_document(fetched.body, fmt=fmt, source_url=fetched.url,
                                    publisher_id=publisher_id, progress=progress)

    def import_document(self, data: bytes, *, fmt: str | None = None,
                        source_url: str | None = None, publisher_id: str | None = None,
                        progress: Progress | None = None) -> ImportReport:
        """Import every entry of ``data`` for ``publisher_id`` (None: the operator).
        ``progress(done, total, outcome)`` is called after each entry."""
        if len(data) > self._max_bytes:
            return self._refused(fmt or "unknown", source_url,
                                 f"the document is {len(data):,} bytes; at most "
                                 f"{self._max_bytes:,} are imported", progress)
        document = read_document(data, fmt=fmt, source_url=source_url)
        return self._import(document, source_url, publisher_id, progress)

    def _refused(self, fmt: str, source: str | None, reason: str,
                 progress: Progress | None) -> ImportReport:
        outcome = EntryOutcome(0, None, "refused", errors=(reason,))
        if progress:
            progress(1, 1, outcome)
        return ImportReport(fmt, source, [outcome])

    def _import(self, document: Document, source_url: str | None, publisher_id: str | None,
                progress: Progress | None) -> ImportReport:
        outcomes: list[EntryOutcome] = []
        total = len(document.entries)
        for index, entry in enumerate(document.entries):
            outcome = self._entry(index, entry, document.format, source_url, publisher_id)
            outcomes.append(outcome)
            if progress:
                progress(index + 1, total, outcome)
        return ImportReport(document.format, source_url, outcomes)

    def _entry(self, index: int, entry: Mapped | PassportEntry | Refusal, fmt: str,
               source_url: str | None, publisher_id: str | None) -> EntryOutcome:
        if isinstance(entry, Refusal):
            return EntryOutcome(index, entry.name, "refused", errors=entry.reasons,
                                error=entry.error)
        try:
            if isinstance(entry, PassportEntry):
                result = self._publishing.import_passport(entry.document,
                                                          publisher_id=publisher_id)
            else:
                result = self.import_mapped(entry, fmt=str(entry.manifest[IMPORT_KEY]["format"]),
                                            source_url=source_url, publisher_id=publisher_id)
        except CapgraphError as exc:
            reasons = ([f"{f.path}: {f.message}" for f in exc.findings if f.severity == "error"]
                       if isinstance(exc, InvalidManifest) else [exc.message])
            return EntryOutcome(index, entry.name, "refused", errors=tuple(reasons), error=exc)
        stored = result.stored
        status = ("new" if stored.version == 1 else "updated") if result.created else "unchanged"
        return EntryOutcome(index, entry.name, status, slug=stored.slug, version=stored.version,
                            score=stored.score, result=result,
                            warnings=tuple(f"{f.path}: {f.message}" for f in result.warnings))

    def import_mapped(self, mapped: Mapped, *, fmt: str, source_url: str | None,
                      publisher_id: str | None) -> PublishResult:
        """Validate a mapped manifest and store it as a signed version (see the module
        docstring). Raises ``InvalidManifest``, ``NotOwner`` or ``Conflict`` (a server name
        whose slug holds another server); nothing is written on any error."""
        manifest, findings = validate_manifest(mapped.manifest)
        findings = [f for f in findings if f.path != IMPORT_KEY]
        if manifest is None:
            raise InvalidManifest(findings)
        slug = manifest.artifact.slug
        digest = content_hash({"format": fmt, "manifest": manifest.raw,
                               "sourced": mapped.sourced})
        current = self._store.latest(slug)
        if fmt == SERVER_JSON and current is not None:
            held = imported_original(current)
            if held is None or held.get("name") != mapped.name:
                raise Conflict(f"the slug {slug!r} of {mapped.name!r} already holds another "
                               "artifact", slug=slug)
        vectors: Vectors = {}
        if current is None or current.content_hash != digest:
            draft = compose_body(manifest, now=self._now(), public_url=self._public_url,
                                 numbers=current.capability_numbers if current else None)
            vectors = self._indexer.embed(documents_for(
                draft.body.to_json(), summary=manifest.artifact.description))
        where = source_url or "an uploaded document"
        integrations = [s for s in manifest.artifact.integrations if s != slug]
        references_in, references_out = self._publishing.references(slug, integrations)

        def build(tx: WriteTransaction, latest: StoredVersion | None, number: int
                  ) -> NewVersion | None:
            now = self._now()
            admit_writer(tx, slug, publisher_id, exists=latest is not None, url=manifest.url,
                         at=iso_ms(now))
            if latest is not None and latest.content_hash == digest:
                return None
            verification = _verification(tx, slug)
            composed = compose_body(manifest, now=now, public_url=self._public_url,
                                    numbers=latest.capability_numbers if latest else None,
                                    references_in=references_in,
                                    references_out=references_out, verification=verification)
            body = composed.body.to_json()
            provenance = {**composed.provenance, **verification_provenance(verification)}
            if mapped.sourced:
                trust = body["trust"]
                trust["community"] = {**trust["community"], **mapped.sourced}
                breakdown = trust["rank_breakdown"]
                breakdown["adoption"] = scoring.adoption(manifest.artifact.type,
                                                         trust["community"]).value
                trust["score"] = scoring.score(breakdown, breakdown["weights"])
                provenance["trust.community"] = f"sourced: {fmt} ({where})"
            for name in mapped.sourced_fields:
                provenance[name] = f"sourced: {fmt} ({where})"
            provenance.update({"import.format": fmt, "import.url": source_url or "(uploaded)",
                               "import.at": iso_ms(now)})
            evidence = aggregate(tx.counted_feedback(slug))
            if evidence.reports:
                body = apply_outcomes(body, evidence)
            body = PassportBody.from_json(body).to_json()
            return self._publishing.sign(
                body=body, number=number, now=now, content_hash=digest, source_kind="manifest",
                source=canonical_bytes(manifest.raw).decode(), provenance=provenance,
                numbers=composed.capability_numbers, integrations=integrations,
                summary=manifest.artifact.description, vectors=vectors,
            )

        return self._publishing.append(slug, build, findings, what=f"imported ({fmt})")
