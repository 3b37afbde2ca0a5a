"""The compare page: two artifacts side by side, capabilities aligned, component leaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from capgraph.core.passport import COMPONENTS
from capgraph.http.web.catalog import Profile
from capgraph.http.web.chart import COMPONENT_LABELS
from capgraph.http.web.similarity import (
    ALIGN_THRESHOLD,
    EMBED_ALIGN_THRESHOLD,
    align,
    align_vectors,
)
from capgraph.http.web.views import Page, Site, closest_alternatives, with_query

__all__ = [
    "CapabilityRow",
    "CompareView",
    "ComponentRow",
    "Side",
    "compare_pair_view",
    "compare_picker_view",
    "split_pair",
]

SEPARATOR = "-vs-"


@dataclass(frozen=True)
class Side:
    slug: str
    name: str
    type: str
    score: int
    verified: bool
    status: str
    risk: str
    pricing: str
    capability_count: int
    permissions: int
    failure_modes: int


@dataclass(frozen=True)
class ComponentRow:
    key: str
    label: str
    a_value: float
    a_weight: float
    b_value: float
    b_weight: float
    leader: str  # "a" | "b" | "tie"

    @property
    def a_points(self) -> float:
        return self.a_value * self.a_weight * 100

    @property
    def b_points(self) -> float:
        return self.b_value * self.b_weight * 100


@dataclass(frozen=True)
class CapabilityRow:
    left: dict[str, Any] | None
    right: dict[str, Any] | None
    similarity: float


@dataclass(frozen=True)
class CompareView:
    page: Page
    a: Side | None = None
    b: Side | None = None
    components: list[ComponentRow] = field(default_factory=list)
    capabilities: list[CapabilityRow] = field(default_factory=list)
    target: Profile | None = None  # set on /compare?artifact=<slug>
    alternatives: list[tuple[Profile, float]] = field(default_factory=list)
    choices: list[Profile] = field(default_factory=list)
    threshold: float = ALIGN_THRESHOLD
    method: str = "tokens"  # how capabilities were aligned: "embeddings" | "tokens"
    message: str = ""

    @property
    def leads(self) -> dict[str, list[str]]:
        """Component labels each side leads on (by component value)."""
        out: dict[str, list[str]] = {"a": [], "b": []}
        for row in self.components:
            if row.leader in out:
                out[row.leader].append(row.label)
        return out

    @property
    def aligned_count(self) -> int:
        return sum(1 for r in self.capabilities if r.left is not None and r.right is not None)


def split_pair(pair: str, known: set[str]) -> tuple[str, str] | None:
    """Split ``<a>-vs-<b>`` where slugs may contain hyphens (and even ``-vs-``): the first
    split at which both halves are known artifacts wins."""
    start = 0
    while (i := pair.find(SEPARATOR, start)) != -1:
        a, b = pair[:i], pair[i + len(SEPARATOR):]
        if a in known and b in known:
            return a, b
        start = i + 1
    return None


def _body(site: Site, slug: str) -> dict[str, Any]:
    body: dict[str, Any] = site.registry.passport(slug).body()
    return body


def _side(body: dict[str, Any]) -> Side:
    a, t = body["artifact"], body["trust"]
    pricing = a["pricing"]["model"].replace("_", " ") + (f", from {a['pricing']['starting_price']}"
                                       if a["pricing"].get("starting_price") else "")
    return Side(
        slug=a["slug"], name=a["name"], type=a["type"], score=int(t["score"]),
        verified=bool(t["verified"]), status=a["status"], risk=t["data_access_risk"],
        pricing=pricing, capability_count=len(body["capabilities"]),
        permissions=len(t["permissions"]), failure_modes=len(t["failure_modes"]),
    )


def _components(a: dict[str, Any], b: dict[str, Any]) -> list[ComponentRow]:
    ra, rb = a["trust"]["rank_breakdown"], b["trust"]["rank_breakdown"]
    rows = []
    for c in COMPONENTS:
        va, vb = float(ra[c]), float(rb[c])
        leader = "a" if va > vb else "b" if vb > va else "tie"
        rows.append(ComponentRow(c, COMPONENT_LABELS[c], va, float(ra["weights"][c]), vb,
                                 float(rb["weights"][c]), leader))
    return rows


def _cap_text(c: dict[str, Any]) -> str:
    return f"{c['name']}. {c['description']}"


def compare_pair_view(site: Site, a_slug: str, b_slug: str, *,
                      target: Profile | None = None,
                      alternatives: list[tuple[Profile, float]] | None = None) -> CompareView:
    """``a`` and ``b`` side by side. Raises ``NotFound`` for an unknown slug."""
    a, b = _body(site, a_slug), _body(site, b_slug)
    left_text = [_cap_text(c) for c in a["capabilities"]]
    right_text = [_cap_text(c) for c in b["capabilities"]]
    vectors = site.catalog.text_vectors(left_text + right_text)
    threshold, method = ALIGN_THRESHOLD, "tokens"
    if vectors is None:
        rows = align(a["capabilities"], b["capabilities"], left_text=left_text,
                     right_text=right_text)
    else:
        threshold, method = EMBED_ALIGN_THRESHOLD, "embeddings"
        rows = align_vectors(a["capabilities"], b["capabilities"],
                             left_vectors=vectors[:len(left_text)],
                             right_vectors=vectors[len(left_text):])
    path = (with_query("/compare", artifact=target.slug) if target
            else f"/compare/{a_slug}{SEPARATOR}{b_slug}")
    na, nb = a["artifact"]["name"], b["artifact"]["name"]
    title = (f"Alternatives to {target.name}" if target else f"{na} vs {nb}")
    return CompareView(
        page=Page(title=title, path=path,
                  description=f"{na} and {nb} compared: capabilities and trust."),
        a=_side(a), b=_side(b), components=_components(a, b),
        capabilities=[CapabilityRow(r.left, r.right, r.similarity) for r in rows],
        threshold=threshold, method=method, target=target, alternatives=alternatives or [],
        choices=site.catalog.profiles(),
    )


def compare_picker_view(site: Site, *, artifact: str = "") -> CompareView:
    """``/compare`` (a form) or ``/compare?artifact=<slug>`` (the closest alternatives, and the
    closest one side by side)."""
    choices = site.catalog.profiles()
    target = site.catalog.get(artifact) if artifact else None
    if target is None:
        message = f"“{artifact}” is not in the registry." if artifact else ""
        return CompareView(
            page=Page(title="Compare artifacts", path="/compare",
                      description="Compare two AI artifacts side by side."),
            choices=choices, message=message,
        )
    alternatives = closest_alternatives(site.catalog, target)
    if not alternatives:
        return CompareView(
            page=Page(title=f"Alternatives to {target.name}",
                      path=with_query("/compare", artifact=target.slug)),
            target=target, choices=choices,
            message="No other artifact is similar to it in the registry yet.",
        )
    return compare_pair_view(site, target.slug, alternatives[0][0].slug, target=target,
                             alternatives=alternatives)
