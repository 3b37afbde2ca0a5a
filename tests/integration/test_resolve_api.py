"""POST /api/v1/resolve (PROTOCOL.md A.5) over the demo corpus and the seeds, in process:
every response field, the signed passport and callback token, capability URIs and phrases,
risk postures on manifests built here, "no confident match", bad bodies; and every intent the
seed passports declare resolving to its own capability."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from capgraph.core.callback import verify_token
from capgraph.core.signing import verify_passport
from capgraph.errors import TokenInvalid
from capgraph.registry import Registry
from capgraph.search.resolver import RESOLVER_VERSION
from tests.integration.conftest import InProcess, assert_problem, to_yaml
from tests.searchkit import (
    LUNAR_INTENT,
    POSTURE_ADMITS,
    copy_demo,
    demo_app,
    posture_manifests,
    seed_documents,
)
from tests.wire import resolve_json

BASE = "http://registry.test"
ANSWER_KEYS = {"artifact", "capability", "invocation", "trust", "alternatives",
               "matchConfidence", "lastVerified", "feedbackUrl", "callbackToken"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, Registry]]:
    with demo_app(copy_demo(tmp_path_factory.mktemp("resolve") / "data")) as pair:
        yield pair


def _resolve(client: InProcess, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/resolve", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = response.json()
    return answer


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


# -- every field -----------------------------------------------------------------------------


@pytest.mark.parametrize(("intent", "slug", "kind"), [
    ("let my agent read and write files in a local folder", "mcp-server-filesystem", "mcp"),
    ("turn text into natural sounding speech via an API", "elevenlabs-text-to-speech", "api"),
    ("orchestrate a team of role-playing AI agents", "crewai", "framework"),
    ("convert PDF documents to markdown", "docling", "repo"),
])
def test_a_resolve_answer_carries_every_field_of_the_protocol(
        demo: tuple[InProcess, Registry], intent: str, slug: str, kind: str) -> None:
    client, registry = demo
    answer = _resolve(client, intent=intent, limit=3)
    assert set(answer) >= {"resolved", "resolvedAt", "resolveId", "resolverVersion"}
    assert answer["resolverVersion"] == RESOLVER_VERSION
    assert answer["resolveId"].startswith("r_")
    assert answer["resolvedAt"].endswith("Z") and len(answer["resolvedAt"]) == 24
    assert "message" not in answer
    assert 1 <= len(answer["resolved"]) <= 3
    top = answer["resolved"][0]
    assert set(top) >= ANSWER_KEYS
    assert top["artifact"] == {
        "name": registry.passport(slug).name, "slug": slug, "type": kind,
        "url": top["trust"]["unfragile"]["artifact"]["url"]}
    assert top["artifact"]["url"].startswith("https://")

    cap = top["capability"]
    assert set(cap) >= {"id", "name", "intent", "description", "whyThisMatches",
                        "vsAlternatives", "bestFor", "limitations"}
    body = top["trust"]["unfragile"]
    stored = next(c for c in body["capabilities"] if c["id"] == cap["id"])
    assert cap["intent"] == intent
    assert (cap["name"], cap["description"], cap["bestFor"], cap["limitations"]) == \
        (stored["name"], stored["description"], stored["best_for"], stored["limitations"])
    assert cap["uri"] == stored["uri"]
    assert isinstance(cap["whyThisMatches"], list) and cap["whyThisMatches"]
    assert all(isinstance(r, str) and r for r in cap["whyThisMatches"])
    runner_up = answer["resolved"][1]["artifact"]["name"]
    assert cap["vsAlternatives"].startswith(f"{top['artifact']['name']} ranks above "
                                            f"{runner_up}")

    for entry in answer["resolved"]:
        assert 0 <= entry["matchConfidence"] <= 1
        assert entry["lastVerified"] == entry["trust"]["signedAt"]
        assert entry["feedbackUrl"] == f"{BASE}/api/feedback"
        for alt in entry["alternatives"]:
            assert set(alt) >= {"slug", "name", "why_alternative"}
            assert alt["slug"] != entry["artifact"]["slug"]
            assert registry.passport(alt["slug"]).name == alt["name"]
            assert alt["why_alternative"]
    assert 1 <= len(top["alternatives"]) <= 3  # the next answers down the ranking
    assert [a["slug"] for a in top["alternatives"]][:2] == \
        [e["artifact"]["slug"] for e in answer["resolved"][1:]]
    assert top["matchConfidence"] >= registry.resolver.calibrator.threshold


def test_the_invocation_fits_the_artifact_type(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo

    def invocation(intent: str, slug: str) -> dict[str, Any]:
        top = _resolve(client, intent=intent)["resolved"][0]
        assert top["artifact"]["slug"] == slug
        inv: dict[str, Any] = top["invocation"]
        assert set(inv) == {"language", "snippet", "requires", "missing"}
        assert isinstance(inv["requires"], list)
        return inv

    mcp = invocation("let my agent read and write files in a local folder",
                     "mcp-server-filesystem")
    assert mcp["language"] == "json"
    server = json.loads(mcp["snippet"])["mcpServers"]["mcp-server-filesystem"]
    assert server["command"] == "npx"
    assert "@modelcontextprotocol/server-filesystem" in server["args"]

    api = invocation("turn text into natural sounding speech via an API",
                     "elevenlabs-text-to-speech")
    assert api["language"] == "bash"
    assert api["snippet"].startswith(
        'curl -sS -X POST "https://api.elevenlabs.io/v1/text-to-speech/${VOICE_ID}"')
    assert '-H "xi-api-key: $API_KEY"' in api["snippet"] and "Bearer" not in api["snippet"]
    assert api["requires"][0] == "set API_KEY (sent in the xi-api-key header)"
    assert api["missing"] == []

    # Its manifest names a base URL and no operation: the answer says so, guessing nothing.
    model = invocation("generate an image from a text prompt", "stable-diffusion-3.5-large")
    assert model["snippet"].startswith(
        'curl -sS -X <METHOD> "https://api.stability.ai/v2beta/<path>"')
    assert [m["field"] for m in model["missing"]] == ["execution.method", "execution.path"]

    for intent, slug, install in [
        ("orchestrate a team of role-playing AI agents", "crewai", "pip install crewai"),
        ("convert PDF documents to markdown", "docling", "pip install docling"),
    ]:
        inv = invocation(intent, slug)
        assert inv["language"] == "bash"
        assert inv["snippet"].splitlines()[0] == install


def test_trust_is_the_signed_passport_and_verifies(demo: tuple[InProcess, Registry]) -> None:
    client, registry = demo
    answer = _resolve(client, intent="transcribe a meeting recording", limit=3)
    for entry in answer["resolved"]:
        trust = entry["trust"]
        assert set(trust) >= {"unfragile", "signature", "signedAt", "signedBy", "version"}
        key = verify_passport(trust, registry.keys.public_keys())
        assert key.kid == trust["keyId"]
        slug = entry["artifact"]["slug"]
        served = client.get(f"/api/v1/passport/{slug}").json()["passport"]
        assert trust == served
        assert trust["unfragile"]["trust"]["verified"] is False
        report = client.post("/api/v1/verify", json=trust).json()
        assert report["valid"] is True, report
        tampered = json.loads(json.dumps(trust))
        tampered["unfragile"]["trust"]["score"] = 100
        assert client.post("/api/v1/verify", json=tampered).json()["valid"] is False


def test_the_callback_token_is_bound_to_the_resolve_and_the_slug(
        demo: tuple[InProcess, Registry]) -> None:
    client, registry = demo
    answer = _resolve(client, intent="transcribe a meeting recording", limit=2)
    other = _resolve(client, intent="transcribe a meeting recording", limit=2)
    secret = registry.callback_secret()
    now = _epoch(answer["resolvedAt"])
    first, second = answer["resolved"]
    for entry in answer["resolved"]:
        verify_token(secret, entry["callbackToken"], resolve_id=answer["resolveId"],
                     slug=entry["artifact"]["slug"], now=now)
    token = first["callbackToken"]
    wrong = [
        {"resolve_id": other["resolveId"], "slug": first["artifact"]["slug"], "now": now},
        {"resolve_id": answer["resolveId"], "slug": second["artifact"]["slug"], "now": now},
        {"resolve_id": answer["resolveId"], "slug": first["artifact"]["slug"],
         "now": int(token.split(".")[1]) + 1},
    ]
    for kwargs in wrong:
        with pytest.raises(TokenInvalid):
            verify_token(secret, token, **kwargs)  # type: ignore[arg-type]
    expires = int(token.split(".")[1])
    assert expires - now == 7 * 24 * 3600


# -- capability URIs and phrases -------------------------------------------------------------


def test_an_exact_capability_uri_resolves_to_exactly_that_capability(
        demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    for document in seed_documents():
        for cap in document["passport"]["unfragile"]["capabilities"][:3]:
            answer = _resolve(client, intent="whatever works best", capability=cap["uri"])
            top = answer["resolved"][0]
            assert top["capability"]["id"] == cap["id"]
            assert top["capability"]["uri"] == cap["uri"]
    uri = "capability://search.retrieval.web.page.fetching.as.markdown"
    answer = _resolve(client, intent="I need this", capability=uri)
    assert [(r["artifact"]["slug"], r["capability"]["uri"]) for r in answer["resolved"]] == \
        [("mcp-server-fetch", uri)]


def test_a_uri_prefix_restricts_to_its_category(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    intent = "extract tables from scanned invoices"
    free = _resolve(client, intent=intent, limit=5)["resolved"]
    assert any(not r["capability"]["uri"].startswith("capability://image.visual.")
               for r in free)
    answer = _resolve(client, intent=intent, limit=5, capability="capability://image.visual")
    assert answer["resolved"]
    assert all(r["capability"]["uri"].startswith("capability://image.visual.")
               for r in answer["resolved"])


def test_a_capability_phrase_works_too(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    answer = _resolve(client, intent="for my agent", capability="fetch a web page as markdown")
    assert answer["resolved"][0]["artifact"]["slug"] == "mcp-server-fetch"


def test_type_and_limit_are_applied(demo: tuple[InProcess, Registry]) -> None:
    client, _ = demo
    answer = _resolve(client, intent="extract tables from scanned invoices", type="api",
                      limit=2)
    assert len(answer["resolved"]) == 2
    assert {r["artifact"]["type"] for r in answer["resolved"]} == {"api"}


def test_no_confident_match_for_nonsense(demo: tuple[InProcess, Registry]) -> None:
    client, registry = demo
    answer = _resolve(client, intent="bake a chocolate cake with sprinkles")
    assert answer["resolved"] == []
    assert answer["message"] == "no confident match"
    assert 0 <= answer["matchConfidence"] < registry.resolver.calibrator.threshold
    assert answer["alternatives"]
    for alt in answer["alternatives"]:
        assert set(alt) >= {"slug", "name", "why_alternative"}
    assert answer["resolveId"].startswith("r_") and answer["resolverVersion"]


# -- risk postures on manifests built here ---------------------------------------------------


@pytest.fixture(scope="module")
def postures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    """A fresh data dir where the posture manifests are published through the API."""
    with demo_app(tmp_path_factory.mktemp("postures") / "data") as (client, registry):
        _, secret = registry.create_api_key("postures")
        for data in posture_manifests().values():
            response = client.post("/api/v1/artifacts", content=to_yaml(data).encode(),
                                   headers={"content-type": "application/yaml",
                                            "authorization": f"Bearer {secret}"})
            assert response.status_code == 201, response.text
        yield client


@pytest.mark.parametrize("risk", list(POSTURE_ADMITS))
def test_a_risk_posture_filters_what_it_does_not_trust(postures: InProcess, risk: str) -> None:
    answer = _resolve(postures, intent=LUNAR_INTENT, limit=10, risk=risk)
    assert {r["artifact"]["slug"] for r in answer["resolved"]} == POSTURE_ADMITS[risk]
    assert answer["risk"] == risk
    if not POSTURE_ADMITS[risk]:
        assert answer["reason"] == "filtered-by-risk"  # they match: the posture removed them
        assert answer["alternatives"] == []
        assert answer["filteredByRisk"] and all(f["gates"] for f in answer["filteredByRisk"])


def test_the_default_posture_is_default(postures: InProcess) -> None:
    answer = _resolve(postures, intent=LUNAR_INTENT, limit=10)
    assert answer["risk"] == "default"
    assert {r["artifact"]["slug"] for r in answer["resolved"]} == POSTURE_ADMITS["default"]


# -- bad bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", "parse-error"),
    (b"", "parse-error"),
    (b"[1, 2]", "bad-request"),
    (b'"intent"', "bad-request"),
    (b"{}", "bad-request"),
    (b'{"limit": 3}', "bad-request"),
    (b'{"intent": 7}', "bad-request"),
    (b'{"intent": null}', "bad-request"),
    (b'{"intent": "x"}', "bad-request"),
    (b'{"intent": "   x   "}', "bad-request"),
    (b'{"intent": "' + b"x" * 501 + b'"}', "bad-request"),
    (b'{"intent": "ocr a receipt", "limit": 0}', "bad-request"),
    (b'{"intent": "ocr a receipt", "limit": 11}', "bad-request"),
    (b'{"intent": "ocr a receipt", "limit": "3"}', "bad-request"),
    (b'{"intent": "ocr a receipt", "limit": 2.5}', "bad-request"),
    (b'{"intent": "ocr a receipt", "limit": true}', "bad-request"),
    (b'{"intent": "ocr a receipt", "limit": null}', "bad-request"),
    (b'{"intent": "ocr a receipt", "risk": "yolo"}', "bad-request"),
    (b'{"intent": "ocr a receipt", "risk": 1}', "bad-request"),
    (b'{"intent": "ocr a receipt", "type": "spaceship"}', "bad-request"),
    (b'{"intent": "ocr a receipt", "type": 3}', "bad-request"),
    (b'{"intent": "ocr a receipt", "capability": 5}', "bad-request"),
    (b'{"intent": "ocr a receipt", "capability": "' + b"c" * 501 + b'"}', "bad-request"),
])
def test_a_bad_body_is_a_400_problem(demo: tuple[InProcess, Registry], body: bytes,
                                     code: str) -> None:
    client, _ = demo
    response = client.post("/api/v1/resolve", content=body,
                           headers={"content-type": "application/json"})
    assert_problem(response, 400, code)


# -- the seeds' own intents ------------------------------------------------------------------


def test_every_seed_intent_resolves_to_its_own_capability(
        demo: tuple[InProcess, Registry]) -> None:
    """With the demo corpus and both seeds in a SQLite registry with the embedder, each
    intent a seed capability declares resolves to that capability at rank 1."""
    _, registry = demo
    checked, wrong = 0, []
    for document in seed_documents():
        body = document["passport"]["unfragile"]
        for cap in body["capabilities"]:
            for intent in cap["intents"]:
                answer = resolve_json(registry, intent, limit=1)
                checked += 1
                got = answer["resolved"][0]["capability"]["id"] if answer["resolved"] \
                    else answer.get("message")
                if got != cap["id"]:
                    wrong.append((intent, cap["id"], got))
    assert checked >= 50
    assert wrong == []


@pytest.mark.parametrize("risk", ["default", "production", "strict"])
def test_resolve_reads_only_the_cards_and_passports_its_answer_needs(
        demo: tuple[InProcess, Registry], risk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranking reads candidates' compact cards lazily and stops once no later candidate can
    enter the picks a response uses: the same picks as ranking every candidate, from fewer
    cards, and no passport at all (the gates and alternatives are on the cards); an answer
    then reads its own passport."""
    _, registry = demo
    resolver, engine = registry.resolver, registry.engine
    loads: list[str] = []
    cards: list[str] = []
    real_load, real_cards = engine._load, engine.cards

    def counting_load(slug: str, version: int) -> dict[str, Any]:
        loads.append(slug)
        return real_load(slug, version)

    def counting_cards(slugs: list[str]) -> dict[str, Any]:
        cards.extend(slugs)
        return real_cards(slugs)

    monkeypatch.setattr(engine, "_load", counting_load)
    monkeypatch.setattr(engine, "cards", counting_cards)
    cases = [("extract tables from scanned invoices", None),
             ("transcribe a podcast episode", None),
             ("an agent framework for tool calling", None),
             ("summarise a document", "capability://document")]
    def key(picks: list[Any]) -> list[tuple[str, str, float]]:
        return [(p.cand.card.slug, p.uri, p.score) for p in picks[:need]]

    need, fewer = 7, 0
    for intent, capability in cases:
        engine._body.cache_clear()
        cards.clear()
        everything = resolver.rank(intent, capability, None, risk)
        read_all = len(cards)
        cards.clear()
        loads.clear()
        some = resolver.rank(intent, capability, None, risk, need=need)
        assert key(some) == key(everything), (intent, risk)
        assert loads == []  # ranking: cards only
        assert len(cards) <= read_all
        fewer += len(cards) < read_all
        if some:  # the answer's whole capability comes from its passport
            assert some[0].cap["uri"] == some[0].uri
            assert loads == [some[0].cand.card.slug]
    if risk == "default":  # most artifacts pass: 7 picks come long before the last candidate
        assert fewer >= 2
    # (a strict posture passes few artifacts, so every candidate may have to be read)


def test_a_posture_that_removes_every_match_says_which_gates_did(
    demo: tuple[InProcess, Registry],
) -> None:
    client, _ = demo
    intent = "convert a PDF report into clean markdown"
    assert _resolve(client, intent=intent)["resolved"], "the default posture answers"
    answer = _resolve(client, intent=intent, risk="strict")
    assert answer["resolved"] == []
    assert answer["reason"] == "filtered-by-risk"
    assert "strict" in answer["message"] and "no confident match" not in answer["message"]
    removed = answer["filteredByRisk"]
    assert removed and removed[0]["slug"] == "docling"
    assert "its builder is not verified" in removed[0]["gates"]
    assert all(f["gates"] for f in removed)
    low = _resolve(client, intent="zq xv plorth wibble frobnicate")
    assert low["reason"] == "low-confidence" and low["message"] == "no confident match"
