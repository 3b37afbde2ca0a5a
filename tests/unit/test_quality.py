"""The quality component: a 100-point checklist, in range, and rewarding what it names."""

from __future__ import annotations

from typing import Any

from capgraph.core.manifest import Manifest, parse_manifest_text
from capgraph.core.quality import CHECKLIST, quality
from capgraph.core.validation import validate_manifest
from tests.unit.factories import capability, demo_files, manifest


def parsed(data: dict[str, Any]) -> Manifest:
    result, findings = validate_manifest(data)
    assert result is not None, findings
    return result


def test_checklist_is_70_points_plus_30_coherence_points() -> None:
    assert sum(CHECKLIST.values()) == 100
    coherence = ("intents agree with descriptions", "distinct capabilities",
                 "declared categories agree with the text")
    assert sum(CHECKLIST[k] for k in coherence) == 30


def test_points_stay_within_each_line_and_value_is_their_sum() -> None:
    component, points = quality(parsed(manifest()))
    assert set(points) == set(CHECKLIST)
    for line, earned in points.items():
        assert 0 <= earned <= CHECKLIST[line], line
    assert 0 <= component.value <= 1
    assert abs(component.value - sum(points.values()) / 100) <= 0.01
    assert component.explanation


def test_every_demo_manifest_gets_a_quality_in_range() -> None:
    for path in demo_files():
        component, _ = quality(parsed(parse_manifest_text(path.read_bytes())))
        assert 0 <= component.value <= 1, path.name


def test_missing_blocks_and_provenance_lower_quality() -> None:
    full, _ = quality(parsed(manifest()))
    bare_data = manifest(capabilities=[capability("alpha")])
    del bare_data["failure_modes"], bare_data["execution"], bare_data["artifact"]["license"]
    bare, points = quality(parsed(bare_data))
    assert bare.value < full.value
    assert points["artifact blocks"] == 0
    assert points["provenance"] < CHECKLIST["provenance"]


def test_deeper_descriptions_never_lower_quality() -> None:
    short, _ = quality(parsed(manifest()))
    caps = [capability(c, description=capability(c)["description"] * 3)
            for c in ("alpha", "beta", "gamma")]
    deep, points = quality(parsed(manifest(capabilities=caps)))
    assert points["description depth"] == CHECKLIST["description depth"]
    assert deep.value >= short.value


def test_plain_http_links_earn_less_than_https() -> None:
    data = manifest()
    data["artifact"]["homepage"] = "http://example.com/tool"
    _, points = quality(parsed(data))
    assert points["link form"] < CHECKLIST["link form"]
