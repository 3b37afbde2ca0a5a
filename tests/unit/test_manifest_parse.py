"""Parsing manifest text: YAML and JSON, precise errors, and no way to crash the parser or the
validator (property tests over random, corrupted and mutated input)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capgraph.core.canonical import canonical_bytes
from capgraph.core.compose import compose_body
from capgraph.core.manifest import parse_manifest_text
from capgraph.core.validation import validate_manifest
from capgraph.errors import ParseError
from tests.conftest import FIXED_NOW
from tests.unit.factories import demo_files, manifest, to_yaml

PROPERTY = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
# Each example of these parses and validates a whole demo manifest (pure-Python YAML).
DEMO_PROPERTY = settings(max_examples=100, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])

# -- YAML and JSON ---------------------------------------------------------------------------


def test_yaml_and_json_give_the_same_data() -> None:
    data = manifest()
    assert parse_manifest_text(to_yaml(data)) == data
    assert parse_manifest_text(json.dumps(data)) == data
    assert parse_manifest_text(json.dumps(data, indent=2).encode()) == data


def test_json_hint_forces_json() -> None:
    with pytest.raises(ParseError):
        parse_manifest_text(to_yaml(manifest()), hint="json")


def test_yaml_hint_still_reads_json_text() -> None:
    data = manifest()
    assert parse_manifest_text(json.dumps(data), hint="yaml") == data


def test_yaml_dates_become_iso_strings_and_validate() -> None:
    text = to_yaml(manifest()).replace("updated_at: '2026-09-30'", "updated_at: 2026-09-30")
    assert "updated_at: 2026-09-30\n" in text
    data = parse_manifest_text(text)
    assert data["artifact"]["updated_at"] == "2026-09-30"
    parsed, findings = validate_manifest(data)
    assert parsed is not None, findings


def test_non_string_yaml_keys_become_strings() -> None:
    assert parse_manifest_text("1: one\n2.5: half\n") == {"1": "one", "2.5": "half"}


def test_every_demo_manifest_parses_to_an_object() -> None:
    for path in demo_files():
        assert isinstance(parse_manifest_text(path.read_bytes()), dict), path.name


# -- malformed input -------------------------------------------------------------------------


def _char_at(text: str, error: ParseError) -> str:
    assert error.line is not None and error.column is not None
    assert error.line >= 1 and error.column >= 1
    return text.splitlines()[error.line - 1][error.column - 1]


def test_malformed_json_reports_1_based_line_and_column() -> None:
    text = '{\n  "a": 1,\n  "b": \n}'
    with pytest.raises(ParseError) as info:
        parse_manifest_text(text)
    assert (info.value.line, info.value.column) == (4, 1)
    assert _char_at(text, info.value) == "}"
    assert "line 4" in info.value.diagnostics()


def test_malformed_json_column_points_at_the_bad_character() -> None:
    text = '{"a": 1,\n "b": tru}'
    with pytest.raises(ParseError) as info:
        parse_manifest_text(text)
    assert info.value.line == 2
    assert _char_at(text, info.value) == "t"


def test_malformed_yaml_reports_1_based_line_and_column() -> None:
    text = "a: 1\nb: 2\n\tc: 3\n"
    with pytest.raises(ParseError) as info:
        parse_manifest_text(text)
    assert (info.value.line, info.value.column) == (3, 1)
    assert _char_at(text, info.value) == "\t"


def test_yaml_error_inside_a_real_manifest_points_at_the_bad_line() -> None:
    lines = to_yaml(manifest()).splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("  maintainer:"))
    lines[target] = "  maintainer: [Example Labs"
    with pytest.raises(ParseError) as info:
        parse_manifest_text("\n".join(lines) + "\n")
    assert info.value.line is not None
    assert target + 1 <= info.value.line <= target + 2


@pytest.mark.parametrize(
    "text",
    ["a: &x [1, 2]\nb: *x\n",
     "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n",
     "base: &base {k: v}\nother:\n  <<: *base\n"],
)
def test_yaml_aliases_are_refused(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_manifest_text(text)
    assert "alias" in info.value.message


@pytest.mark.parametrize("tag", ["!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]",
                                 "!!python/object:os.system ls", "!python/name:os.system"])
def test_yaml_tags_that_build_non_json_data_are_refused(tag: str) -> None:
    with pytest.raises(ParseError):
        parse_manifest_text(f"compliance: {tag}\n")


@pytest.mark.parametrize(
    "data",
    ["café: naïve\n".encode("latin-1"), b"\xff\xfe{\x00}\x00", b"name: \x80\x81\n",
     "a: b\n".encode("utf-16")],
)
def test_non_utf8_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_manifest_text(data)
    assert "UTF-8" in info.value.message


@pytest.mark.parametrize(
    "text",
    ['{"artifact": {"name": "bad \\ud800 surrogate"}}',
     'artifact:\n  name: "bad \\ud800 surrogate"\n'],
)
def test_lone_surrogate_escapes_are_refused(text: str) -> None:
    with pytest.raises(ParseError):
        parse_manifest_text(text)


@pytest.mark.parametrize(
    ("style", "depth"),
    [("json", 200), ("json", 5_000), ("json", 100_000), ("yaml-flow", 200),
     ("yaml-flow", 5_000), ("yaml-flow", 100_000), ("yaml-block", 200),
     # Block nesting needs one more space per level, so the text grows quadratically.
     ("yaml-block", 3_000)],
)
def test_deeply_nested_input_does_not_crash(style: str, depth: int) -> None:
    if style == "json":
        text = '{"a":' * depth + "1" + "}" * depth
    elif style == "yaml-flow":
        text = "a: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "".join(" " * i + "k:\n" for i in range(depth)) + " " * depth + "k: 1\n"
    try:
        data = parse_manifest_text(text)
    except ParseError:
        return
    parsed, findings = validate_manifest(data)
    assert parsed is None and findings


def test_empty_text_parses_to_nothing_and_validates_to_one_error() -> None:
    assert parse_manifest_text("") is None
    parsed, findings = validate_manifest(parse_manifest_text("   \n"))
    assert parsed is None
    assert [(f.path, f.code) for f in findings] == [("$", "not-an-object")]


def test_integer_too_long_to_parse_is_a_parse_error_or_refused() -> None:
    text = '{"community": {"stars": ' + "9" * 5000 + "}}"
    try:
        data = parse_manifest_text(text)
    except ParseError:
        return
    assert validate_manifest(data)[0] is None


# -- properties ------------------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers(-(2**60), 2**60)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)
finite_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)
YAML_NOISE = st.sampled_from(
    [":", "- ", "\n", "  ", "\t", "{", "}", "[", "]", "&a ", "*a", "!!", "|", ">", "#", "'", '"',
     "? ", "---\n", "...", "%YAML 1.1\n", "\\", "\x00", "\ufeff", "!!binary ", "<<: "]
)


def check_never_crashes(text: str | bytes, *, hint: str | None = None) -> None:
    """The contract: ``ParseError`` or data; validation returns findings, never raises; and
    whatever validates can be composed and canonicalised (so publishing it cannot crash)."""
    try:
        data = parse_manifest_text(text, hint=hint)
    except ParseError as exc:
        assert exc.line is None or exc.line >= 1
        assert exc.column is None or exc.column >= 1
        return
    parsed, findings = validate_manifest(data)
    if parsed is None:
        assert any(f.severity == "error" for f in findings)
        return
    assert not any(f.severity == "error" for f in findings)
    canonical_bytes(parsed.raw)
    compose_body(parsed, now=FIXED_NOW, public_url="https://reg.test")


@PROPERTY
@given(st.text(max_size=400))
def test_random_text_only_raises_parse_error(text: str) -> None:
    check_never_crashes(text)
    check_never_crashes(text, hint="json")


@PROPERTY
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    check_never_crashes(data)


@PROPERTY
@given(json_values)
def test_any_json_or_yaml_document_is_parsed_or_refused_cleanly(value: Any) -> None:
    check_never_crashes(json.dumps(value))
    check_never_crashes(yaml.safe_dump(value))


@PROPERTY
@given(finite_json_values)
def test_json_and_yaml_round_trip_plain_data(value: Any) -> None:
    assert parse_manifest_text(json.dumps(value), hint="json") == value
    if isinstance(value, dict):
        assert parse_manifest_text(yaml.safe_dump(value)) == value


@PROPERTY
@given(json_values, st.data())
def test_corrupted_json_text_only_raises_parse_error(value: Any, data: st.DataObject) -> None:
    text = json.dumps({"unfragile_version": "1.0", "artifact": value})
    cut = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.text(max_size=5))
    check_never_crashes(text[:cut] + noise + text[cut + 1:])
    check_never_crashes(text[:cut])


DEMO_TEXTS = [p.read_text(encoding="utf-8") for p in demo_files()]


@DEMO_PROPERTY
@given(st.sampled_from(DEMO_TEXTS), st.data())
def test_corrupted_demo_yaml_only_raises_parse_error(text: str, data: st.DataObject) -> None:
    lines = text.splitlines(keepends=True)
    operation = data.draw(st.sampled_from(["truncate", "delete-line", "insert", "indent"]))
    if operation == "truncate":
        text = text[: data.draw(st.integers(0, len(text)))]
    elif operation == "delete-line":
        del lines[data.draw(st.integers(0, len(lines) - 1))]
        text = "".join(lines)
    elif operation == "insert":
        at = data.draw(st.integers(0, len(text)))
        noise = "".join(data.draw(st.lists(YAML_NOISE | st.text(max_size=3), max_size=4)))
        text = text[:at] + noise + text[at:]
    else:
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = data.draw(st.sampled_from([" ", "   ", "\t", ""])) + lines[i].lstrip()
        text = "".join(lines)
    check_never_crashes(text)
    check_never_crashes(text.encode("utf-8"))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@DEMO_PROPERTY
@given(st.sampled_from(DEMO_TEXTS), st.data())
def test_mutated_demo_manifests_never_crash_the_validator(text: str, data: st.DataObject) -> None:
    tree = parse_manifest_text(text)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(tree) if p]
        path = data.draw(st.sampled_from(paths))
        parent: Any = tree
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
    check_never_crashes(json.dumps(tree))
    _, findings = validate_manifest(tree)
    for finding in findings:
        assert finding.path and finding.code and finding.message
        assert finding.severity in ("error", "warning")


@PROPERTY
@given(json_values)
def test_validate_manifest_never_raises_on_any_value(value: Any) -> None:
    parsed, findings = validate_manifest(value)
    assert parsed is None or not any(f.severity == "error" for f in findings)
    validate_manifest({"unfragile_version": "1.0", "artifact": value, "capabilities": [value]})
    validate_manifest(manifest(capabilities=[value], community=value, permissions=value,
                               execution=value, pricing=value, failure_modes=value))


def test_non_finite_floats_from_yaml_are_refused_by_validation() -> None:
    data = parse_manifest_text(to_yaml(manifest()) + "compliance: {x: .nan, y: -.inf}\n")
    assert math.isnan(data["compliance"]["x"])
    parsed, findings = validate_manifest(data)
    assert parsed is None
    assert {f.path for f in findings} == {"compliance.x", "compliance.y"}
