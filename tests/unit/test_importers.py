"""The importers' mappings (pure): what each format's fields become, and that no input makes
``read_document`` raise."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core.server_detail import ServerVersion, server_response
from capgraph.core.validation import MIN_DESCRIPTION, validate_manifest
from capgraph.importers import Mapped, Refusal, read_document
from capgraph.importers.entries import describe, slugify

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import"


def _one(data: object, **kwargs: str) -> Mapped:
    entry = read_document(json.dumps(data).encode(), **kwargs).entries[0]  # type: ignore[arg-type]
    assert isinstance(entry, Mapped), entry
    return entry


def test_server_json_maps_command_endpoint_and_secrets() -> None:
    mapped = _one(json.loads((FIXTURES / "server.json").read_text()))
    m = mapped.manifest
    assert m["artifact"]["slug"] == "io.github.example-labs-tide-tables"
    assert m["artifact"]["repository"] == "https://github.com/example-labs/tide-tables-mcp"
    assert m["execution"]["command"] == "npx -y @example-labs/tide-tables-mcp@2.3.1"
    assert m["capabilities"][0]["conditions"]["requires"] == ["credentials", "network"]
    assert "dev.capgraph/x" not in json.dumps(m)


def test_server_json_drops_our_own_meta_key_and_needs_a_url() -> None:
    doc = {"name": "com.example/s", "description": "d", "version": "1",
           "_meta": {"dev.capgraph/passport": {"unfragileRank": 100}}}
    refused = read_document(json.dumps(doc).encode()).entries[0]
    assert isinstance(refused, Refusal) and "gives no URL" in refused.reasons[0]
    doc["websiteUrl"] = "https://s.example.com"
    assert "_meta" not in _one(doc).manifest["x-import"]["original"]


def test_agent_card_skills_become_capabilities_with_their_examples() -> None:
    mapped = _one(json.loads((FIXTURES / "agent-card.json").read_text()))
    caps = mapped.manifest["capabilities"]
    assert [c["id"] for c in caps] == ["berth-schedule", "yard-moves"]
    assert caps[0]["intents_served"][0] == "schedule berths for the ships arriving this week"
    assert caps[1]["output_types"] == ["application/json", "text/csv"]
    assert caps[0]["input_types"] == ["text/plain", "application/json"]  # the card's default
    assert mapped.manifest["execution"]["auth_method"] == "bearer"


def test_catalog_prices_per_million_tokens_and_free_models() -> None:
    document = read_document((FIXTURES / "openrouter-models.json").read_bytes())
    first, free, _ = (e.manifest for e in document.entries if isinstance(e, Mapped))
    assert first["pricing"]["starting_price"] == ("$0.8 per 1M input tokens, "
                                                  "$2.40 per 1M output tokens")
    assert free["pricing"] == {"model": "free", "free": True,
                               "starting_price": "$0 per 1M input tokens, $0 per 1M output "
                                                 "tokens"}
    assert first["capabilities"][0]["conditions"]["limitations"] == [
        "context window of 131,072 tokens"]


def test_model_card_front_matter_refuses_aliases_and_bad_counts() -> None:
    alias = b"---\na: &x 1\nb: *x\n---\n# o/m\n"
    refused = read_document(alias).entries[0]
    assert isinstance(refused, Refusal) and "aliases" in refused.reasons[0]
    counts = b"---\npipeline_tag: fill-mask\ndownloads: -4\n---\n# o/m\n"
    refused = read_document(counts).entries[0]
    assert isinstance(refused, Refusal) and "downloads must be a count" in refused.reasons[0]


def test_every_fixture_maps_to_a_valid_manifest() -> None:
    for path in FIXTURES.iterdir():
        document = read_document(path.read_bytes(),
                                 source_url="https://huggingface.co/o/m/raw/main/README.md")
        for entry in document.entries:
            assert isinstance(entry, Mapped), (path, entry)
            manifest, findings = validate_manifest(entry.manifest)
            assert manifest is not None, [f for f in findings if f.severity == "error"]


def test_short_sources_say_so_instead_of_inventing() -> None:
    text = describe("Looks up tides", source="an MCP server.json")
    assert len(text) >= MIN_DESCRIPTION and "no more detail" in text
    assert slugify("Example Labs: Keel 8B (free)") == "example-labs-keel-8b-free"


def test_a_manifest_server_shows_its_package_and_remote() -> None:
    body = {"artifact": {"name": "Fetch", "url": "https://github.com/o/fetch", "status": "active"},
            "capabilities": [{"description": "Fetches pages. " * 20}],
            "trust": {"score": 40, "verified": False, "data_access_risk": "moderate"}}
    version = ServerVersion(
        slug="fetch", label="3", passport_version=4,
        passport={"unfragile": body, "signedAt": "t", "signedBy": "r", "keyId": "k"},
        original=None, manifest={"execution": {"command": "uvx mcp-server-fetch@1.2",
                                               "endpoint": "https://f.example/mcp"}},
        published_at="a", updated_at="b", is_latest=True)
    server = server_response(version, base_url="http://r")["server"]
    assert server["name"] == "dev.capgraph/fetch" and len(server["description"]) == 100
    assert server["packages"] == [{"registryType": "pypi", "identifier": "mcp-server-fetch",
                                   "transport": {"type": "stdio"}, "version": "1.2"}]
    assert server["repository"] == {"url": "https://github.com/o/fetch", "source": "github"}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.sampled_from(
                                  ["name", "id", "data", "skills", "url", "version",
                                   "description", "pricing", "packages", "remotes",
                                   "passport", "server"]), inner, max_size=5),
                              max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_no_document_makes_the_reader_raise(data: bytes) -> None:
    document = read_document(data)
    assert document.entries
    for entry in document.entries:
        if isinstance(entry, Mapped):
            validate_manifest(entry.manifest)  # never raises either
