"""RFC 8785 canonical bytes: known answers from the RFC, and determinism as properties."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core.canonical import canonical_bytes
from tests.unit.factories import load_seed

PROPERTY = settings(max_examples=150, deadline=None)

# Floats stay inside +-2**53: beyond it RFC 8785 writes an integral double as an integer, which
# Python's json reads back as an int that no longer equals the float (and is outside the safe
# integer range canonical_bytes accepts). Passports only carry ratios and counts, so nothing
# signed reaches that range.
SAFE = 2**53 - 1
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE)
    | st.floats(min_value=-SAFE, max_value=SAFE, allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=30,
)


def test_rfc8785_section_3_2_4_example() -> None:
    # The sample input and output given in RFC 8785, section 3.2.4.
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_bytes(json.loads(text)) == expected


def test_keys_are_sorted_by_utf16_code_units() -> None:
    # RFC 8785 3.2.3: sorting by UTF-16 code units puts U+1F600 (surrogates D83D..) before
    # U+FB33, although its code point is larger.
    value = {"\ufb33": 1, "\U0001f600": 2, "a": 3, "\u00e9": 4}
    assert canonical_bytes(value) == '{"a":3,"\u00e9":4,"\U0001f600":2,"\ufb33":1}'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, b"1"), (-0.0, b"0"), (1e21, b"1e+21"), (1e-7, b"1e-7"), (0.1, b"0.1"),
     (123456789012345680000.0, b"123456789012345680000")],
)
def test_numbers_use_the_ecmascript_form(value: float, expected: bytes) -> None:
    assert canonical_bytes(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 2**53, -(2**60),
                                   {"a": float("nan")}, [1, object()], {1: "non-string key"}])
def test_values_json_cannot_carry_exactly_raise_value_error(value: Any) -> None:
    with pytest.raises(ValueError):
        canonical_bytes(value)


def test_seed_bodies_canonicalise_to_compact_utf8(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        body = load_seed(path)["passport"]["unfragile"]
        data = canonical_bytes(body)
        assert json.loads(data) == body
        # The seeds hold no astral characters and no exotic numbers, so here the canonical form
        # is plain sorted, compact, unescaped JSON.
        assert data == json.dumps(body, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode()


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@PROPERTY
@given(json_values, st.integers(0, 2**32))
def test_canonical_bytes_are_deterministic_and_key_order_independent(
    value: Any, seed: int
) -> None:
    first = canonical_bytes(value)
    assert canonical_bytes(value) == first
    assert canonical_bytes(_shuffled(value, random.Random(seed))) == first


@PROPERTY
@given(json_values)
def test_canonical_bytes_parse_back_to_the_same_value(value: Any) -> None:
    data = canonical_bytes(value)
    assert json.loads(data) == value
    # Canonicalising the parsed bytes again is a fixed point.
    assert canonical_bytes(json.loads(data)) == data


@PROPERTY
@given(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5), st.data())
def test_changing_any_member_changes_the_bytes(value: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(value)))
    replacement = data.draw(json_values)
    if canonical_bytes(replacement) == canonical_bytes(value[key]):
        return  # the same JSON value (e.g. 1 and 1.0): nothing changed
    assert canonical_bytes({**value, key: replacement}) != canonical_bytes(value)
