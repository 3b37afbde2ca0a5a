"""The Registry use cases on every storage backend (the ``registry`` fixture)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.cli.main import load_demo
from capgraph.core.compose import NOTE_NO_OUTCOMES, NOTE_UNVERIFIED, iso_ms
from capgraph.core.manifest import parse_manifest_text
from capgraph.core.scoring import score
from capgraph.core.signing import verify_passport
from capgraph.errors import InvalidManifest, InvalidPassport, NotFound, ParseError, Unauthorized
from capgraph.http.shapes import verify_json
from capgraph.registry import Registry
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.sqlite import SQLiteStore
from tests.conftest import FIXED_NOW
from tests.unit.factories import (
    capability,
    demo_files,
    load_seed,
    manifest,
    seed_by_slug,
    to_yaml,
    written_uri,
)

BASE = "https://registry.example"


def served(registry: Registry, slug: str, *, version: int | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(registry.envelope_bytes(slug, BASE, version=version))
    return document


def body_of(registry: Registry, slug: str, *, version: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = served(registry, slug, version=version)["passport"]["unfragile"]
    return body


def demo_text() -> tuple[str, str]:
    """A demo manifest's slug and text (docling, or the first one if it is ever renamed)."""
    files = demo_files()
    path = next((p for p in files if p.name == "docling.yml"), files[0])
    text = path.read_text(encoding="utf-8")
    return parse_manifest_text(text)["artifact"]["slug"], text


def assert_nothing_stored(registry: Registry) -> None:
    assert registry.store.count() == 0
    assert registry.artifacts() == []


# -- importing the seeds ---------------------------------------------------------------------


def test_importing_a_seed_serves_its_body_unchanged(
    registry: Registry, seed_paths: list[Path]
) -> None:
    for path in seed_paths:
        seed = load_seed(path)
        slug = seed["passport"]["unfragile"]["artifact"]["slug"]
        result = registry.import_passport(seed)
        assert result.created and result.stored.version == 1
        assert result.stored.score == seed["passport"]["unfragile"]["trust"]["score"]
        envelope = served(registry, slug)
        assert envelope["passport"]["unfragile"] == seed["passport"]["unfragile"]
        assert json.dumps(envelope["passport"]["unfragile"]) == json.dumps(
            seed["passport"]["unfragile"])
        assert envelope["passport"]["version"] == 1
        assert envelope["passport"]["signedBy"] == "capgraph-test"
        assert envelope["passport"]["signedAt"] == iso_ms(FIXED_NOW)
        assert list(envelope["_links"]) == list(seed["_links"])
        assert envelope["_links"]["self"] == f"{BASE}/api/v1/passport/{slug}"


def test_importing_a_seed_again_creates_nothing(registry: Registry) -> None:
    seed = seed_by_slug("qwen-qwen3-coder")
    first = registry.import_passport(seed)
    generation = registry.store.generation()
    again = registry.import_passport(copy.deepcopy(seed))
    assert not again.created
    assert again.stored == first.stored
    assert [v.version for v in registry.versions("qwen-qwen3-coder")] == [1]
    assert registry.store.generation() == generation


def test_importing_our_own_passport_again_changes_nothing(registry: Registry) -> None:
    published = registry.publish(to_yaml(manifest()))
    generation = registry.store.generation()
    for document in (served(registry, "example-tool"),
                     served(registry, "example-tool")["passport"]):
        again = registry.import_passport(copy.deepcopy(document))
        assert not again.created
        assert again.stored == published.stored
    assert [v.version for v in registry.versions("example-tool")] == [1]
    assert registry.store.generation() == generation
    provenance = served(registry, "example-tool")["passport"]["provenance"]
    assert not any(v.startswith("imported") for v in provenance.values())


def test_importing_a_bare_passport_object_works_too(registry: Registry) -> None:
    seed = seed_by_slug("qwen-qwen3.5-flash-02-23")
    assert registry.import_passport(seed["passport"]).created


