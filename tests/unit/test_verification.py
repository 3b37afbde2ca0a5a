"""A verified builder (core/verification.py): the flags, the registry note, and trust following
identity: a publisher's own adoption counts lift nothing until its builder is verified."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core import compose, scoring
from capgraph.core.explain_score import explain_score
from capgraph.core.manifest import Manifest
from capgraph.core.outcomes import CapabilityOutcomes, Outcomes, apply_outcomes
from capgraph.core.validation import validate_manifest
from capgraph.core.verification import (
    METHODS,
    NOTE_NO_OUTCOMES,
    NOTE_UNVERIFIED,
    VERIFICATION_PROVENANCE_KEYS,
    Verification,
    apply_verification,
    verification_provenance,
    with_identity_note,
)
from tests.conftest import FIXED_NOW
from tests.unit.factories import load_seed, manifest

PROOF = Verification(method="http", verified_at="2026-12-06T10:00:00.000Z",
                     subject="https://example.com/.well-known/unfragile.json")
SEED_SCORES = {"qwen-qwen3-coder": 25, "qwen-qwen3.5-flash-02-23": 23}
SIGNALS = ("stars", "forks", "weekly_downloads", "model_downloads", "model_likes")


def parsed(data: dict[str, Any]) -> Manifest:
    result, findings = validate_manifest(data)
    assert result is not None, findings
    return result


def composed(data: dict[str, Any], verification: Verification | None = None
             ) -> compose.Composition:
    return compose.compose_body(parsed(data), now=FIXED_NOW, public_url="https://reg.test/",
                                verification=verification)


def imaginary(**community: int) -> dict[str, Any]:
    """The case that started this: an unknown API declaring its own popularity."""
    data = manifest(community=community) if community else manifest()
    data["artifact"].update(name="Imaginary OCR", slug="imaginary-ocr")
    return data


# -- the record ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_a_verification_round_trips_through_json(method: str) -> None:
    proof = Verification(method=method, verified_at="2026-12-06T10:00:00.000Z",
                         subject="example.org")
    assert proof.to_json() == {"method": method, "verified_at": "2026-12-06T10:00:00.000Z",
                               "subject": "example.org"}
    assert Verification.from_json(proof.to_json()) == proof


@pytest.mark.parametrize(
    "data",
    [{}, {"method": "email", "verified_at": "2026-12-06T10:00:00.000Z", "subject": "x"},
     {"method": "dns", "verified_at": "2026-12-06T10:00:00Z", "subject": "x"},
     {"method": "dns", "verified_at": "2026-12-06", "subject": "x"},
     {"method": "dns", "verified_at": "2026-12-06T10:00:00.000Z", "subject": " "},
     {"method": "dns", "verified_at": "2026-12-06T10:00:00.000Z", "subject": 3},
     {"method": "dns", "verified_at": None, "subject": "x"}],
)
def test_anything_else_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Verification.from_json(data)


def test_provenance_says_how_what_and_when_and_nothing_when_unverified() -> None:
    entries = verification_provenance(PROOF)
    assert entries == {"artifact.verified": "proven by http (https://example.com/.well-known/"
                                            "unfragile.json) at 2026-12-06T10:00:00.000Z"}
    assert set(entries) <= set(VERIFICATION_PROVENANCE_KEYS)
    assert verification_provenance(None) == {}


# -- trust follows identity --------------------------------------------------------------------


def test_declared_stars_do_not_lift_an_unverified_artifact() -> None:
    plain = composed(imaginary())
    boasting = composed(imaginary(stars=120))
    body = boasting.body.to_json()
    assert body["trust"]["score"] == plain.body.to_json()["trust"]["score"]
    assert body["trust"]["rank_breakdown"] == plain.body.to_json()["trust"]["rank_breakdown"]
    assert body["trust"]["rank_breakdown"]["adoption"] == scoring.ADOPTION_FLOOR
    # The numbers are still shown, as the publisher's word.
    assert body["trust"]["community"]["stars"] == 120
    assert boasting.provenance["trust.community"] == "declared"
    assert scoring.NOT_COUNTED in boasting.explanations["adoption"]
    assert "stars=120" in boasting.explanations["adoption"]


def test_declared_stars_count_once_the_builder_is_verified() -> None:
    unverified = composed(imaginary(stars=120)).body.to_json()
    verified = composed(imaginary(stars=120), PROOF)
    body = verified.body.to_json()
    expected = scoring.adoption("api", {"stars": 120}).value
    assert body["trust"]["rank_breakdown"]["adoption"] == expected > scoring.ADOPTION_FLOOR
    assert body["trust"]["score"] > unverified["trust"]["score"]
    assert verified.provenance["trust.community"] == "declared"
    assert verified.provenance["artifact.verified"].startswith("proven by http")
    assert scoring.NOT_COUNTED not in verified.explanations["adoption"]
    # Verifying a builder that declares nothing changes no component.
    bare = composed(imaginary(), PROOF).body.to_json()
    plain = composed(imaginary()).body.to_json()
    assert bare["trust"]["rank_breakdown"] == plain["trust"]["rank_breakdown"]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(SIGNALS), st.integers(0, 10**12), max_size=5))
def test_any_declared_counts_leave_the_unverified_score_alone(counts: dict[str, int]) -> None:
    data = imaginary(**counts)
    data["artifact"]["type"] = "model"
    plain = imaginary()
    plain["artifact"]["type"] = "model"
    base = composed(plain).body.to_json()["trust"]
    unverified = composed(data).body.to_json()["trust"]
    verified = composed(data, PROOF).body.to_json()["trust"]
    assert unverified["score"] == base["score"]
    assert unverified["community"] == {k: counts.get(k) for k in SIGNALS}
    assert verified["score"] >= unverified["score"]


def test_explain_score_says_why_declared_adoption_did_not_count() -> None:
    data = imaginary(stars=120)
    unverified = composed(data).body.to_json()
    out = explain_score(unverified, manifest=parsed(data))
    adoption = out["components"]["adoption"]
    assert adoption["value"] == scoring.ADOPTION_FLOOR
    assert adoption["explanation"].startswith(scoring.NOT_COUNTED)
    verified = composed(data, PROOF).body.to_json()
    out = explain_score(verified, manifest=parsed(data))
    assert "stars=120" in out["components"]["adoption"]["explanation"]
    assert scoring.NOT_COUNTED not in out["components"]["adoption"]["explanation"]


# -- one code path, idempotent, reversible -----------------------------------------------------


def test_compose_gives_what_apply_verification_gives() -> None:
    data = imaginary(stars=120, weekly_downloads=900)
    community = parsed(data).community
    unverified = composed(data).body.to_json()
    verified = composed(data, PROOF).body.to_json()
    assert apply_verification(unverified, PROOF, manifest_community=community) == verified
    assert apply_verification(verified, None, manifest_community=community) == unverified
    assert apply_verification(unverified, None, manifest_community=community) == unverified


def test_applying_is_idempotent_and_leaves_the_input_alone() -> None:
    data = imaginary(stars=120)
    community = parsed(data).community
    body = composed(data).body.to_json()
    before = copy.deepcopy(body)
    once = apply_verification(body, PROOF, manifest_community=community)
    assert body == before
    assert apply_verification(once, PROOF, manifest_community=community) == once
    later = Verification(method="dns", verified_at="2027-01-01T00:00:00.000Z",
                         subject="_unfragile.example.com")
    assert apply_verification(once, later, manifest_community=community) == once
    assert once["artifact"]["verified"] is once["trust"]["verified"] is True
    assert list(once) == list(body) and list(once["trust"]) == list(body["trust"])


def test_the_note_goes_and_comes_back_in_its_place() -> None:
    body = composed(imaginary()).body.to_json()
    modes = body["trust"]["failure_modes"]
    assert modes[-2:] == [NOTE_UNVERIFIED, NOTE_NO_OUTCOMES]
    verified = apply_verification(body, PROOF)["trust"]["failure_modes"]
    assert verified == [m for m in modes if m != NOTE_UNVERIFIED]
    assert verified[-1] == NOTE_NO_OUTCOMES
    assert apply_verification(apply_verification(body, PROOF), None) == body


def test_the_note_is_last_once_outcomes_are_observed() -> None:
    body = composed(imaginary()).body.to_json()
    cap_id = body["capabilities"][0]["id"]
    observed = apply_outcomes(body, Outcomes({cap_id: CapabilityOutcomes(2, 3)}))
    assert NOTE_NO_OUTCOMES not in observed["trust"]["failure_modes"]
    verified = apply_verification(observed, PROOF)
    assert NOTE_UNVERIFIED not in verified["trust"]["failure_modes"]
    back = apply_verification(verified, None)
    assert back["trust"]["failure_modes"][-1] == NOTE_UNVERIFIED
    assert back == observed
    # The observed outcomes stay in the score whatever the identity.
    assert verified["trust"]["rank_breakdown"]["match_graph"] == (
        observed["trust"]["rank_breakdown"]["match_graph"])


@pytest.mark.parametrize(
    ("modes", "verified", "expected"),
    [([], False, [NOTE_UNVERIFIED]),
     (["slow"], False, ["slow", NOTE_UNVERIFIED]),
     (["slow", NOTE_NO_OUTCOMES], False, ["slow", NOTE_UNVERIFIED, NOTE_NO_OUTCOMES]),
     (["slow", NOTE_UNVERIFIED, NOTE_NO_OUTCOMES], False,
      ["slow", NOTE_UNVERIFIED, NOTE_NO_OUTCOMES]),
     (["slow", NOTE_UNVERIFIED, NOTE_NO_OUTCOMES], True, ["slow", NOTE_NO_OUTCOMES]),
     (["slow", NOTE_UNVERIFIED], True, ["slow"]),
     (["slow"], True, ["slow"])],
)
def test_with_identity_note(modes: list[str], verified: bool, expected: list[str]) -> None:
    assert with_identity_note(modes, verified=verified) == expected


# -- imported passports keep their components --------------------------------------------------


def test_seeds_keep_their_components_and_scores(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        body = load_seed(path)["passport"]["unfragile"]
        slug = body["artifact"]["slug"]
        assert apply_verification(body, None) == body
        verified = apply_verification(body, PROOF)
        assert verified["trust"]["score"] == SEED_SCORES[slug] == body["trust"]["score"]
        assert verified["trust"]["rank_breakdown"] == body["trust"]["rank_breakdown"]
        assert NOTE_UNVERIFIED not in verified["trust"]["failure_modes"]
        assert verified["trust"]["failure_modes"][-1] == NOTE_NO_OUTCOMES
        assert apply_verification(verified, None) == body
        assert compose.rescore(verified)["trust"]["score"] == SEED_SCORES[slug]
