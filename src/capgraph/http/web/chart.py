"""The score chart: one bar per weighted component, laid out here, drawn as inline SVG.

Each bar's track is as long as the most points the component can give (weight x 100) and
its fill as long as the points it gives (component value x weight x 100), so the fills add
up to the score. The template draws the SVG with text labels and the same numbers as a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from capgraph.core.passport import COMPONENTS

__all__ = ["COMPONENT_LABELS", "Bar", "ScoreChart", "score_chart"]

COMPONENT_LABELS = {
    "adoption": "Adoption", "quality": "Quality", "ecosystem": "Ecosystem",
    "match_graph": "Match graph", "freshness": "Freshness",
}  # fmt: skip

_LABEL_W = 150  # room for the component name left of the bars
_TRACK_W = 270  # the longest track (the largest weight)
_ROW_H = 34
_BAR_H = 18


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: float
    weight: float
    points: float  # value x weight x 100
    max_points: float  # weight x 100
    y: int
    track: float  # SVG lengths
    fill: float


@dataclass(frozen=True)
class ScoreChart:
    bars: list[Bar]
    total: float
    score: int
    width: int
    height: int
    label_width: int
    bar_height: int

    @property
    def summary(self) -> str:
        """A sentence saying what the chart shows, for screen readers."""
        parts = ", ".join(f"{b.label} {b.points:.1f} of {b.max_points:.0f}" for b in self.bars)
        return f"UnfragileRank {self.score} out of 100 from five weighted components: {parts}."


def score_chart(components: Mapping[str, float], weights: Mapping[str, float], *, score: int
                ) -> ScoreChart:
    """Bars for the five components of a rank breakdown."""
    largest = max(float(weights[c]) for c in COMPONENTS) or 1.0
    bars = []
    for i, c in enumerate(COMPONENTS):
        value, weight = float(components[c]), float(weights[c])
        track = _TRACK_W * weight / largest
        bars.append(Bar(
            key=c, label=COMPONENT_LABELS[c], value=value, weight=weight,
            points=value * weight * 100, max_points=weight * 100, y=i * _ROW_H + 8,
            track=round(track, 1), fill=round(track * value, 1),
        ))
    return ScoreChart(
        bars=bars, total=sum(b.points for b in bars), score=score,
        width=_LABEL_W + _TRACK_W + 150, height=len(bars) * _ROW_H + 8,
        label_width=_LABEL_W, bar_height=_BAR_H,
    )