def test_imported_score_is_recomputed_from_the_components(registry: Registry) -> None:
    seed = seed_by_slug("qwen-qwen3-coder")
    tampered = copy.deepcopy(seed)
    tampered["passport"]["unfragile"]["trust"]["score"] = 99
    registry.import_passport(tampered)
    body = body_of(registry, "qwen-qwen3-coder")
    assert body["trust"]["score"] == 25
    provenance = served(registry, "qwen-qwen3-coder")["passport"]["provenance"]
    assert provenance["trust.score"] == "derived"
    assert "unfragile.ai" in provenance["source"]


@pytest.mark.parametrize(
    "document",
    [[], {"passport": "x"}, {"passport": {"signature": "x"}},
     {"passport": {"unfragile": {"@version": "1.0"}}}],
)
def test_importing_something_off_the_format_stores_nothing(
    registry: Registry, document: Any
) -> None:
    with pytest.raises(InvalidPassport):
        registry.import_passport(document)
    assert_nothing_stored(registry)


def test_importing_a_body_with_a_wrong_type_stores_nothing(registry: Registry) -> None:
    seed = seed_by_slug("qwen-qwen3-coder")
    seed["passport"]["unfragile"]["trust"]["verified"] = "false"
    with pytest.raises(InvalidPassport):
        registry.import_passport(seed)
    assert_nothing_stored(registry)


def test_importing_weights_that_push_the_score_past_100_is_refused(registry: Registry) -> None:
    seed = seed_by_slug("qwen-qwen3-coder")
    trust = seed["passport"]["unfragile"]["trust"]
    trust["rank_breakdown"] = {**dict.fromkeys(trust["rank_breakdown"]["weights"], 1),
                               "weights": dict.fromkeys(trust["rank_breakdown"]["weights"], 1)}
    with pytest.raises(InvalidPassport):
        registry.import_passport(seed)
    assert_nothing_stored(registry)


# -- publishing ------------------------------------------------------------------------------


def test_publishing_a_demo_manifest_creates_version_1(registry: Registry) -> None:
    slug, text = demo_text()
    result = registry.publish(text)
    assert result.created
    assert (result.stored.slug, result.stored.version) == (slug, 1)
    assert result.stored.source_kind == "manifest"
    body = body_of(registry, slug)
    assert body["artifact"]["slug"] == slug
    assert result.stored.score == body["trust"]["score"]
    assert registry.artifacts()[0].slug == slug


def test_publishing_identical_content_again_creates_nothing(registry: Registry) -> None:
    slug, text = demo_text()
    first = registry.publish(text)
    generation = registry.store.generation()
    again = registry.publish(text)
    assert not again.created
    assert again.stored == first.stored
    # The same content as JSON is the same content.
    as_json = registry.publish(json.dumps(parse_manifest_text(text)))
    assert not as_json.created
    assert [v.version for v in registry.versions(slug)] == [1]
    assert registry.store.generation() == generation


def test_changing_a_description_creates_version_2_and_keeps_version_1(
    registry: Registry,
) -> None:
    slug, text = demo_text()
    registry.publish(text)
    v1_bytes = registry.passport(slug, version=1).passport
    v1_passport = served(registry, slug, version=1)["passport"]
    latest_before = registry.envelope_bytes(slug, BASE)

    data = parse_manifest_text(text)
    data["capabilities"][0]["description"] += " It also writes a processing log."
    result = registry.publish(to_yaml(data))
    assert result.created and result.stored.version == 2

    assert registry.passport(slug, version=1).passport == v1_bytes
    assert served(registry, slug, version=1)["passport"] == v1_passport
    assert registry.envelope_bytes(slug, BASE, version=1).startswith(
        b'{"passport":' + v1_bytes + b",")
    assert [v.version for v in registry.versions(slug)] == [1, 2]
    latest = served(registry, slug)
    assert latest["passport"]["version"] == 2
    assert registry.envelope_bytes(slug, BASE) != latest_before  # the cache saw the write
    descriptions = [c["description"] for c in latest["passport"]["unfragile"]["capabilities"]]
    assert any(d.endswith("It also writes a processing log.") for d in descriptions)
    assert not any(d.endswith("It also writes a processing log.")
                   for d in [c["description"] for c in body_of(registry, slug, version=1)[
                       "capabilities"]])


