"""The pages and their markdown mirrors, over HTTP against the real server."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

from capgraph.core import scoring
from capgraph.core.passport import COMPONENTS
from tests.conftest import DEMO, SEEDS, Server

HTML = "text/html; charset=utf-8"
MARKDOWN = "text/markdown; charset=utf-8"
PAGES = [
    "/", "/?q=edit+code+in+my+git+repo", "/?type=mcp", "/aider", "/qwen-qwen3.5-flash-02-23",
    "/compare", "/compare?artifact=aider", "/compare/aider-vs-openhands", "/methodology",
    "/trust", "/docs", "/docs/agents", "/submit", "/submit?claim=aider",
]  # fmt: skip


def get(site: Server, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(site.url + path, headers=headers, timeout=10)


def mirror_of(html: str) -> str:
    found = re.search(r'<link rel="alternate" type="text/markdown" href="([^"]+)"', html)
    assert found, "every page links its markdown mirror"
    return found.group(1).replace("&amp;", "&")


class _Rows(HTMLParser):
    """Text of each ``<tr data-type=...>`` row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = dict(attrs).get("data-type")
            if self._row:
                self.rows[self._row] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row and data.strip():
            self.rows[self._row].append(data.strip())


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_html_and_links_a_markdown_mirror(site: Server, path: str) -> None:
    page = get(site, path)
    assert page.status_code == 200, page.text[:500]
    assert page.headers["content-type"] == HTML
    mirror = mirror_of(page.text)
    assert mirror.startswith("/agent/")
    assert page.headers["link"] == f'<{mirror}>; rel="alternate"; type="text/markdown"'
    md = get(site, mirror)
    assert md.status_code == 200, md.text[:500]
    assert md.headers["content-type"] == MARKDOWN
    assert md.text.startswith("# ")


def test_html_and_markdown_show_the_same_facts(site: Server) -> None:
    html, md = get(site, "/aider").text, get(site, "/agent/aider").text
    verify = get(site, "/api/v1/verify?slug=aider").json()
    score = json.loads(get(site, "/api/v1/passport/aider").text)["passport"]["unfragile"][
        "trust"]["score"]
    assert verify["valid"] is True
    for text in (html, md):
        assert verify["keyId"] in text
        assert "UnfragileRank" in text and str(score) in text
        assert "voice-to-code requests" in text


def test_unknown_slug_is_a_friendly_404(site: Server) -> None:
    page = get(site, "/no-such-artifact")
    assert page.status_code == 404
    assert page.headers["content-type"] == HTML
    assert "No artifact “no-such-artifact” is in the registry" in page.text
    assert 'role="search"' in page.text
    md = get(site, "/agent/no-such-artifact")
    assert (md.status_code, md.headers["content-type"]) == (404, MARKDOWN)
    assert get(site, "/Not_A_Slug!").status_code == 404


