"""Reference pages: methodology (rendered from the scoring code), the passport spec, the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from capgraph.core import scoring
from capgraph.core.passport import COMPONENTS
from capgraph.core.quality import CHECKLIST
from capgraph.core.taxonomy import ARTIFACT_TYPES
from capgraph.core.verification import METHODS
from capgraph.http.web.apidocs import Section, api_sections
from capgraph.http.web.chart import COMPONENT_LABELS
from capgraph.http.web.views import Page, Site

__all__ = [
    "DocsView",
    "KeyRow",
    "MethodologyView",
    "TrustView",
    "WeightRow",
    "docs_view",
    "methodology_view",
    "trust_view",
]

SCORE_FORMULA = "UnfragileRank = round_half_up(100 × Σ weight(type, c) × component(c))"


@dataclass(frozen=True)
class WeightRow:
    label: str
    weights: dict[str, float]

    @property
    def total(self) -> float:
        return round(sum(self.weights.values()), 4)


@dataclass(frozen=True)
class MethodologyView:
    page: Page
    formula: str
    components: list[tuple[str, str, str]]  # key, label, formula
    component_keys: tuple[str, ...]
    labels: dict[str, str]
    weight_rows: list[WeightRow]
    default_row: WeightRow
    other_types: list[str]
    scale_signals: list[str]
    adoption_scales: list[tuple[str, dict[str, int]]]
    checklist: list[tuple[str, int]]
    half_life: float
    match_prior: tuple[float, float]
    confidence_prior: tuple[float, float]
    adoption_floor: float  # adoption with no counted signal, e.g. an unverified builder's
    verification_methods: tuple[str, ...]
    not_counted: str  # what the score breakdown says of uncounted declared adoption
    adoption_prior_weight: float  # the most sourced adoption adds to a rank score
    adoption_prior_rule: str

    @property
    def checklist_total(self) -> int:
        return sum(p for _, p in self.checklist)


def methodology_view() -> MethodologyView:
    """The scoring method, straight from ``core/scoring.py`` and ``core/quality.py``."""
    signals = list(scoring.ADOPTION_SCALES["default"])
    return MethodologyView(
        page=Page(title="Methodology: how UnfragileRank is computed", path="/methodology",
                  description="The UnfragileRank formula, weight tables and component formulas."),
        formula=SCORE_FORMULA,
        components=[(c, COMPONENT_LABELS[c], scoring.COMPONENT_FORMULAS[c]) for c in COMPONENTS],
        component_keys=COMPONENTS,
        labels=COMPONENT_LABELS,
        weight_rows=[WeightRow(t, dict(w)) for t, w in scoring.WEIGHTS.items()],
        default_row=WeightRow("every other type", dict(scoring.DEFAULT_WEIGHTS)),
        other_types=[t for t in ARTIFACT_TYPES if t not in scoring.WEIGHTS],
        scale_signals=signals,
        adoption_scales=[(t, dict(s)) for t, s in scoring.ADOPTION_SCALES.items()],
        checklist=list(CHECKLIST.items()),
        half_life=scoring.FRESHNESS_HALF_LIFE_DAYS,
        match_prior=scoring.MATCH_GRAPH_PRIOR,
        confidence_prior=scoring.CONFIDENCE_PRIOR,
        adoption_floor=scoring.ADOPTION_FLOOR,
        verification_methods=METHODS,
        not_counted=scoring.NOT_COUNTED,
        adoption_prior_weight=scoring.ADOPTION_PRIOR_WEIGHT,
        adoption_prior_rule=scoring.ADOPTION_PRIOR_RULE.format(
            weight=scoring.ADOPTION_PRIOR_WEIGHT),
    )


@dataclass(frozen=True)
class KeyRow:
    kid: str
    purpose: str
    status: str
    not_before: str
    expires: str


@dataclass(frozen=True)
class TrustView:
    page: Page
    base_url: str
    keys: list[KeyRow]
    log_origin: str
    tree_size: int
    example_slug: str


def trust_view(site: Site) -> TrustView:
    """The passport spec, with this registry's current keys and log."""
    jwks = site.registry.jwks()
    keys = [
        KeyRow(kid=str(k.get("kid", "")), purpose=str(k.get("purpose", "passport signing")),
               status=str(k.get("status", "active")), not_before=str(k.get("nbf", "")),
               expires=str(k.get("exp", "")))
        for k in jwks.get("keys", [])
    ]
    head, _ = site.registry.checkpoint()
    profiles = site.catalog.profiles()
    return TrustView(
        page=Page(title="Trust passports: the spec", path="/trust",
                  description="Exactly which bytes of a passport are signed, and how to verify."),
        base_url=site.base_url, keys=keys, log_origin=head.origin, tree_size=head.size,
        example_slug=profiles[0].slug if profiles else "SLUG",
    )


@dataclass(frozen=True)
class DocsView:
    page: Page
    base_url: str
    sections: list[Section]
    openapi_url: str


def docs_view(site: Site, openapi: Mapping[str, Any], openapi_url: str) -> DocsView:
    """The HTTP API, read from the app's OpenAPI document."""
    return DocsView(
        page=Page(title="API reference", path="/docs",
                  description="Every endpoint of the capgraph HTTP API."),
        base_url=site.base_url, sections=api_sections(openapi), openapi_url=openapi_url,
    )