def test_a_write_through_another_registry_reaches_the_cached_envelope(tmp_path: Path) -> None:
    def open_registry() -> Registry:
        return assemble_registry(store=SQLiteStore(tmp_path / "shared.db"),
                        keys=FileKeyStore(tmp_path / "keys"), registry_name="capgraph-test",
                        public_url="http://registry.test", clock=lambda: FIXED_NOW)

    reader, writer = open_registry(), open_registry()
    try:
        writer.publish(to_yaml(manifest()))
        assert served(reader, "example-tool")["passport"]["version"] == 1
        changed = manifest()
        changed["capabilities"][0]["description"] += " Now with caching."
        writer.publish(to_yaml(changed))
        assert served(reader, "example-tool")["passport"]["version"] == 2
    finally:
        reader.store.close()
        writer.store.close()


def test_unknown_version_and_slug_are_not_found(registry: Registry) -> None:
    slug, text = demo_text()
    registry.publish(text)
    with pytest.raises(NotFound):
        registry.passport(slug, version=2)
    with pytest.raises(NotFound):
        registry.passport("no-such-artifact")
    with pytest.raises(NotFound):
        registry.versions("no-such-artifact")


def _ids_by_manifest_id(registry: Registry, slug: str) -> dict[str, str]:
    body = body_of(registry, slug)
    return {c["name"].removeprefix("capability "): c["id"] for c in body["capabilities"]}


def test_capability_ids_stay_stable_when_a_capability_is_inserted_first(
    registry: Registry,
) -> None:
    registry.publish(to_yaml(manifest()))
    before = _ids_by_manifest_id(registry, "example-tool")
    assert before == {"alpha": "example-tool__cap_0", "beta": "example-tool__cap_1",
                      "gamma": "example-tool__cap_2"}
    caps = [capability("zeta"), capability("alpha"), capability("beta"), capability("gamma")]
    assert registry.publish(to_yaml(manifest(capabilities=caps))).stored.version == 2
    after = _ids_by_manifest_id(registry, "example-tool")
    assert {k: after[k] for k in before} == before
    assert after["zeta"] == "example-tool__cap_3"


def test_capability_ids_are_not_reused_after_removal(registry: Registry) -> None:
    registry.publish(to_yaml(manifest()))
    registry.publish(to_yaml(manifest(capabilities=[capability("alpha"), capability("gamma")])))
    caps = [capability("alpha"), capability("gamma"), capability("delta")]
    registry.publish(to_yaml(manifest(capabilities=caps)))
    ids = _ids_by_manifest_id(registry, "example-tool")
    assert ids == {"alpha": "example-tool__cap_0", "gamma": "example-tool__cap_2",
                   "delta": "example-tool__cap_3"}


def test_invalid_manifest_stores_nothing(registry: Registry) -> None:
    data = manifest()
    data["capabilities"][1]["description"] = "too short"
    with pytest.raises(InvalidManifest) as info:
        registry.publish(to_yaml(data))
    assert [(f.path, f.code) for f in info.value.findings if f.severity == "error"] == [
        ("capabilities[1].description", "too-short")]
    assert_nothing_stored(registry)


def test_malformed_yaml_stores_nothing(registry: Registry) -> None:
    generation = registry.store.generation()
    with pytest.raises(ParseError):
        registry.publish("artifact: [unclosed\n  name: x\n")
    with pytest.raises(ParseError):
        registry.publish(b"\xff\xfe not utf-8")
    assert_nothing_stored(registry)
    assert registry.store.generation() == generation


def test_failed_publish_after_a_good_one_keeps_the_history(registry: Registry) -> None:
    registry.publish(to_yaml(manifest()))
    broken = manifest()
    broken["artifact"]["type"] = "robot"
    with pytest.raises(InvalidManifest):
        registry.publish(to_yaml(broken))
    assert [v.version for v in registry.versions("example-tool")] == [1]


