"""Manifest validation: one test per error and warning code, with precise paths."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from capgraph.core import validation
from capgraph.core.manifest import Manifest, parse_manifest_text
from capgraph.core.manifest_shape import CODES
from capgraph.core.validation import MIN_DESCRIPTION, validate_manifest
from capgraph.errors import Finding
from tests.unit.factories import capability, demo_files, manifest


def errors(data: Any) -> list[tuple[str, str]]:
    parsed, findings = validate_manifest(data)
    found = [(f.path, f.code) for f in findings if f.severity == "error"]
    assert (parsed is None) == bool(found), "a Manifest comes back exactly when there is no error"
    return found


def warnings(data: Any) -> list[tuple[str, str]]:
    _, findings = validate_manifest(data)
    return [(f.path, f.code) for f in findings if f.severity == "warning"]


def without(data: dict[str, Any], *path: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return out


def with_value(data: dict[str, Any], *path_and_value: Any) -> dict[str, Any]:
    *path, value = path_and_value
    out = copy.deepcopy(data)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


# -- valid -----------------------------------------------------------------------------------


def test_valid_manifest_gives_a_manifest_and_no_findings() -> None:
    parsed, findings = validate_manifest(manifest())
    assert findings == []
    assert isinstance(parsed, Manifest)
    assert parsed.artifact.slug == "example-tool"
    assert [c.id for c in parsed.capabilities] == ["alpha", "beta", "gamma"]
    assert parsed.capabilities[0].limitations == ["alpha is slow on large inputs"]
    assert parsed.pricing_model == "freemium"
    assert parsed.execution is not None and parsed.execution.protocol == "https"


def test_every_demo_manifest_validates_without_errors() -> None:
    files = demo_files()
    assert len(files) >= 20
    failing: dict[str, list[Finding]] = {}
    for path in files:
        parsed, findings = validate_manifest(parse_manifest_text(path.read_bytes()))
        bad = [f for f in findings if f.severity == "error"]
        if parsed is None or bad:
            failing[path.name] = bad
    assert not failing, failing


def test_every_demo_manifest_slug_matches_its_file_name() -> None:
    for path in demo_files():
        parsed, _ = validate_manifest(parse_manifest_text(path.read_bytes()))
        assert parsed is not None, path.name
        assert parsed.artifact.slug == Path(path.name).stem, path.name


def test_warnings_alone_still_give_a_manifest() -> None:
    data = manifest(capabilities=[capability("only")], extra_field=1)
    del data["execution"], data["failure_modes"]
    parsed, findings = validate_manifest(data)
    assert parsed is not None
    assert {f.severity for f in findings} == {"warning"}


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("unfragile_version",), "unfragile_version"),
        (("artifact",), "artifact"),
        (("artifact", "name"), "artifact.name"),
        (("artifact", "slug"), "artifact.slug"),
        (("artifact", "type"), "artifact.type"),
        (("artifact", "maintainer"), "artifact.maintainer"),
        (("capabilities",), "capabilities"),
        (("capabilities", 1, "id"), "capabilities[1].id"),
        (("capabilities", 1, "name"), "capabilities[1].name"),
        (("capabilities", 1, "description"), "capabilities[1].description"),
        (("capabilities", 2, "intents_served"), "capabilities[2].intents_served"),
    ],
)
def test_missing_required_field_is_a_required_error_at_its_path(
    path: tuple[Any, ...], expected: str
) -> None:
    assert errors(without(manifest(), *path)) == [(expected, "required")]


def test_missing_both_urls_is_a_required_error() -> None:
    data = without(without(manifest(), "artifact", "homepage"), "artifact", "repository")
    assert errors(data) == [("artifact.homepage", "required")]


def test_one_url_is_enough() -> None:
    assert errors(without(manifest(), "artifact", "homepage")) == []
    assert errors(without(manifest(), "artifact", "repository")) == []


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2026-13-01", "tomorrow"],
)
def test_update_date_without_a_utc_time_is_a_type_error(stamp: str) -> None:
    data = with_value(manifest(), "artifact", "updated_at", stamp)
    assert errors(data) == [("artifact.updated_at", "type")]


def test_null_counts_as_missing() -> None:
    assert errors(with_value(manifest(), "artifact", "maintainer", None)) == [
        ("artifact.maintainer", "required")]


def test_execution_block_needs_a_protocol() -> None:
    assert errors(without(manifest(), "execution", "protocol")) == [
        ("execution.protocol", "required")]


def test_the_declared_call_is_kept_and_its_malformed_parts_are_format_errors() -> None:
    call = {"protocol": "https", "auth_method": "aws_sigv4", "method": "POST", "path": "/",
            "endpoint": "https://textract.us-east-1.amazonaws.com", "auth_header": "xi-api-key",
            "headers": ["X-Amz-Target: Textract.AnalyzeDocument"]}
    parsed, findings = validate_manifest(manifest(execution=call))
    assert parsed is not None and parsed.execution is not None and findings == []
    ex = parsed.execution
    assert (ex.auth_method, ex.method, ex.path, ex.auth_header, ex.headers) == (
        "aws_sigv4", "POST", "/", "xi-api-key", ["X-Amz-Target: Textract.AnalyzeDocument"])
    bad = {**call, "path": "chat/$(rm -rf ~)", "auth_header": "x api key",
           "headers": ["no colon here", "Accept: audio/mpeg"], "method": "FETCH"}
    assert errors(manifest(execution=bad)) == [
        ("execution.method", "enum"), ("execution.path", "format"),
        ("execution.auth_header", "format"), ("execution.headers[0]", "format")]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("artifact",), ["a list"], "artifact"),
        (("artifact", "name"), 42, "artifact.name"),
        (("artifact", "maintainer"), {"name": "x"}, "artifact.maintainer"),
        (("artifact", "tags"), "pdf", "artifact.tags"),
        (("artifact", "updated_at"), "last tuesday", "artifact.updated_at"),
        (("capabilities",), {"alpha": {}}, "capabilities"),
        (("capabilities", 1), "beta", "capabilities[1]"),
        (("capabilities", 0, "intents_served"), "do alpha", "capabilities[0].intents_served"),
        (("capabilities", 0, "conditions"), ["fast"], "capabilities[0].conditions"),
        (("capabilities", 2, "conditions", "limitations"), 3,
         "capabilities[2].conditions.limitations"),
        (("pricing", "model"), 5, "pricing.model"),
        (("pricing", "free"), "yes", "pricing.free"),
        (("failure_modes",), "sometimes", "failure_modes"),
        (("execution",), "stdio", "execution"),
        (("community",), {"stars": "lots"}, "community.stars"),
        (("community",), {"forks": -1}, "community.forks"),
        (("community",), {"stars": True}, "community.stars"),
    ],
)
def test_wrong_type_is_a_type_error_at_its_path(
    path: tuple[Any, ...], value: Any, expected: str
) -> None:
    assert errors(with_value(manifest(), *path, value)) == [(expected, "type")]


def test_non_string_list_item_is_a_type_error_at_its_index() -> None:
    data = with_value(manifest(), "capabilities", 1, "intents_served", ["ok", 7, "fine"])
    assert errors(data) == [("capabilities[1].intents_served[1]", "type")]


def test_description_under_100_characters_is_too_short() -> None:
    data = with_value(manifest(), "capabilities", 1, "description", "x" * (MIN_DESCRIPTION - 1))
    assert errors(data) == [("capabilities[1].description", "too-short")]
    _, findings = validate_manifest(data)
    assert "99" in findings[0].message and "100" in findings[0].message


def test_description_of_exactly_100_characters_is_enough() -> None:
    data = with_value(manifest(), "capabilities", 1, "description", "x" * MIN_DESCRIPTION)
    assert errors(data) == []


def test_description_length_ignores_surrounding_whitespace() -> None:
    padded = "   " + "x" * (MIN_DESCRIPTION - 1) + "\n\n   "
    data = with_value(manifest(), "capabilities", 0, "description", padded)
    assert errors(data) == [("capabilities[0].description", "too-short")]


def test_overlong_text_is_too_long() -> None:
    data = with_value(manifest(), "artifact", "name", "n" * 201)
    assert errors(data) == [("artifact.name", "too-long")]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("artifact", "type"), "robot", "artifact.type"),
        (("artifact", "status"), "retired", "artifact.status"),
        (("pricing", "model"), "gratis", "pricing.model"),
        (("execution", "protocol"), "ftp", "execution.protocol"),
        (("execution", "auth_method"), "password", "execution.auth_method"),
        (("capabilities", 1, "categories"), ["image-visual", "cooking"],
         "capabilities[1].categories[1]"),
        (("failure_modes", 0, "frequency"), "always", "failure_modes[0].frequency"),
        (("trust",), {"data_access_risk": "extreme"}, "trust.data_access_risk"),
        (("unfragile_version",), "2.0", "unfragile_version"),
    ],
)
def test_value_outside_its_vocabulary_is_an_enum_error(
    path: tuple[Any, ...], value: Any, expected: str
) -> None:
    assert errors(with_value(manifest(), *path, value)) == [(expected, "enum")]


def test_enum_message_lists_the_allowed_values() -> None:
    _, findings = validate_manifest(with_value(manifest(), "artifact", "type", "robot"))
    assert "framework" in findings[0].message and "robot" in findings[0].message


@pytest.mark.parametrize(
    "slug",
    ["Example", "-example", "example-", "ex ample", "exa/mple", "éxample", "ex_", ".hidden"],
)
def test_malformed_artifact_slug_is_a_slug_error(slug: str) -> None:
    assert errors(with_value(manifest(), "artifact", "slug", slug)) == [("artifact.slug", "slug")]


@pytest.mark.parametrize("slug", ["a", "a1", "qwen-qwen3.5-flash-02-23", "x_y", "a" * 100])
def test_well_formed_artifact_slug_is_accepted(slug: str) -> None:
    assert errors(with_value(manifest(), "artifact", "slug", slug)) == []


def test_slug_over_100_characters_is_too_long() -> None:
    data = with_value(manifest(), "artifact", "slug", "a" * 101)
    assert errors(data) == [("artifact.slug", "too-long")]


def test_seed_slugs_are_well_formed() -> None:
    for slug in ("qwen-qwen3-coder", "qwen-qwen3.5-flash-02-23"):
        assert errors(with_value(manifest(), "artifact", "slug", slug)) == []


@pytest.mark.parametrize("cap_id", ["has space", "-lead", "trail.", "a/b"])
def test_malformed_capability_id_is_a_slug_error(cap_id: str) -> None:
    data = with_value(manifest(), "capabilities", 2, "id", cap_id)
    assert errors(data) == [("capabilities[2].id", "slug")]


@pytest.mark.parametrize(
    ("key", "url"),
    [("repository", "ftp://github.com/x"), ("homepage", "example.com"),
     ("homepage", "https://"), ("repository", "https://exa mple.com/x"),
     ("homepage", "javascript:alert(1)"), ("repository", "https://[github.com/x"),
     ("homepage", "https://ex\uff03ample.com/")],
)
def test_malformed_url_is_a_url_error(key: str, url: str) -> None:
    assert errors(with_value(manifest(), "artifact", key, url)) == [(f"artifact.{key}", "url")]


def test_malformed_endpoint_is_a_url_error() -> None:
    data = with_value(manifest(), "execution", "endpoint", "api.example.com")
    assert errors(data) == [("execution.endpoint", "url")]


def test_duplicate_capability_id_is_reported_on_the_later_one() -> None:
    caps = [capability("alpha"), capability("beta"), capability("alpha")]
    data = manifest(capabilities=caps)
    assert errors(data) == [("capabilities[2].id", "duplicate-id")]
    _, findings = validate_manifest(data)
    assert "capabilities[0]" in findings[0].message


def test_empty_capability_list_is_an_empty_error() -> None:
    assert errors(manifest(capabilities=[])) == [("capabilities", "empty")]


def test_empty_intents_is_an_empty_error() -> None:
    data = with_value(manifest(), "capabilities", 1, "intents_served", [])
    assert errors(data) == [("capabilities[1].intents_served", "empty")]


def test_blank_name_is_an_empty_error() -> None:
    data = with_value(manifest(), "capabilities", 0, "name", "   ")
    assert errors(data) == [("capabilities[0].name", "empty")]


@pytest.mark.parametrize("data", [None, [], "just text", 42])
def test_non_object_manifest_is_a_single_not_an_object_error(data: Any) -> None:
    parsed, findings = validate_manifest(data)
    assert parsed is None
    assert [(f.path, f.code, f.severity) for f in findings] == [("$", "not-an-object", "error")]


def test_every_error_is_reported_in_one_pass() -> None:
    data = manifest()
    data["artifact"]["type"] = "robot"
    data["artifact"]["slug"] = "Bad Slug"
    data["capabilities"][1]["description"] = "short"
    data["pricing"]["model"] = "gratis"
    assert sorted(errors(data)) == sorted([
        ("artifact.slug", "slug"), ("artifact.type", "enum"),
        ("capabilities[1].description", "too-short"), ("pricing.model", "enum"),
    ])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53])
def test_numbers_json_cannot_carry_exactly_are_type_errors(value: Any) -> None:
    data = manifest(compliance={"score": value})
    assert errors(data) == [("compliance.score", "type")]


def test_over_deep_nesting_is_an_error_not_a_crash() -> None:
    nested: Any = "leaf"
    for _ in range(40):
        nested = {"n": nested}
    assert [code for _, code in errors(manifest(compliance=nested))] == ["type"]


# -- warnings --------------------------------------------------------------------------------


def test_missing_failure_modes_warns() -> None:
    assert warnings(without(manifest(), "failure_modes")) == [
        ("failure_modes", "no-failure-modes")]
    assert warnings(manifest(failure_modes=[])) == [("failure_modes", "no-failure-modes")]


def test_fewer_than_three_capabilities_warns() -> None:
    two = manifest(capabilities=[capability("alpha"), capability("beta")])
    assert warnings(two) == [("capabilities", "few-capabilities")]
    assert warnings(manifest()) == []


def test_missing_execution_warns() -> None:
    assert warnings(without(manifest(), "execution")) == [("execution", "no-execution")]


def test_unknown_top_level_field_warns_at_its_name() -> None:
    assert warnings(manifest(maintainers=["x"])) == [("maintainers", "unknown-field")]


def test_documented_optional_blocks_are_not_unknown() -> None:
    data = manifest(trust={"data_access_risk": "low"}, permissions=["network"],
                    compliance={"soc2": True}, community={"stars": 10})
    assert warnings(data) == []
    assert errors(data) == []


def test_unknown_permission_scope_warns_at_its_index() -> None:
    data = manifest(permissions=["network", "teleport", "shell"])
    assert warnings(data) == [("permissions[1]", "unknown-permission")]


def test_findings_serialise_to_path_code_message() -> None:
    _, findings = validate_manifest(without(manifest(), "execution"))
    assert findings[0].to_json() == {
        "path": "execution", "code": "no-execution", "message": findings[0].message}
    assert findings[0].message


@pytest.mark.parametrize(("where", "typo", "meant"), [
    (("capabilities", 0, "conditions"), "best_for", "bestFor"),
    (("execution",), "comand", "command"),
    (("failure_modes", 0), "mitigaton", "mitigation"),
    (("pricing",), "startingprice", "starting_price"),
    (("community",), "github_stars", "stars"),
    (("artifact",), "licence", "license"),
    (("capabilities", 1), "intent_served", "intents_served"),
    (("trust",), "risk", None),
])  # fmt: skip
def test_a_typo_in_any_block_warns_with_the_key_it_meant(
    where: tuple[Any, ...], typo: str, meant: str | None
) -> None:
    data = manifest(pricing={"model": "freemium"}, trust={}, community={})
    target: Any = data
    for step in where:
        target = target[step]
    target[typo] = "x"
    _, findings = validate_manifest(data)
    unknown = [f for f in findings if f.code == "unknown-field"]
    path = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in where).lstrip(".")
    assert [f.path for f in unknown] == [f"{path}.{typo}"]
    if meant:
        assert unknown[0].message.endswith(f"did you mean {meant!r}?")
    else:
        assert "did you mean" not in unknown[0].message


def test_every_validation_code_is_listed_and_documented() -> None:
    source = Path(validation.__file__).read_text()
    emitted = set(re.findall(r'\.(?:error|warn)\(\s*(?:[^,()]|\([^()]*\))+,\s*"([a-z-]+)"',
                             source))
    emitted |= set(re.findall(r'Finding\(\s*"[^"]*",\s*"([a-z-]+)"', source))
    assert len(emitted) >= 10 and emitted == set(CODES)
    doc = (Path(__file__).parents[2] / "docs" / "MANIFEST.md").read_text()
    table = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", doc, re.M))
    assert table == {code: severity for code, (severity, _) in CODES.items()}
