"""The rules the seed passports obey (PROTOCOL.md A.2), reproduced by capgraph.core.compose,
and the same rules holding for bodies composed from manifests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from capgraph.core import compose, scoring
from capgraph.core.passport import PassportBody
from capgraph.core.validation import validate_manifest
from capgraph.core.verification import Verification
from tests.conftest import FIXED_NOW
from tests.unit.factories import capability, load_seed, manifest, written_uri


def seed_bodies(paths: list[Path]) -> list[dict[str, Any]]:
    return [load_seed(p)["passport"]["unfragile"] for p in paths]


def test_capability_uri_reproduces_every_seed_uri(seed_paths: list[Path]) -> None:
    checked = 0
    for body in seed_bodies(seed_paths):
        for cap in body["capabilities"]:
            assert compose.capability_uri(cap["categories"][0], cap["name"]) == cap["uri"]
            assert written_uri(cap["categories"][0], cap["name"]) == cap["uri"]
            checked += 1
    assert checked == 18


@pytest.mark.parametrize(
    ("category", "name"),
    [("image-visual", "A  B"), ("tool-use-integration", "API--Based (v2)!"),
     ("search-retrieval", "Ünïcode name 128k+"), ("memory-knowledge", "ends with dots...")],
)
def test_capability_uri_collapses_each_run_of_other_characters(category: str, name: str) -> None:
    uri = compose.capability_uri(category, name)
    assert uri == written_uri(category, name)
    name_part = uri.removeprefix("capability://" + category.replace("-", ".") + ".")
    assert ".." not in name_part
    assert re.fullmatch(r"[a-z0-9.]+", name_part)


def test_seed_capabilities_are_sorted_by_id_as_a_string(seed_paths: list[Path]) -> None:
    for body in seed_bodies(seed_paths):
        ids = [c["id"] for c in body["capabilities"]]
        assert ids == sorted(ids)
        prefix = body["artifact"]["id"] + "__cap_"
        assert all(i.startswith(prefix) for i in ids)
        numbers = [int(i.removeprefix(prefix)) for i in ids]
        assert sorted(numbers) == list(range(len(numbers)))


def test_string_order_differs_from_numeric_order_in_the_coder_seed(
    seed_paths: list[Path],
) -> None:
    # The coder seed has twelve capabilities, so the string order (cap_1, cap_10, cap_11, cap_2)
    # is really exercised.
    bodies = {b["artifact"]["slug"]: b for b in seed_bodies(seed_paths)}
    ids = [c["id"].rsplit("_", 1)[1] for c in bodies["qwen-qwen3-coder"]["capabilities"]]
    assert ids[:4] == ["0", "1", "10", "11"]


def test_derive_permissions_reproduces_seed_permissions(seed_paths: list[Path]) -> None:
    for body in seed_bodies(seed_paths):
        caps = body["capabilities"]
        assert compose.derive_permissions(caps) == body["trust"]["permissions"]
        # The written rule: the first ten requires entries over all capabilities, listed order.
        assert [r for c in caps for r in c["requires"]][:10] == body["trust"]["permissions"]


def test_derive_failure_modes_reproduces_seed_failure_modes(seed_paths: list[Path]) -> None:
    for body in seed_bodies(seed_paths):
        caps = body["capabilities"]
        derived = compose.derive_failure_modes(
            caps,
            verified=body["artifact"]["verified"],
            matches=body["trust"]["observed_outcomes"]["matches"],
        )
        assert derived == body["trust"]["failure_modes"]
        limitations = [x for c in caps for x in c["limitations"]]
        assert derived[:10] == limitations[:10]
        assert derived[10:] == [
            "builder identity is not verified yet", "no observed match outcomes yet",
        ]


def test_registry_notes_go_away_once_verified_and_matched() -> None:
    caps = [{"limitations": ["slow"]}]
    assert compose.derive_failure_modes(caps, verified=True, matches=3) == ["slow"]
    assert compose.derive_failure_modes(caps, verified=True, matches=0) == [
        "slow", compose.NOTE_NO_OUTCOMES]
    assert compose.derive_failure_modes(caps, verified=False, matches=1) == [
        "slow", compose.NOTE_UNVERIFIED]


def test_score_reproduces_the_seed_scores(seed_paths: list[Path]) -> None:
    found = {}
    for body in seed_bodies(seed_paths):
        breakdown = body["trust"]["rank_breakdown"]
        computed = scoring.score(breakdown, breakdown["weights"])
        assert computed == body["trust"]["score"]
        found[body["artifact"]["slug"]] = computed
    assert found == {"qwen-qwen3-coder": 25, "qwen-qwen3.5-flash-02-23": 23}


def test_no_outcomes_values_match_the_seeds(seed_paths: list[Path]) -> None:
    assert scoring.match_graph(0, 0).value == 0.25
    assert scoring.capability_confidence(0, 0) == 0.5
    for body in seed_bodies(seed_paths):
        assert body["trust"]["observed_outcomes"]["matches"] == 0
        assert body["trust"]["rank_breakdown"]["match_graph"] == scoring.match_graph(0, 0).value
        for cap in body["capabilities"]:
            assert cap["confidence"] == scoring.capability_confidence(0, 0)
            assert cap["matches"] == 0
            assert cap["success_rate"] == 0


def test_rescore_recomputes_from_components_and_keeps_everything_else(
    seed_paths: list[Path],
) -> None:
    for body in seed_bodies(seed_paths):
        tampered = {**body, "trust": {**body["trust"], "score": 99}}
        again = compose.rescore(tampered)
        assert again["trust"]["score"] == body["trust"]["score"]
        assert {k: v for k, v in again["trust"].items() if k != "score"} == {
            k: v for k, v in body["trust"].items() if k != "score"}
        assert tampered["trust"]["score"] == 99  # the input is not modified


def test_iso_ms_writes_milliseconds_and_z_like_the_seeds(seed_paths: list[Path]) -> None:
    for body in seed_bodies(seed_paths):
        stamp = body["trust"]["maintenance"]["updated_at"]
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert compose.iso_ms(moment) == stamp
    assert compose.iso_ms(datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.678Z")


def test_iso_ms_converts_to_utc_and_pads_the_year() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert compose.iso_ms(datetime(2026, 1, 1, 1, 0, tzinfo=plus_two)) == (
        "2025-12-31T23:00:00.000Z")
    assert compose.iso_ms(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"


# -- bodies composed from manifests ----------------------------------------------------------


def _compose(data: dict[str, Any], **kwargs: Any) -> compose.Composition:
    parsed, findings = validate_manifest(data)
    assert parsed is not None, findings
    return compose.compose_body(parsed, now=FIXED_NOW, public_url="https://reg.test/", **kwargs)


def twelve_capabilities() -> list[dict[str, Any]]:
    return [
        capability(
            f"c{i}",
            name=f"Step #{i} — Convert PDF/Tables",
            conditions={"limitations": [f"limit {i}a", f"limit {i}b"], "requires": [f"need {i}"]},
        )
        for i in range(12)
    ]


def test_composed_body_follows_the_seed_rules() -> None:
    data = manifest(capabilities=twelve_capabilities())
    body = _compose(data).body.to_json()
    caps = body["capabilities"]
    ids = [c["id"] for c in caps]
    assert ids == sorted(ids)
    assert ids[:3] == ["example-tool__cap_0", "example-tool__cap_1", "example-tool__cap_10"]
    for cap in caps:
        assert cap["uri"] == written_uri(cap["categories"][0], cap["name"])
        assert cap["confidence"] == 0.5 and cap["matches"] == 0 and cap["success_rate"] == 0
    requires = [r for c in caps for r in c["requires"]]
    assert body["trust"]["permissions"] == requires[:10]
    limitations = [x for c in caps for x in c["limitations"]]
    modes = body["trust"]["failure_modes"]
    assert modes[:10] == limitations[:10]
    assert modes[-2:] == [compose.NOTE_UNVERIFIED, compose.NOTE_NO_OUTCOMES]
    assert body["trust"]["rank_breakdown"]["match_graph"] == 0.25
    breakdown = body["trust"]["rank_breakdown"]
    assert body["trust"]["score"] == scoring.score(breakdown, breakdown["weights"])


def test_composed_body_lists_declared_failure_modes_after_limitations() -> None:
    body = _compose(manifest()).body.to_json()
    modes = body["trust"]["failure_modes"]
    declared = [m for m in modes if m.startswith("rate limited under load")]
    assert len(declared) == 1 and "retry with backoff" in declared[0]
    assert modes.index(declared[0]) > modes.index("alpha is slow on large inputs")


def test_composed_body_is_a_valid_passport_body_with_the_protocol_key_order() -> None:
    body = _compose(manifest()).body.to_json()
    assert PassportBody.from_json(body).to_json() == body
    assert list(body) == ["@version", "version", "artifact", "capabilities", "trust",
                          "distribution", "declared"]
    assert body["version"] == FIXED_NOW.strftime("%Y-%m")
    assert re.fullmatch(r"\d{4}-\d{2}", body["version"])
    assert body["artifact"]["page_url"] == "https://reg.test/example-tool"
    assert body["distribution"] == {
        "claim_url": "https://reg.test/submit?claim=example-tool",
        "compare_url": "https://reg.test/compare?artifact=example-tool",
    }


def test_capability_numbers_are_kept_across_versions() -> None:
    first = _compose(manifest())
    assert first.capability_numbers == {"alpha": 0, "beta": 1, "gamma": 2}
    caps = [capability("new"), capability("gamma"), capability("alpha")]
    second = _compose(manifest(capabilities=caps), numbers=first.capability_numbers)
    assert second.capability_numbers == {"alpha": 0, "beta": 1, "gamma": 2, "new": 3}
    by_name = {c["name"]: c["id"] for c in second.body.to_json()["capabilities"]}
    assert by_name == {"capability alpha": "example-tool__cap_0",
                       "capability gamma": "example-tool__cap_2",
                       "capability new": "example-tool__cap_3"}


def test_categories_are_inferred_and_marked_derived_only_when_absent() -> None:
    caps = [capability("alpha"), capability("beta"), capability("gamma")]
    del caps[1]["categories"]
    result = _compose(manifest(capabilities=caps))
    assert result.provenance["capabilities[beta].categories"] == "derived"
    assert "capabilities[alpha].categories" not in result.provenance
    assert result.provenance["artifact.categories"] == "derived"
    beta = next(c for c in result.body.to_json()["capabilities"] if c["name"].endswith("beta"))
    assert 1 <= len(beta["categories"]) <= 2

    declared = manifest()
    declared["artifact"]["categories"] = ["developer-tools"]
    result = _compose(declared)
    assert "artifact.categories" not in result.provenance
    assert result.body.to_json()["artifact"]["categories"] == ["developer-tools"]


def test_data_access_risk_provenance_says_declared_or_derived() -> None:
    declared = _compose(manifest(trust={"data_access_risk": "high"}))
    assert declared.provenance["trust.data_access_risk"] == "declared"
    assert declared.body.to_json()["trust"]["data_access_risk"] == "high"
    derived = _compose(manifest())
    assert derived.provenance["trust.data_access_risk"] == "derived"
    assert derived.body.to_json()["trust"]["data_access_risk"] == "low"
    scoped = _compose(manifest(permissions=["shell"]))
    assert scoped.body.to_json()["trust"]["data_access_risk"] == "high"


@pytest.mark.parametrize(
    "updated_at",
    ["2026-09-30", "2026-09-30T10:00:00", "2026-09-30T10:00:00+02:00", "2026-09-30T10:00:00Z",
     "0001-01-01", "9999-12-31", "2027-01-01"],
)
def test_any_update_date_that_validates_can_be_composed(updated_at: str) -> None:
    data = manifest()
    data["artifact"]["updated_at"] = updated_at
    body = _compose(data).body.to_json()
    stamp = body["trust"]["maintenance"]["updated_at"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", stamp)
    assert 0 <= body["trust"]["rank_breakdown"]["freshness"] <= 1


def test_composed_body_is_unverified_by_default_and_verified_with_a_proof() -> None:
    plain = _compose(manifest())
    body = plain.body.to_json()
    assert body["artifact"]["verified"] is body["trust"]["verified"] is False
    assert "artifact.verified" not in plain.provenance
    proof = Verification(method="dns", verified_at="2026-12-06T10:00:00.000Z",
                         subject="_unfragile.example.com")
    proven = _compose(manifest(), verification=proof)
    verified = proven.body.to_json()
    assert verified["artifact"]["verified"] is verified["trust"]["verified"] is True
    assert verified["trust"]["failure_modes"] == [
        m for m in body["trust"]["failure_modes"] if m != compose.NOTE_UNVERIFIED]
    assert verified["trust"]["failure_modes"][-1] == compose.NOTE_NO_OUTCOMES
    assert proven.provenance["artifact.verified"] == (
        "proven by dns (_unfragile.example.com) at 2026-12-06T10:00:00.000Z")
    # No counts declared: verification changes no component and so not the score.
    assert verified["trust"]["rank_breakdown"] == body["trust"]["rank_breakdown"]
    assert verified["trust"]["score"] == body["trust"]["score"]


def test_declared_community_is_shown_and_marked_but_counted_only_when_verified() -> None:
    data = manifest(community={"stars": 120, "weekly_downloads": 3000})
    unverified = _compose(data)
    body = unverified.body.to_json()
    assert body["trust"]["community"]["stars"] == 120
    assert unverified.provenance["trust.community"] == "declared"
    assert body["trust"]["rank_breakdown"]["adoption"] == scoring.ADOPTION_FLOOR
    proof = Verification(method="http", verified_at="2026-12-06T10:00:00.000Z",
                         subject="https://example.com/.well-known/unfragile.json")
    verified = _compose(data, verification=proof).body.to_json()
    assert verified["trust"]["rank_breakdown"]["adoption"] == scoring.adoption(
        "api", {"stars": 120, "weekly_downloads": 3000}).value
    assert verified["trust"]["score"] > body["trust"]["score"]


def test_every_component_explanation_is_non_empty() -> None:
    result = _compose(manifest())
    assert set(result.explanations) == set(scoring.weights_for("api"))
    assert all(text.strip() for text in result.explanations.values())


def test_every_declared_field_reaches_the_body_after_the_seeds_keys() -> None:
    data = manifest(permissions=["filesystem:read", "network"])
    data["artifact"]["description"] = "A tool that turns documents into data, locally."
    data["execution"]["command"] = "example-tool serve"
    data["execution"]["install"] = "pip install example-tool"
    body = _compose(data).body.to_json()
    assert body["declared"] == {
        "description": "A tool that turns documents into data, locally.",
        "maintainer": "Example Labs",
        "license": "MIT",
        "repository": "https://github.com/example/example-tool",
        "homepage": "https://example.com/tool",
        "permissions": ["filesystem:read", "network"],
        "execution": {"protocol": "https", "auth_method": "api_key",
                      "endpoint": "https://api.example.com/v1",
                      "command": "example-tool serve", "install": "pip install example-tool"},
    }
    # the seeds' trust.permissions keeps its meaning: the capabilities' requirements
    assert body["trust"]["permissions"] == [
        "an API key for alpha", "an API key for beta", "an API key for gamma"]
    assert PassportBody.from_json(body).to_json() == body


def test_a_body_without_declared_fields_keeps_the_seeds_shape(seed_paths: list[Path]) -> None:
    for path in seed_paths:
        body = json.loads(path.read_text())["passport"]["unfragile"]
        assert PassportBody.from_json(body).to_json() == body
        assert "declared" not in PassportBody.from_json(body).to_json()
