"""A person's path through the site in Chromium: search, open an artifact, see its signature
checked, compare two artifacts; a tampered passport shows invalid; accessibility checked by
axe-core; the search form works from the keyboard."""

from __future__ import annotations

import json
import shutil
import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.conftest import REVISED, SiteData, serving, shot

# axe-core's own build, as shipped inside the axe-playwright-python wheel (a locked dev
# dependency): nothing is fetched at test time.
AXE_JS = resources.files("axe_playwright_python").joinpath("axe.min.js")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
AXE_PAGES = {
    "home": "/",
    "search": "/?q=edit+code+in+my+git+repo",
    "artifact": f"/{REVISED}",
    "compare": "/compare/aider-vs-openhands",
    "alternatives": "/compare?artifact=qwen-qwen3-coder",
    "methodology": "/methodology",
    "trust": "/trust",
    "docs": "/docs",
    "agents": "/docs/agents",
    "not-found": "/no-such-artifact",
}


def _signing_kid(site: Server) -> str:
    keys = httpx.get(f"{site.url}/api/v1/trust-passport-public-key", timeout=10).json()["keys"]
    return next(k["kid"] for k in keys if k.get("purpose") != "checkpoint")


def test_search_then_open_an_artifact_with_a_valid_signature(site: Server, page: Any) -> None:
    page.goto(site.url + "/")
    shot(page, "01-home", full_page=False)
    page.get_by_label("What should the AI do?").fill("edit code in my git repository")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=*")
    results = page.locator("ol.results > li")
    assert results.count() >= 1
    first = results.first
    assert first.locator(".match").first.inner_text().startswith("match ")
    assert "UnfragileRank" in first.inner_text()
    assert first.locator(".badge.ok, .badge.muted").count() >= 1  # the verified badge
    shot(page, "02-search-results", full_page=False)
    name = first.locator("h3 a").inner_text()
    first.locator("h3 a").click()
    page.wait_for_selector("#signature-status")
    assert page.locator("h1").inner_text() == name
    status = page.locator("#signature-status")
    assert status.inner_text() == "✓ Signature valid"
    assert status.get_attribute("data-valid") == "true"
    assert page.locator("#key-id").inner_text() == _signing_kid(site)
    assert page.locator("#log-status").get_attribute("data-valid") == "true"
    assert "inclusion proof verified" in page.locator("#log-status").inner_text()
    shot(page, "03-artifact-top", full_page=False)


def test_artifact_page_shows_trust_chart_and_history(site: Server, page: Any) -> None:
    page.goto(f"{site.url}/{REVISED}")
    chart = page.locator("figure.chart svg[role=img]")
    assert chart.locator("rect.fill").count() == 5
    assert "UnfragileRank" in (chart.locator("desc").text_content() or "")
    history = page.locator("#history")
    assert "added capability “voice-to-code requests”" in history.inner_text()
    page.evaluate("document.getElementById('trust').scrollIntoView()")
    shot(page, "04-artifact-trust", full_page=False)
    shot(page, "05-artifact-full")


def test_compare_two_artifacts(site: Server, page: Any) -> None:
    page.goto(site.url + "/compare")
    page.get_by_label("First artifact").select_option("aider")
    page.get_by_label("Second artifact").select_option("openhands")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_url("**/compare/aider-vs-openhands")
    assert page.locator("h1").inner_text() == "Aider vs OpenHands"
    leads = page.locator("#comp-heading + p").inner_text()
    assert "leads on" in leads
    assert page.locator("table.aligned tbody tr").count() >= 3
    shot(page, "06-compare")


def test_alternatives_are_picked_for_an_artifact(site: Server, page: Any) -> None:
    page.goto(site.url + "/compare?artifact=qwen-qwen3-coder")
    alternatives = page.locator("#alts-heading + p + ol > li")
    assert 1 <= alternatives.count() <= 3
    assert page.locator("table.compare").count() == 1
    shot(page, "07-alternatives", full_page=False)


def _tamper(db: Path, slug: str) -> None:
    """Change the score inside the stored passport bytes of ``slug``'s latest version, and bump
    the store generation so the server's caches re-read."""
    with sqlite3.connect(db) as conn:
        version, raw = conn.execute(
            "SELECT version, passport FROM versions WHERE slug = ? ORDER BY version DESC LIMIT 1",
            (slug,),
        ).fetchone()
        passport = json.loads(raw)
        passport["unfragile"]["trust"]["score"] = 99
        conn.execute("UPDATE versions SET passport = ? WHERE slug = ? AND version = ?",
                     (json.dumps(passport, separators=(",", ":")).encode(), slug, version))
        conn.execute("UPDATE meta SET generation = generation + 1")
    conn.close()


def test_tampered_passport_shows_invalid(site_data: SiteData, tmp_path: Path, page: Any
                                         ) -> None:
    data_dir = tmp_path / "tampered"
    shutil.copytree(site_data.pristine, data_dir)
    with serving(data_dir) as (server, _):
        page.goto(f"{server.url}/qwen-qwen3-coder")
        assert page.locator("#signature-status").inner_text() == "✓ Signature valid"
        _tamper(data_dir / "capgraph.db", "qwen-qwen3-coder")
        page.reload()
        status = page.locator("#signature-status")
        assert status.inner_text() == "✗ Signature invalid"
        assert status.get_attribute("data-valid") == "false"
        reasons = page.locator("#signature").inner_text()
        assert "signature does not match the signed bytes" in reasons
        log = page.locator("#log-status")
        assert log.get_attribute("data-valid") == "false"
        assert "not the entry the log holds" in log.inner_text()
        assert page.locator(".score-num").inner_text() == "99"
        shot(page, "08-tampered-invalid", full_page=False)


def test_search_form_works_from_the_keyboard(site: Server, page: Any) -> None:
    page.goto(site.url + "/")

    def tab_to(selector: str, limit: int = 25) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        pytest.fail(f"Tab never reached {selector}")

    tab_to("input#q")
    page.keyboard.type("run a local model server")
    tab_to("form.search button[type=submit]")
    focus = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focus != "none", "the focused button shows a focus ring"
    shot(page, "09-keyboard-focus", full_page=False)
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=run+a+local+model+server*")
    assert page.locator("#results-heading").count() == 1


@pytest.mark.parametrize("name", list(AXE_PAGES))
def test_accessibility_has_no_serious_violations(site: Server, page: Any, name: str) -> None:
    page.goto(site.url + AXE_PAGES[name])
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})", AXE_TAGS)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious
    minor = [f"{v['id']} ({v['impact']})" for v in results["violations"]]
    assert not minor, minor
    assert len(results["passes"]) > 10
