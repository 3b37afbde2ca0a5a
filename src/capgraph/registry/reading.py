"""Reading what is stored: passports and their served envelopes, versions, listings, and
how a score was reached."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from capgraph.core.explain_score import explain_score
from capgraph.core.passport import links_for
from capgraph.core.validation import validate_manifest
from capgraph.errors import NotFound
from capgraph.ports import ArtifactSummary, StoredVersion, VersionStore
from capgraph.registry.translog import TransparencyLog

__all__ = ["Reading"]

ENVELOPES_CACHED = 50_000  # latest envelopes, per slug
VERSIONS_CACHED = 20_000  # envelopes per (slug, version), least recently used dropped first


class Reading:
    def __init__(self, *, store: VersionStore, log: TransparencyLog, public_url: str) -> None:
        self._store = store
        self._log = log
        self._public_url = public_url.rstrip("/")
        self._envelopes: dict[str, tuple[int, bytes]] = {}  # slug -> (generation, envelope)
        self._envelope_lock = threading.Lock()
        self._versions: OrderedDict[tuple[str, int], tuple[bytes, bytes]] = OrderedDict()

    def passport(self, slug: str, *, version: int | None = None) -> StoredVersion:
        """The latest (or a given) version of an artifact; ``NotFound`` when there is none."""
        stored = (self._store.latest(slug) if version is None
                  else self._store.version(slug, version))
        if stored is None:
            what = f"artifact {slug!r}" + (f" version {version}" if version is not None else "")
            raise NotFound(f"{what} is not in the registry", slug=slug)
        return stored

    def versions(self, slug: str) -> list[StoredVersion]:
        """Every version, oldest first; ``NotFound`` when there is none."""
        history = self._store.versions(slug)
        if not history:
            raise NotFound(f"artifact {slug!r} is not in the registry", slug=slug)
        return history

    def artifacts(self, *, artifact_type: str | None = None, limit: int = 100, offset: int = 0
                  ) -> list[ArtifactSummary]:
        return self._store.artifacts(artifact_type=artifact_type, limit=limit, offset=offset)

    def count(self, *, artifact_type: str | None = None) -> int:
        return self._store.count(artifact_type=artifact_type)

    def envelope_bytes(self, slug: str, base_url: str, *, version: int | None = None) -> bytes:
        """The served envelope ``{"passport": ..., "_links": ..., "_log": ...}`` as bytes.

        Only envelopes for the configured public URL are cached: the base URL comes from the
        request's Host header, which a client chooses, so a cache keyed on it would grow with
        every made-up Host. Other base URLs are served built afresh. The stored passport
        bytes are spliced in unchanged, never re-serialised.

        A version's envelope never changes once written (its proof is for the tree its entry
        made), so envelopes are kept per (slug, version), least recently used dropped first;
        the latest one per slug is kept until any process writes, then looked up again: a
        write costs each slug one read of its latest version, not a new signed checkpoint.
        """
        if base_url.rstrip("/") != self._public_url:
            return self._envelope(self.passport(slug, version=version), base_url)
        if version is not None:
            return self._version_envelope(slug, version)
        # One cheap read per GET: any process's write shows on the very next request
        # (BENCHMARKS.md: ~7% of the fast path's CPU, kept for that guarantee).
        generation = self._store.generation()
        cached = self._envelopes.get(slug)
        if cached is not None and cached[0] == generation:
            return cached[1]
        stored = self.passport(slug)
        data = self._version_envelope(slug, stored.version, stored)
        with self._envelope_lock:
            if len(self._envelopes) > ENVELOPES_CACHED:
                self._envelopes.clear()
            self._envelopes[slug] = (generation, data)
        return data

    def version_envelope(self, stored: StoredVersion) -> bytes:
        """The envelope of a version already read from the store, for the public URL."""
        return self._version_envelope(stored.slug, stored.version, stored)

    def _version_envelope(self, slug: str, version: int, stored: StoredVersion | None = None
                          ) -> bytes:
        """A version's envelope for the public URL, cached. When the caller has just read the
        stored version (the latest-version path, after a write), the cached envelope is used
        only if it holds those very passport bytes: what the store holds is what is served,
        even if its bytes were changed behind the registry's back (pages then show the
        signature and the log entry failing on the same bytes)."""
        key = (slug, version)
        with self._envelope_lock:
            cached = self._versions.get(key)
            if cached is not None and (stored is None or cached[0] == stored.passport):
                self._versions.move_to_end(key)
                return cached[1]
        current = stored or self.passport(slug, version=version)
        data = self._envelope(current, self._public_url)
        with self._envelope_lock:
            self._versions[key] = (current.passport, data)
            if len(self._versions) > VERSIONS_CACHED:
                self._versions.popitem(last=False)
        return data

    def _envelope(self, stored: StoredVersion, base_url: str) -> bytes:
        links = json.dumps(links_for(base_url, stored.slug), separators=(",", ":")).encode()
        proof = json.dumps(self._log.proof_for(stored), separators=(",", ":")).encode()
        return (b'{"passport":' + stored.passport + b',"_links":' + links + b',"_log":' + proof
                + b"}")

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
