"""The derived ``data_access_risk`` rule (PROTOCOL.md B.6), checked against the seeds."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core.compose import compose_body
from capgraph.core.risk import (
    HIGH_SCOPES,
    MODERATE_SCOPES,
    derive_data_access_risk,
    runs_locally,
)
from capgraph.core.taxonomy import PERMISSION_SCOPES, RISK_LEVELS
from capgraph.core.validation import validate_manifest
from tests.conftest import DEMO, FIXED_NOW
from tests.unit.factories import seed_by_slug

ORDER = {level: i for i, level in enumerate(RISK_LEVELS)}


def seed_input_types(slug: str) -> list[str]:
    body = seed_by_slug(slug)["passport"]["unfragile"]
    return [t for cap in body["capabilities"] for t in cap["input_types"]]


def test_qwen3_coder_inputs_derive_the_seed_risk_low() -> None:
    seed = seed_by_slug("qwen-qwen3-coder")["passport"]["unfragile"]["trust"]["data_access_risk"]
    level, reason = derive_data_access_risk(seed_input_types("qwen-qwen3-coder"), [])
    assert level == seed == "low"
    assert reason


def test_qwen35_flash_inputs_derive_the_seed_risk_high() -> None:
    slug = "qwen-qwen3.5-flash-02-23"
    seed = seed_by_slug(slug)["passport"]["unfragile"]["trust"]["data_access_risk"]
    level, reason = derive_data_access_risk(seed_input_types(slug), [])
    assert level == seed == "high"
    assert "images" in reason and "video" in reason


def test_documentation_is_not_a_document() -> None:
    assert derive_data_access_risk(["API documentation", "documented examples"], [])[0] == "low"
    assert derive_data_access_risk(["scanned document"], [])[0] == "high"  # images + documents
    assert derive_data_access_risk(["a document"], [])[0] == "moderate"


def test_one_personal_data_class_is_moderate_and_two_are_high() -> None:
    assert derive_data_access_risk(["audio recordings"], [])[0] == "moderate"
    assert derive_data_access_risk(["audio recordings", "photos"], [])[0] == "high"


def test_matching_ignores_case() -> None:
    assert derive_data_access_risk(["JPEG IMAGES"], [])[0] == "moderate"


@pytest.mark.parametrize("scope", sorted(MODERATE_SCOPES))
def test_read_scopes_push_risk_to_moderate(scope: str) -> None:
    level, reason = derive_data_access_risk(["plain text"], [scope])
    assert level == "moderate"
    assert scope in reason


@pytest.mark.parametrize("scope", sorted(HIGH_SCOPES))
def test_write_and_secret_scopes_push_risk_to_high(scope: str) -> None:
    level, reason = derive_data_access_risk(["plain text"], [scope])
    assert level == "high"
    assert scope in reason


def test_every_known_scope_raises_the_risk_above_low() -> None:
    assert set(PERMISSION_SCOPES) == HIGH_SCOPES | MODERATE_SCOPES
    assert not HIGH_SCOPES & MODERATE_SCOPES


def test_unknown_scopes_do_not_change_the_risk() -> None:
    assert derive_data_access_risk(["plain text"], ["teleport"])[0] == "low"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6),
       st.lists(st.sampled_from(PERMISSION_SCOPES), max_size=4),
       st.sampled_from(PERMISSION_SCOPES))
def test_adding_a_scope_never_lowers_the_risk(
    inputs: list[str], scopes: list[str], extra: str
) -> None:
    before, _ = derive_data_access_risk(inputs, scopes)
    after, _ = derive_data_access_risk(inputs, [*scopes, extra])
    assert before in RISK_LEVELS and after in RISK_LEVELS
    assert ORDER[after] >= ORDER[before]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6), st.text(max_size=40))
def test_adding_an_input_type_never_lowers_the_risk(inputs: list[str], extra: str) -> None:
    before, _ = derive_data_access_risk(inputs, [])
    after, _ = derive_data_access_risk([*inputs, extra], [])
    assert ORDER[after] >= ORDER[before]


def test_a_tool_that_runs_locally_is_rated_by_what_it_can_change() -> None:
    inputs = ["scanned PDF documents", "photos"]  # two personal-data classes
    assert derive_data_access_risk(inputs, ["filesystem:read"])[0] == "high"
    scopes = ["filesystem:read", "filesystem:write"]
    assert runs_locally("stdio", None, scopes)
    level, reason = derive_data_access_risk(inputs, scopes, local=True)
    assert level == "moderate" and "runs locally" in reason
    assert derive_data_access_risk(inputs, ["filesystem:read"], local=True)[0] == "low"
    assert derive_data_access_risk(inputs, ["shell"], local=True)[0] == "high"
    assert not runs_locally("stdio", None, ["network"])
    assert not runs_locally("https", "https://api.example.com", [])


def test_docling_runs_locally_and_is_not_high_risk() -> None:
    parsed, _ = validate_manifest(yaml.safe_load((DEMO / "docling.yml").read_text()))
    assert parsed is not None
    body = compose_body(parsed, now=FIXED_NOW, public_url="https://reg.test").body.to_json()
    assert body["trust"]["data_access_risk"] == "moderate"