def test_published_passport_follows_the_seed_rules(registry: Registry) -> None:
    caps = [
        capability(f"c{i}", name=f"Step {i}: Résumé/PDF parsing",
                   conditions={"limitations": [f"limit {i}", f"edge {i}"],
                               "requires": [f"need {i}", "shared need"]})
        for i in range(12)
    ]
    registry.publish(to_yaml(manifest(capabilities=caps)))
    body = body_of(registry, "example-tool")
    ids = [c["id"] for c in body["capabilities"]]
    assert ids == sorted(ids)
    assert sorted(ids, key=lambda i: int(i.rsplit("_", 1)[1])) == [
        f"example-tool__cap_{n}" for n in range(12)]
    for cap in body["capabilities"]:
        assert cap["uri"] == written_uri(cap["categories"][0], cap["name"])
        assert (cap["confidence"], cap["matches"], cap["success_rate"]) == (0.5, 0, 0)
    listed_requires: list[str] = []
    for cap in body["capabilities"]:
        listed_requires += [r for r in cap["requires"] if r not in listed_requires]
    assert body["trust"]["permissions"] == listed_requires[:10]
    limitations = [x for c in body["capabilities"] for x in c["limitations"]]
    modes = body["trust"]["failure_modes"]
    assert modes[:10] == limitations[:10]
    assert modes[-2:] == [NOTE_UNVERIFIED, NOTE_NO_OUTCOMES]
    breakdown = body["trust"]["rank_breakdown"]
    assert breakdown["match_graph"] == 0.25
    assert body["trust"]["score"] == score(breakdown, breakdown["weights"])
    assert body["trust"]["observed_outcomes"]["matches"] == 0


def test_inferred_categories_are_recorded_as_derived(registry: Registry) -> None:
    caps = [capability("alpha"), capability("beta"), capability("gamma")]
    del caps[0]["categories"]
    registry.publish(to_yaml(manifest(capabilities=caps)))
    passport = served(registry, "example-tool")["passport"]
    assert passport["provenance"]["capabilities[alpha].categories"] == "derived"
    assert "capabilities[beta].categories" not in passport["provenance"]
    assert passport["provenance"]["artifact.categories"] == "derived"
    assert passport["unfragile"]["artifact"]["categories"]


def test_data_access_risk_records_declared_or_derived(registry: Registry) -> None:
    registry.publish(to_yaml(manifest(trust={"data_access_risk": "moderate"})))
    passport = served(registry, "example-tool")["passport"]
    assert passport["unfragile"]["trust"]["data_access_risk"] == "moderate"
    assert passport["provenance"]["trust.data_access_risk"] == "declared"

    derived = manifest(permissions=["filesystem:write"])
    derived["artifact"]["slug"] = "other-tool"
    registry.publish(to_yaml(derived))
    passport = served(registry, "other-tool")["passport"]
    assert passport["unfragile"]["trust"]["data_access_risk"] == "high"
    assert passport["provenance"]["trust.data_access_risk"] == "derived"


# -- verification ----------------------------------------------------------------------------


def _publish_everything(registry: Registry) -> list[str]:
    for path in demo_files()[:6]:
        registry.publish(path.read_text(encoding="utf-8"))
    for slug in ("qwen-qwen3-coder", "qwen-qwen3.5-flash-02-23"):
        registry.import_passport(seed_by_slug(slug))
    registry.publish(to_yaml(manifest()))
    registry.publish(to_yaml(manifest(capabilities=[capability("alpha"), capability("x")])))
    return [a.slug for a in registry.artifacts()]


def test_every_stored_passport_verifies_with_the_registry_keys(registry: Registry) -> None:
    slugs = _publish_everything(registry)
    keys = registry.keys.public_keys()
    count = 0
    for slug in slugs:
        for stored in registry.versions(slug):
            passport = json.loads(stored.passport)
            assert verify_passport(passport, keys).kid == stored.key_id
            count += 1
        report = registry.verify_slug(slug)
        assert report.valid and report.reasons == [] and report.slug == slug
        document = served(registry, slug)
        assert registry.verify_document(document).valid
        assert registry.verify_document(document["passport"]).valid
    assert count == len(slugs) + 1  # example-tool has two versions


