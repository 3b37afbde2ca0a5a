"""View models: what each page shows, built from the Registry once per request.

The HTML template and the markdown template of a page both render the same view model, so a
person and an agent always see the same facts.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from capgraph.core.invocation import Invocation, invocation_for, missing_sentence
from capgraph.core.offline import verify_envelope, verify_inclusion
from capgraph.core.taxonomy import ARTIFACT_TYPES
from capgraph.errors import CapgraphError, ProofInvalid, SignatureInvalid
from capgraph.http.web.catalog import Catalog, Profile
from capgraph.http.web.chart import ScoreChart, score_chart
from capgraph.http.web.history import VersionEntry, history
from capgraph.http.web.ownership import (
    ClaimGuide,
    OwnershipPanel,
    StartedClaim,
    claim_guide,
    find_claim,
    ownership_panel,
    started_claim,
)
from capgraph.http.web.similarity import closest
from capgraph.registry import Registry
from capgraph.search.results import SearchResult

__all__ = [
    "SLUG_PATTERN",
    "ArtifactView",
    "HomeView",
    "LogCheck",
    "NotFoundView",
    "Page",
    "SearchHit",
    "SignatureCheck",
    "Site",
    "SubmitView",
    "artifact_view",
    "closest_alternatives",
    "home_view",
    "not_found_view",
    "submit_view",
    "with_query",
]

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$"
SEARCH_LIMIT = 10


@dataclass(frozen=True)
class Site:
    """What every view needs: the registry, the artifact catalog, and the URL it is served at."""

    registry: Registry
    catalog: Catalog
    base_url: str


@dataclass(frozen=True)
class Page:
    """Head-of-page facts: title, the HTML path (with its query) and a one-line description."""

    title: str
    path: str
    description: str = ""
    noindex: bool = False

    @property
    def mirror(self) -> str:
        """The path of this page's markdown mirror for agents."""
        return "/agent" + self.path


