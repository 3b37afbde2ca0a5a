"""The per-component score explanation adds up to the published score."""

from __future__ import annotations

import json
from pathlib import Path

from capgraph.core import scoring
from capgraph.registry import Registry
from tests.conftest import DEMO


def test_manifest_breakdown_adds_up_and_explains_each_component(registry: Registry) -> None:
    registry.publish((DEMO / "docling.yml").read_text(), hint="yaml")
    out = registry.score_breakdown("docling")
    total = sum(c["contribution"] for c in out["components"].values())
    assert round(total) == out["score"]
    assert set(out["components"]) == {"adoption", "quality", "ecosystem", "match_graph",
                                      "freshness"}
    assert all(c["explanation"] and c["formula"] for c in out["components"].values())
    quality = out["components"]["quality"]["value"]
    assert abs(sum(out["qualityChecklist"].values()) / 100 - quality) <= 0.011


def test_imported_components_are_explained_as_kept(registry: Registry,
                                                   seed_paths: list[Path]) -> None:
    document = json.loads(seed_paths[0].read_text())
    slug = document["passport"]["unfragile"]["artifact"]["slug"]
    registry.import_passport(document)
    out = registry.score_breakdown(slug)
    assert out["score"] == document["passport"]["unfragile"]["trust"]["score"]
    assert "kept as imported" in out["components"]["adoption"]["explanation"]
    assert "qualityChecklist" not in out


def test_declared_adoption_of_an_unverified_builder_is_explained_as_not_counted(
        registry: Registry) -> None:
    # docling's demo manifest declares 40,000 stars; its builder is not verified.
    registry.publish((DEMO / "docling.yml").read_text(), hint="yaml")
    adoption = registry.score_breakdown("docling")["components"]["adoption"]
    assert adoption["value"] == scoring.ADOPTION_FLOOR
    assert adoption["explanation"].startswith(scoring.NOT_COUNTED)
    assert "stars=40000" in adoption["explanation"]