def test_jwks_lists_the_key_that_signed(registry: Registry) -> None:
    registry.publish(to_yaml(manifest()))
    kid = served(registry, "example-tool")["passport"]["keyId"]
    passport_keys = [k for k in registry.jwks()["keys"] if "purpose" not in k]
    assert [(k["kid"], k["status"]) for k in passport_keys] == [(kid, "active")]


@pytest.mark.parametrize(
    "path",
    [("unfragile", "trust", "score"), ("unfragile", "artifact", "name"),
     ("unfragile", "capabilities", 0, "description"), ("signedAt",), ("version",),
     ("signedBy",), ("provenance", "trust.data_access_risk")],
)
def test_tampering_makes_verify_document_report_invalid(
    registry: Registry, path: tuple[Any, ...]
) -> None:
    registry.publish(to_yaml(manifest()))
    document = served(registry, "example-tool")
    target: Any = document["passport"]
    for step in path[:-1]:
        target = target[step]
    old = target[path[-1]]
    target[path[-1]] = (old + 1) if isinstance(old, int) else (
        "2026-11-01T12:00:01.000Z" if path == ("signedAt",) else f"{old} (edited)")
    report = registry.verify_document(document)
    assert not report.valid
    assert report.reasons
    assert verify_json(report)["valid"] is False


def test_a_tampered_signature_reports_invalid(registry: Registry) -> None:
    registry.import_passport(seed_by_slug("qwen-qwen3-coder"))
    document = served(registry, "qwen-qwen3-coder")
    signature = document["passport"]["signature"]
    document["passport"]["signature"] = ("B" if signature[0] == "A" else "A") + signature[1:]
    report = registry.verify_document(document)
    assert not report.valid and report.reasons


def test_the_original_seed_signature_is_not_one_of_ours(registry: Registry) -> None:
    report = registry.verify_document(seed_by_slug("qwen-qwen3-coder"))
    assert not report.valid
    assert report.reasons == [
        "signed by unfragile.ai, whose key is not known here (the passport names no key id)"]


# -- API keys --------------------------------------------------------------------------------


def test_api_key_create_authenticate_revoke(registry: Registry) -> None:
    key_id, secret = registry.create_api_key("ci")
    record = registry.authenticate(secret)
    assert (record.key_id, record.name, record.revoked) == (key_id, "ci", False)
    registry.revoke_api_key(key_id)
    with pytest.raises(Unauthorized):
        registry.authenticate(secret)


@pytest.mark.parametrize("secret", [None, "", "cg_not-a-real-key"])
def test_missing_or_unknown_api_key_is_unauthorized(registry: Registry, secret: Any) -> None:
    registry.create_api_key("ci")
    with pytest.raises(Unauthorized):
        registry.authenticate(secret)


def test_api_keys_are_distinct_and_only_a_hash_is_stored(registry: Registry) -> None:
    first = registry.create_api_key("a")
    second = registry.create_api_key("b")
    assert first[0] != second[0] and first[1] != second[1]
    assert registry.authenticate(second[1]).key_id == second[0]
    listed = registry.store.api_keys()
    assert {k.key_id for k in listed} == {first[0], second[0]}
    assert all(first[1] not in repr(k) and second[1] not in repr(k) for k in listed)
    if isinstance(registry.store, SQLiteStore):
        files = registry.store.path.parent.glob(registry.store.path.name + "*")
        raw = b"".join(p.read_bytes() for p in files)
        assert first[1].encode() not in raw and second[1].encode() not in raw


# -- demo data -------------------------------------------------------------------------------


def test_load_demo_publishes_every_demo_manifest_once(registry: Registry) -> None:
    created, unchanged = load_demo(registry)
    assert (created, unchanged) == (len(demo_files()), 0)
    assert load_demo(registry) == (0, len(demo_files()))
    assert registry.store.count() == len(demo_files())