def test_pages_do_not_shadow_the_api(site: Server) -> None:
    missing = get(site, "/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert get(site, "/api/v1/health").json()["status"] == "ok"
    assert get(site, "/api/v1/passport/aider").headers["content-type"] == "application/json"


def test_slugs_with_dots_and_hyphens_compare(site: Server) -> None:
    page = get(site, "/compare/qwen-qwen3.5-flash-02-23-vs-qwen-qwen3-coder")
    assert page.status_code == 200
    assert "Qwen: Qwen3.5-Flash vs Qwen: Qwen3 Coder" in page.text
    assert get(site, "/compare/aider-vs-nothing-here").status_code == 404
    assert get(site, "/compare/aider").status_code == 404


def test_compare_form_redirects_to_the_pair_url(site: Server) -> None:
    answer = get(site, "/compare?a=aider&b=openhands")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/compare/aider-vs-openhands"
    assert get(site, "/agent/compare?a=aider&b=openhands").headers["location"] == (
        "/agent/compare/aider-vs-openhands")


def test_compare_shows_leaders_and_aligned_capabilities(site: Server) -> None:
    text = get(site, "/compare/aider-vs-openhands").text
    assert "Who leads on which component" in text
    assert re.search(r"Aider leads on [A-Z]", text) or re.search(r"OpenHands leads on [A-Z]",
                                                                  text)
    assert "Capabilities, aligned by similarity" in text
    assert 'class="lead"' in text


def test_closest_alternatives_are_picked(site: Server) -> None:
    text = get(site, "/compare?artifact=aider").text
    assert "The closest alternatives" in text
    alternatives = re.findall(r'href="/compare/aider-vs-([a-z0-9.-]+)"', text)
    assert 1 <= len(alternatives) <= 3
    assert "aider" not in alternatives
    md = get(site, "/agent/compare?artifact=aider").text
    assert all(f"/agent/compare/aider-vs-{slug}" in md for slug in alternatives)


def test_version_history_says_what_changed(site: Server) -> None:
    text = get(site, "/aider").text
    assert "Version 2" in text and "Version 1" in text
    assert "added capability “voice-to-code requests”" in text
    assert "changed capability “multi-file code editing in a git repo”: limitations" in text
    assert "first version: published from a manifest" in text
    seed = get(site, "/qwen-qwen3-coder").text
    assert "first version: imported from another registry&#39;s passport" in seed


def test_methodology_renders_every_weight_of_every_type(site: Server) -> None:
    parser = _Rows()
    parser.feed(get(site, "/methodology").text)
    tables = {**scoring.WEIGHTS, "default": scoring.DEFAULT_WEIGHTS}
    for artifact_type, weights in tables.items():
        row = parser.rows[artifact_type]
        assert row[1:6] == [f"{weights[c]:.2f}" for c in COMPONENTS], artifact_type
    text = get(site, "/methodology").text
    for formula in scoring.COMPONENT_FORMULAS.values():
        assert formula.split(":")[0].replace("&", "&amp;") in text.replace("&#39;", "'")
    rule = scoring.ADOPTION_PRIOR_RULE.format(weight=scoring.ADOPTION_PRIOR_WEIGHT)
    assert rule.split("(")[0] in text  # the adoption prior in ranking, from the code
    assert "Sourced adoption in search and resolve" in text


def test_schema_validates_the_seeds_and_served_passports(site: Server) -> None:
    answer = get(site, "/schema.json")
    assert answer.headers["content-type"] == "application/schema+json"
    schema = answer.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    documents = {p.name: json.loads(p.read_text()) for p in SEEDS.glob("*.passport.json")}
    assert len(documents) == 2
    for slug in ("aider", "qwen-qwen3-coder", "qwen-qwen3.5-flash-02-23", "mcp-server-fetch"):
        documents[slug] = get(site, f"/api/v1/passport/{slug}").json()
    for name, document in documents.items():
        errors = [e.message for e in validator.iter_errors(document)]
        assert not errors, (name, errors[:3])
    broken = documents["aider"]
    broken["passport"]["unfragile"]["trust"]["score"] = "high"
    assert not validator.is_valid(broken)


def test_manifest_schema_takes_every_demo_manifest_and_only_the_validators_keys(
    site: Server,
) -> None:
    answer = get(site, "/manifest.schema.json")
    assert answer.headers["content-type"] == "application/schema+json"
    schema = answer.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in DEMO.glob("*.yml"):
        document = yaml.safe_load(path.read_text())
        assert not [e.message for e in validator.iter_errors(document)], path.name
    document = yaml.safe_load((DEMO / "aider.yml").read_text())
    del document["artifact"]["slug"]
    assert not validator.is_valid(document)
    # every key the schema names is a key the validator knows (no unknown-field warning)
    defs = schema["$defs"]
    full = yaml.safe_load((DEMO / "aider.yml").read_text())
    places = {"artifact": full["artifact"], "capability": full["capabilities"][0],
              "conditions": full["capabilities"][0]["conditions"],
              "pricing": full.setdefault("pricing", {}),
              "failure_mode": full["failure_modes"][0], "execution": full["execution"],
              "trust": full.setdefault("trust", {}), "community": full["community"], "": full}
    assert set(places) - {""} == set(defs)
    for block, target in places.items():
        for key in (schema if block == "" else defs[block])["properties"]:
            target.setdefault(key, None)
    report = httpx.post(site.url + "/api/v1/validate", json=full, timeout=10).json()
    assert not [w for w in report["warnings"] if w["code"] == "unknown-field"], report


def test_docs_list_every_api_endpoint(site: Server) -> None:
    openapi = get(site, "/api/v1/openapi.json").json()
    text = get(site, "/docs").text
    for path, item in openapi["paths"].items():
        assert f"<code>{path}</code>" in text, path
        for method in item:
            assert f'id="{method}-' in text
    assert "/agent" not in "".join(openapi["paths"]), "pages stay out of the API description"


def test_submit_explains_claiming(site: Server) -> None:
    text = get(site, "/submit?claim=aider").text
    assert "Claim Aider" in text and "coming soon" not in text
    assert "DNS TXT" in text and "_unfragile.aider.chat" in text
    assert "capgraph keys create --name me" in text and "/api/v1/claims" in text
    unknown = get(site, "/submit?claim=not-listed")
    assert unknown.status_code == 200 and "is not in the registry yet" in unknown.text


def test_markdown_is_served_on_request(site: Server) -> None:
    answer = get(site, "/trust", headers={"Accept": "text/markdown"})
    assert answer.headers["content-type"] == MARKDOWN
    assert "Exactly which bytes are signed" in answer.text



def test_the_page_shows_what_the_builder_declared(site: Server) -> None:
    html, md = get(site, "/aider").text, get(site, "/agent/aider").text
    body = json.loads(get(site, "/api/v1/passport/aider").text)["passport"]["unfragile"]
    declared = body["declared"]
    assert declared["license"] == "Apache-2.0"
    assert declared["permissions"] == ["filesystem:read", "filesystem:write", "shell",
                                       "network", "credentials"]
    assert declared["execution"]["install"].startswith("python -m pip install aider-install")
    assert declared["description"].startswith("An open-source AI pair-programming tool")
    for text in (html, md):
        for fact in ("Apache-2.0", "Paul Gauthier and contributors", "aider --model sonnet",
                     "https://github.com/Aider-AI/aider", "An open-source AI pair-programming"):
            assert fact in text, fact


def test_declared_permissions_and_requirements_are_shown_apart(site: Server) -> None:
    html = get(site, "/aider").text
    requirements = json.loads(get(site, "/api/v1/passport/aider").text)["passport"][
        "unfragile"]["trust"]["permissions"]
    permissions = re.search(r'<div id="permissions">(.*?)</div>', html, re.S)
    needs = re.search(r'<div id="requirements">(.*?)</div>', html, re.S)
    assert permissions and needs
    assert "<li>filesystem:write</li>" in permissions.group(1)
    assert requirements and all(r not in permissions.group(1) for r in requirements)
    assert all(f"<li>{r}</li>" in needs.group(1) for r in requirements)


def test_search_shows_the_artifact_description(site: Server) -> None:
    found = httpx.get(site.url + "/api/v1/search", params={"q": "pair programming in git"},
                      timeout=10).json()
    aider = next(m for m in found["matches"] if m["artifact"]["slug"] == "aider")
    assert aider["artifact"]["description"].startswith("An open-source AI pair-programming tool")
    page = get(site, "/?q=pair+programming+in+git").text
    assert "An open-source AI pair-programming tool" in page


@pytest.mark.parametrize("path", ["/docs", "/submit", "/agent/docs", "/agent/submit"])
def test_docs_and_submit_link_only_to_what_the_site_serves(site: Server, path: str) -> None:
    text = get(site, path).text
    assert "docs/MANIFEST.md" not in text
    links = set(re.findall(r'href="(/[^"#]*)"', text)) | set(re.findall(r"\]\((/[^)#]*)\)", text))
    assert "/manifest.schema.json" in links
    for link in links:
        assert get(site, link.replace("&amp;", "&")).status_code == 200, link


def _readme_paths() -> set[str]:
    """Every path the README's API table names, with ``[...]`` optional parts expanded and
    short siblings (``/log/key``) read under ``/api/v1``."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("## HTTP API", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    found: set[str] = set()
    for cell in re.findall(r"^\| ([^|]+) \|", table, re.M):
        for raw in re.findall(r"`(?:[A-Z]+ )?(/[^`?\[]*(?:\[[^\]]*\])?[^`?]*)", cell):
            rooted = raw.startswith(("/api", "/schema", "/manifest", "/v0.1"))
            path = raw if rooted else "/api/v1" + raw
            found |= {re.sub(r"\[[^\]]*\]", "", path), path.replace("[", "").replace("]", "")}
    return {re.sub(r"\{[^}]+\}", "{}", p.split("?")[0]) for p in found}


def test_the_readme_api_table_lists_every_operation(site: Server) -> None:
    listed = _readme_paths()
    paths = get(site, "/api/v1/openapi.json").json()["paths"]
    missing = [p for p in paths if re.sub(r"\{[^}]+\}", "{}", p) not in listed]
    assert not missing, missing


def test_small_things_a_user_sees_read_right(site: Server) -> None:
    for path in ("/qwen-qwen3-coder", "/agent/qwen-qwen3-coder"):
        text = get(site, path).text
        assert "$0.22 per 1M prompt tokens" in text and "e-7" not in text, path
    for path in ("/docling", "/agent/docling"):  # no matches yet
        text = get(site, path).text
        assert "0 matches" in text or "<dt>Matches</dt><dd>0</dd>" in text
        assert "none yet" in text or "no matches yet" in text
        assert "Average confidence</dt><dd>0.00" not in text
        assert "average confidence 0.00" not in text
    body = json.loads(get(site, "/api/v1/passport/docling").text)["passport"]["unfragile"]
    assert body["trust"]["maintenance"]["last_scraped_at"] is None  # published, not scraped


@pytest.mark.parametrize(("slug", "present", "absent"), [
    ("aws-textract", ['--aws-sigv4 "aws:amz"', "X-Amz-Target: Textract.AnalyzeDocument"],
     ["Bearer"]),
    ("elevenlabs-text-to-speech", ['-H "xi-api-key: $API_KEY"', "/text-to-speech/${VOICE_ID}"],
     ["Bearer"]),
    ("gpt-4o", ['"https://api.openai.com/v1/chat/completions"', "Authorization: Bearer"], []),
])
def test_the_page_and_resolve_give_the_call_the_manifest_declares(
        site: Server, slug: str, present: list[str], absent: list[str]) -> None:
    html, md = get(site, f"/{slug}").text.replace("&#34;", '"').replace("&#39;", "'"), \
        get(site, f"/agent/{slug}").text
    for text in (html, md):
        section = text[text.index("How to call it"):]
        assert all(p in section for p in present), slug
        assert not any(a in section.split("Signature")[0] for a in absent), slug
        assert "does not declare" not in section.split("Capabilities")[0]
    name = json.loads(get(site, f"/api/v1/passport/{slug}").text)["passport"]["unfragile"][
        "capabilities"][0]["intents"][0]
    answer = httpx.post(site.url + "/api/v1/resolve", json={"intent": name, "limit": 5},
                        timeout=30).json()
    mine = [r for r in answer["resolved"] if r["artifact"]["slug"] == slug]
    assert mine, f"{slug} is not resolved for its own intent {name!r}"
    snippet = mine[0]["invocation"]["snippet"]
    assert all(p in snippet for p in present) and not any(a in snippet for a in absent)
    assert mine[0]["invocation"]["missing"] == []


def test_the_page_says_which_execution_facts_are_missing(site: Server) -> None:
    slug = "deepgram-speech-to-text"
    html, md = get(site, f"/{slug}").text, get(site, f"/agent/{slug}").text
    for text in (html, md):
        assert "The manifest does not declare" in text and "execution.auth_header" in text
        assert "Authorization: Bearer" not in text