def with_query(path: str, **params: str | None) -> str:
    """``path`` with the non-empty parameters as a query string."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path


# -- home / search -------------------------------------------------------------------------


@dataclass(frozen=True)
class CapabilityHit:
    name: str
    uri: str
    match_score: float


@dataclass(frozen=True)
class SearchHit:
    slug: str
    name: str
    type: str
    rank: int
    verified: bool
    description: str
    match_score: float
    capabilities: list[CapabilityHit]


@dataclass(frozen=True)
class HomeView:
    page: Page
    query: str
    type_filter: str
    types: tuple[str, ...]
    total: int
    hits: list[SearchHit] | None = None  # None: no query, show the listing
    intent: str = ""
    listing: list[Profile] = field(default_factory=list)
    message: str = ""


def _search(registry: Registry, q: str, artifact_type: str | None) -> SearchResult:
    return registry.search(q, limit=SEARCH_LIMIT, artifact_type=artifact_type)


def home_view(site: Site, *, q: str, type_filter: str) -> HomeView:
    """Search results for ``q`` (when given) or every artifact by UnfragileRank."""
    q = q.strip()
    message = ""
    if type_filter and type_filter not in ARTIFACT_TYPES:
        message = f"“{type_filter}” is not an artifact type; showing every type."
        type_filter = ""
    page = Page(
        title=f"“{q}”: search" if q else "Find AI capabilities you can trust",
        path=with_query("/", q=q, type=type_filter),
        description="Search an open registry of AI capabilities with signed trust passports.",
    )
    base = HomeView(page=page, query=q, type_filter=type_filter, types=ARTIFACT_TYPES,
                    total=site.registry.count(), message=message)
    if not q:
        listing = [p for p in site.catalog.profiles() if not type_filter or p.type == type_filter]
        return replace(base, listing=listing)
    try:
        result = _search(site.registry, q, type_filter or None)
    except CapgraphError as exc:
        return replace(base, hits=[], message=exc.message)
    hits = [
        SearchHit(
            slug=m.slug, name=m.name, type=m.type, rank=m.unfragile_rank, verified=m.verified,
            description=m.description, match_score=m.match_score,
            capabilities=[CapabilityHit(c.name, c.uri, c.match_score) for c in m.capabilities],
        )
        for m in result.matches
    ]
    return replace(base, hits=hits, intent=result.intent)


# -- artifact --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureCheck:
    """``Registry.verify_slug``: the signature over what the registry serves now."""

    valid: bool
    key_id: str | None
    signed_at: str | None
    signed_by: str
    version: int | None
    reasons: list[str]


@dataclass(frozen=True)
class LogCheck:
    """``verify_envelope``: the signature again, and the inclusion proof under the checkpoint."""

    valid: bool
    index: int | None
    tree_size: int | None
    origin: str
    detail: str


@dataclass(frozen=True)
class ArtifactView:
    page: Page
    slug: str
    artifact: dict[str, Any]
    capabilities: list[dict[str, Any]]
    trust: dict[str, Any]
    chart: ScoreChart
    provenance: dict[str, str]
    signature: SignatureCheck
    log: LogCheck
    versions: list[VersionEntry]
    alternatives: list[tuple[Profile, float]]
    links: dict[str, str]
    ownership: OwnershipPanel
    declared: dict[str, Any] = field(default_factory=dict)

    @property
    def permissions(self) -> list[str]:
        """The access scopes the builder declared (not the capabilities' requirements)."""
        return list(self.declared.get("permissions") or [])

    @property
    def requirements(self) -> list[str]:
        """What the capabilities need, which the seeds' shape keeps in ``trust.permissions``."""
        return list(self.trust.get("permissions") or [])

    @property
    def execution(self) -> list[tuple[str, str]]:
        """The declared execution facts that are set, as (label, value) pairs."""
        ex = self.declared.get("execution") or {}
        labels = (("protocol", "Protocol"), ("auth_method", "Authentication"),
                  ("auth_header", "Key header"), ("endpoint", "Endpoint"), ("method", "Method"),
                  ("path", "Path"), ("command", "Command"), ("install", "Install"))
        return [(label, str(ex[key])) for key, label in labels if ex.get(key)]

    @functools.cached_property
    def invocation(self) -> Invocation:
        """How to call it, from the declared execution facts alone (made as resolve makes
        its invocation; the page passes the passport's requirements, resolve those of the
        answering capability). Made once per page."""
        return invocation_for(slug=self.slug, artifact_type=self.artifact["type"],
                              url=self.artifact["url"], execution=self.declared.get("execution"),
                              requires=self.requirements)

    @property
    def invocation_gaps(self) -> str:
        """A sentence naming the execution facts the snippet had to leave open."""
        if not self.declared:
            return ("This passport was imported: it carries no declared execution facts, so "
                    "there is no call to show beyond the artifact's URL.")
        return missing_sentence(self.invocation.missing)

    @property
    def risk_source(self) -> str:
        """Whether ``data_access_risk`` was declared by the publisher or derived."""
        return self.provenance.get("trust.data_access_risk", "as published")

    @property
    def community(self) -> list[tuple[str, int]]:
        counts = self.trust.get("community", {})
        return [(k.replace("_", " "), v) for k, v in counts.items() if isinstance(v, int)]


def _inclusion_only(envelope: dict[str, Any], jwks: dict[str, Any]) -> str:
    """When the signature fails, say whether the log still holds these exact bytes."""
    try:
        verify_inclusion(envelope, jwks)
    except SignatureInvalid:
        return "the checkpoint is not signed by a published log key"
    except ProofInvalid as exc:
        if exc.extra.get("malformed"):
            return exc.message
        return (f"the served passport is not the entry the log holds at index "
                f"{envelope['_log'].get('index')}: it was changed after it was logged")
    return "the log holds these exact bytes, but their signature does not verify"


def _check_log(envelope: dict[str, Any], jwks: dict[str, Any]) -> LogCheck:
    log = envelope.get("_log") or {}
    index, size = log.get("index"), log.get("treeSize")
    try:
        result = verify_envelope(envelope, jwks, require_log=True)
    except SignatureInvalid:
        try:
            detail = _inclusion_only(envelope, jwks)
        except (CapgraphError, KeyError, TypeError, ValueError) as exc:
            detail = f"malformed _log block: {exc}"
        return LogCheck(False, index, size, "", detail)
    except CapgraphError as exc:
        return LogCheck(False, index, size, "", exc.message)
    head = result.checkpoint
    if head is None:  # require_log=True makes this unreachable; keep mypy and readers sure
        return LogCheck(False, index, size, "", "no checkpoint")
    return LogCheck(True, result.log_index, head.size, head.origin,
                    "inclusion proof verified against the signed checkpoint")


def artifact_view(site: Site, slug: str) -> ArtifactView:
    """Everything on an artifact's page; ``NotFound`` when the slug is not in the registry."""
    registry = site.registry
    envelope = json.loads(registry.envelope_bytes(slug, site.base_url))
    passport = envelope["passport"]
    body = passport["unfragile"]
    report = registry.verify_slug(slug)
    signature = SignatureCheck(
        valid=report.valid, key_id=report.key_id, signed_at=report.signed_at,
        signed_by=str(passport.get("signedBy", "")), version=report.version,
        reasons=report.reasons,
    )
    rb = body["trust"]["rank_breakdown"]
    target = site.catalog.get(slug)
    alternatives = (closest_alternatives(site.catalog, target) if target is not None else [])
    name = body["artifact"]["name"]
    return ArtifactView(
        page=Page(title=name, path=f"/{slug}",
                  description=f"Capabilities, trust passport and version history of {name}."),
        slug=slug,
        artifact=body["artifact"],
        capabilities=body["capabilities"],
        trust=body["trust"],
        chart=score_chart(rb, rb["weights"], score=int(body["trust"]["score"])),
        provenance=dict(passport.get("provenance") or {}),
        signature=signature,
        log=_check_log(envelope, registry.jwks()),
        versions=history(registry.versions(slug)),
        alternatives=alternatives,
        links={
            "passport": f"/api/v1/passport/{slug}",
            "verify": f"/api/v1/verify?slug={slug}",
            "versions": f"/api/v1/artifacts/{slug}/versions",
            "jwks": "/api/v1/trust-passport-public-key",
            "checkpoint": "/api/v1/log/checkpoint",
        },
        ownership=ownership_panel(registry, slug, registry.ownership(slug)),
        declared=dict(body.get("declared") or {}),
    )


def closest_alternatives(catalog: Catalog, target: Profile, limit: int = 3
                         ) -> list[tuple[Profile, float]]:
    """The artifacts most like ``target`` (see ``similarity.py``), best first: by the search
    index's vectors, or by token overlap when the registry has no embedding model."""
    profiles = {p.slug: p for p in catalog.profiles()}
    space = catalog.capability_space()
    if space:
        return [(profiles[slug], s) for slug, s in space.closest(target.slug, limit=limit * 2)
                if slug in profiles][:limit]
    found = closest(target.candidate, (p.candidate for p in profiles.values()), limit=limit)
    return [(profiles[c.slug], s) for c, s in found]


# -- submit and not found ----------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitView:
    page: Page
    claim: str
    known: Profile | None
    base_url: str
    guide: ClaimGuide
    ownership: OwnershipPanel | None = None  # the known artifact's, now
    started: StartedClaim | None = None  # the claim ``claimId`` names
    notice: str = ""  # why ``claimId`` shows nothing
    elsewhere: str = ""  # the page of a claim that is about another artifact
    status: int = 200


def _artifact_url(registry: Registry, slug: str) -> str:
    url = registry.passport(slug).body()["artifact"].get("url")
    return url if isinstance(url, str) else ""


def submit_view(site: Site, *, claim: str, claim_id: str = "") -> SubmitView:
    """How to publish, and how to claim an artifact step by step; with ``claim_id``, that
    started claim's token, status and instructions."""
    claim, claim_id = claim.strip(), claim_id.strip()
    found = find_claim(site.registry, claim_id) if claim_id else None
    if found is not None and found.kind == "artifact" and not claim:
        claim = found.subject
    known = site.catalog.get(claim) if claim else None
    url = _artifact_url(site.registry, known.slug) if known else ""
    notice, elsewhere, status, started = "", "", 200, None
    if claim_id and found is None:
        notice, status = (f"No claim “{claim_id}” is known to this registry (404): start one "
                          "(step 2) and open the address it gives."), 404
    elif found is not None and found.kind == "artifact" and found.subject != claim:
        notice = (f"Claim “{claim_id}” is about the artifact “{found.subject}”, not "
                  f"“{claim}”.")
        elsewhere = with_query("/submit", claim=found.subject, claimId=claim_id)
        found = None
    elif found is not None:
        started = started_claim(found, url)
    title = f"Claim {known.name}" if known else "Submit or claim an artifact"
    guide_claim = found if found is not None and found.kind == "artifact" else None
    return SubmitView(
        page=Page(title=title, path=with_query("/submit", claim=claim, claimId=claim_id),
                  description="How builders publish manifests and claim their artifacts.",
                  noindex=status != 200),
        claim=claim, known=known, base_url=site.base_url,
        guide=claim_guide(site.base_url, known.slug if known else "<slug>", url,
                          claim=guide_claim),
        ownership=(ownership_panel(site.registry, known.slug,
                                   site.registry.ownership(known.slug)) if known else None),
        started=started, notice=notice, elsewhere=elsewhere, status=status,
    )


@dataclass(frozen=True)
class NotFoundView:
    page: Page
    message: str


def not_found_view(path: str, message: str) -> NotFoundView:
    return NotFoundView(page=Page(title="Not found", path=path, noindex=True), message=message)
