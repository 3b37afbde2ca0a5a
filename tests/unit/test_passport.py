"""The passport body models against the seed passports (PROTOCOL.md A.2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from capgraph.core.passport import Passport, PassportBody, links_for
from capgraph.errors import InvalidPassport
from tests.unit.factories import load_seed, seed_by_slug, seed_files

BODY_KEYS = ["@version", "version", "artifact", "capabilities", "trust", "distribution"]


def coder_body() -> dict[str, Any]:
    body: dict[str, Any] = seed_by_slug("qwen-qwen3-coder")["passport"]["unfragile"]
    return body


def test_seed_bodies_round_trip_key_for_key_in_the_same_order(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        body = load_seed(path)["passport"]["unfragile"]
        again = PassportBody.from_json(body).to_json()
        assert again == body
        assert json.dumps(again) == json.dumps(body)


def test_seed_bodies_use_the_protocol_key_order(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        body = load_seed(path)["passport"]["unfragile"]
        assert list(PassportBody.from_json(body).to_json()) == BODY_KEYS


def test_integral_floats_are_written_as_integers() -> None:
    body = coder_body()
    body = _set(body, ("capabilities", 0, "success_rate"), 0.0)
    body = _set(body, ("capabilities", 0, "confidence"), 1.0)
    again = PassportBody.from_json(body).to_json()
    # The seeds write 0, not 0.0, and canonical JSON (and so the signature) depends on it.
    text = json.dumps(again["capabilities"][0])
    assert text.endswith('"confidence": 1, "matches": 0, "success_rate": 0}')
    assert isinstance(again["trust"]["observed_outcomes"]["matches"], int)


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _drop(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return out


@pytest.mark.parametrize(
    "path",
    [
        ("extra",),
        ("artifact", "owner"),
        ("capabilities", 0, "score"),
        ("trust", "rank_breakdown", "popularity"),
        ("trust", "rank_breakdown", "weights", "novelty"),
        ("trust", "community", "watchers"),
        ("distribution", "mirror_url"),
    ],
)
def test_unknown_key_is_refused(path: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidPassport):
        PassportBody.from_json(_set(coder_body(), path, "surprise"))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("@version",), "2.0"),
        (("@version",), 1.0),
        (("version",), "2026-6"),
        (("version",), "\uff12\uff10\uff12\uff16-\uff10\uff16"),  # full-width digits
        (("version",), 202606),
        (("artifact", "name"), 5),
        (("artifact", "type"), "robot"),
        (("artifact", "status"), "gone"),
        (("artifact", "verified"), "false"),
        (("artifact", "verified"), 0),
        (("artifact", "tags"), "qwen"),
        (("artifact", "pricing"), "paid"),
        (("capabilities",), {"cap_0": {}}),
        (("capabilities", 0, "uri"), "https://not-a-capability"),
        (("capabilities", 0, "categories"), []),
        (("capabilities", 0, "confidence"), "0.5"),
        (("capabilities", 0, "confidence"), True),
        (("capabilities", 0, "matches"), "3"),
        (("capabilities", 0, "matches"), 3.5),
        (("trust", "score"), "25"),
        (("trust", "score"), 25.5),
        (("trust", "verified"), "no"),
        (("trust", "data_access_risk"), "extreme"),
        (("trust", "permissions"), "all"),
        (("trust", "community", "stars"), "many"),
        (("trust", "observed_outcomes", "last_matched_at"), 17),
    ],
)
def test_wrong_type_is_refused(path: tuple[Any, ...], value: Any) -> None:
    with pytest.raises(InvalidPassport):
        PassportBody.from_json(_set(coder_body(), path, value))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("trust", "score"), 101),
        (("trust", "score"), -1),
        (("capabilities", 0, "confidence"), 1.01),
        (("capabilities", 0, "confidence"), -0.01),
        (("capabilities", 0, "success_rate"), 2),
        (("capabilities", 0, "matches"), -1),
        (("trust", "rank_breakdown", "quality"), 1.5),
        (("trust", "rank_breakdown", "weights", "adoption"), -0.35),
        (("trust", "observed_outcomes", "matches"), -3),
        (("trust", "observed_outcomes", "avg_confidence"), 7),
    ],
)
def test_out_of_range_value_is_refused(path: tuple[Any, ...], value: Any) -> None:
    with pytest.raises(InvalidPassport):
        PassportBody.from_json(_set(coder_body(), path, value))


@pytest.mark.parametrize(
    "path",
    [("artifact",), ("trust",), ("artifact", "slug"), ("capabilities", 0, "uri"),
     ("trust", "rank_breakdown", "weights")],
)
def test_missing_member_is_refused(path: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidPassport):
        PassportBody.from_json(_drop(coder_body(), path))


@pytest.mark.parametrize("document", [None, [], "passport", 42])
def test_non_object_body_is_refused(document: Any) -> None:
    with pytest.raises(InvalidPassport):
        PassportBody.from_json(document)


def test_invalid_passport_message_names_the_bad_field() -> None:
    with pytest.raises(InvalidPassport) as info:
        PassportBody.from_json(_set(coder_body(), ("trust", "score"), 101))
    assert "trust.score" in info.value.message


def test_passport_object_round_trips_the_seed_envelope(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        inner = load_seed(path)["passport"]
        assert Passport.from_json(inner).to_json() == inner
        assert list(Passport.from_json(inner).to_json()) == list(inner)


@pytest.mark.parametrize("version", [0, -1, "1", True, 1.0])
def test_passport_version_must_be_a_positive_integer(version: Any) -> None:
    inner = copy.deepcopy(seed_by_slug("qwen-qwen3-coder")["passport"])
    inner["version"] = version
    with pytest.raises(InvalidPassport):
        Passport.from_json(inner)


def test_passport_without_body_is_refused() -> None:
    with pytest.raises(InvalidPassport):
        Passport.from_json({"signature": "x"})


def test_links_have_the_seed_shape_on_any_base_url() -> None:
    for path in seed_files():
        document = load_seed(path)
        slug = document["passport"]["unfragile"]["artifact"]["slug"]
        assert links_for("https://unfragile.ai/", slug) == document["_links"]
