"""Ownership on the pages: the artifact page says who owns it (or that nobody does, with a link
to claim it) and whether its builder is verified; /submit?claim=<slug> explains every step of a
claim with real commands, and shows a started claim's token. HTML and markdown alike.

These tests write (a key, a publish, claims), so they run their own server on a copy of the
e2e data directory, never on the shared ``site``.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import httpx
import pytest

from capgraph.http.web.catalog import Catalog
from capgraph.http.web.ownership import ownership_panel
from capgraph.http.web.render import html_page, markdown_page
from capgraph.http.web.views import Site, artifact_view
from capgraph.ports import OwnershipRecord
from capgraph.registry import Registry
from tests.conftest import Server
from tests.e2e.conftest import SiteData, serving, shot
from tests.integration.conftest import client_for, invoke, manifest, to_yaml

NEW_SLUG = "e2e-owned-widget"  # published with a key by these tests: its publisher owns it
UNOWNED = "aider"  # a demo artifact, published by the operator: nobody owns it
SHARED = "llama-cpp"  # a demo artifact whose URL is on github.com
AXE_JS = resources.files("axe_playwright_python").joinpath("axe.min.js")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@dataclass(frozen=True)
class OwnedSite:
    server: Server
    key: str
    publisher: str  # the key's publisher id
    claim_id: str  # a dns claim on UNOWNED, started with the key
    token: str
    expires_at: str


@pytest.fixture(scope="module")
def owned(site_data: SiteData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnedSite]:
    data_dir = tmp_path_factory.mktemp("ownership") / "data"
    shutil.copytree(site_data.pristine, data_dir)
    key = invoke(data_dir, "keys", "create", "--name", "me").stdout.strip().splitlines()[-1]
    assert key.startswith("cg_"), key
    with serving(data_dir) as (server, log), client_for(server.url) as client:
        auth = {"Authorization": f"Bearer {key}"}
        published = client.post("/api/v1/artifacts", content=to_yaml(manifest(NEW_SLUG)),
                                headers={**auth, "Content-Type": "application/yaml"})
        assert published.status_code == 201, published.text
        owner = client.get(f"/api/v1/artifacts/{NEW_SLUG}/ownership").json()["owner"]
        started = client.post("/api/v1/claims", json={"slug": UNOWNED, "method": "dns"},
                              headers=auth)
        assert started.status_code == 201, started.text
        claim = started.json()
        yield OwnedSite(server, key, owner, claim["claimId"], claim["token"],
                        claim["expiresAt"])
        assert "Traceback" not in log.text, log.text[-3000:]


def _get(site: OwnedSite, path: str, status: int = 200) -> str:
    answer = httpx.get(site.server.url + path, timeout=10)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:500])
    return answer.text


def _text(page: str) -> str:
    """An HTML page's text: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


# -- the artifact page ---------------------------------------------------------------------------


def test_an_unowned_artifact_says_so_and_links_to_its_claim_page(owned: OwnedSite) -> None:
    page = _get(owned, f"/{UNOWNED}")
    assert 'id="owner-status" data-owned="false"' in page
    assert f'href="/submit?claim={UNOWNED}">claim it</a>' in page
    assert 'data-verified="false"' in page
    text = _text(page)
    assert "Owner no owner yet — claim it" in text
    assert "Builder identity not verified" in text
    md = _get(owned, f"/agent/{UNOWNED}")
    assert (f"- Owner: no owner yet — claim it: [/agent/submit?claim={UNOWNED}]"
            f"(/agent/submit?claim={UNOWNED})") in md
    assert "- Builder identity: not verified" in md
    api = httpx.get(f"{owned.server.url}/api/v1/artifacts/{UNOWNED}/ownership", timeout=10)
    assert api.json()["owner"] is None


def test_a_published_artifact_shows_its_owner(owned: OwnedSite) -> None:
    assert owned.publisher.startswith("pub_")
    page = _get(owned, f"/{NEW_SLUG}")
    assert 'data-owned="true"' in page
    text = _text(page)
    assert f"Owner me (publisher {owned.publisher})" in text
    assert "Maintainers none" in text
    assert "not verified" in text and "no owner yet" not in text
    md = _get(owned, f"/agent/{NEW_SLUG}")
    assert f"- Owner: me (publisher `{owned.publisher}`)" in md
    assert "- Builder identity: not verified" in md
    assert "no owner yet" not in md
    # the claim page says who owns it now
    claim_page = _text(_get(owned, f"/submit?claim={NEW_SLUG}"))
    assert f"is owned by me (publisher {owned.publisher})" in claim_page


# -- the claim page ------------------------------------------------------------------------------


def test_the_claim_page_gives_every_step_with_real_commands(owned: OwnedSite) -> None:
    base = owned.server.url
    page = _text(_get(owned, f"/submit?claim={UNOWNED}"))
    md = _get(owned, f"/agent/submit?claim={UNOWNED}")
    for text in (page, md):
        assert "coming soon" not in text.lower()
        assert "capgraph keys create --name me" in text
        assert f"curl -sS -X POST {base}/api/v1/claims" in text
        assert f"""-d '{{"slug": "{UNOWNED}", "method": "dns"}}'""" in text
        assert f"curl -sS -X POST {base}/api/v1/publishers" in text  # the domain route
        assert '"domain": "aider.chat"' in text
        assert "https://aider.chat/.well-known/unfragile.json" in text
        assert '{"unfragile-claim": "<token>"}' in text
        assert "_unfragile.aider.chat" in text and "unfragile-claim=<token>" in text
        assert "dig +short TXT _unfragile.aider.chat" in text
        assert f"curl -sS -X POST {base}/api/v1/claims/$CLAIM_ID/verify" in text
        assert 'Authorization: Bearer $CAPGRAPH_KEY' in text
        assert f"curl -sS {base}/api/v1/artifacts/{UNOWNED}/ownership" in text
        assert f"capgraph owners show {UNOWNED}" in text
        assert "no owner yet" in text.replace("*", "")
    assert "Claim Aider" in page and md.startswith("# Claim Aider")


def test_an_artifact_on_a_shared_host_is_told_to_use_the_repository_method(
        owned: OwnedSite) -> None:
    page = _text(_get(owned, f"/submit?claim={SHARED}"))
    md = _get(owned, f"/agent/submit?claim={SHARED}")
    for text in (page, md):
        assert "on the shared host github.com" in text
        assert "use the repository method" in text.replace("*", "")
        assert f""""slug": "{SHARED}", "method": "repository\"""" in text
        assert "unfragile-claim: <token>" in text
        assert "https://github.com/ggml-org/llama.cpp" in text
        assert "/api/v1/publishers" not in text  # no domain route on a shared host
        assert "/.well-known/unfragile.json" not in text  # no steps for refused methods


def test_a_started_claim_is_shown_with_its_token(owned: OwnedSite) -> None:
    base = owned.server.url
    path = f"/submit?claim={UNOWNED}&claimId={owned.claim_id}"
    page = _get(owned, path)
    assert f'<code id="claim-token">{owned.token}</code>' in page
    assert 'data-status="pending"' in page
    md = _get(owned, "/agent" + path)
    for text in (_text(page), md):
        assert owned.claim_id in text and owned.token in text
        assert "pending" in text and "dns" in text
        assert f"unfragile-claim={owned.token}" in text
        assert f"_unfragile.aider.chat. 300 IN TXT \"unfragile-claim={owned.token}\"" in text
        assert f"curl -sS -X POST {base}/api/v1/claims/{owned.claim_id}/verify" in text
        assert "Add a TXT record at" in text.replace("\\", "")  # the registry's instructions
    assert f'datetime="{owned.expires_at}"' in page
    assert f"- Expires: {owned.expires_at}" in md
    # the claim id alone finds its artifact
    alone = _get(owned, f"/submit?claimId={owned.claim_id}")
    assert "Claim Aider" in alone and owned.token in alone


def test_an_unknown_claim_is_a_404_notice_on_the_claim_page(owned: OwnedSite) -> None:
    page = _get(owned, f"/submit?claim={UNOWNED}&claimId=clm_0000000000000000", status=404)
    assert 'id="claim-notice"' in page and "is known to this registry" in page
    assert "capgraph keys create --name me" in _text(page)  # the steps are still there
    md = _get(owned, f"/agent/submit?claim={UNOWNED}&claimId=clm_nope", status=404)
    assert "No claim “clm\\_nope” is known to this registry (404)" in md
    other = _get(owned, f"/submit?claim={NEW_SLUG}&claimId={owned.claim_id}")
    assert f"is about the artifact “{UNOWNED}”" in other and owned.token not in other


# -- the verified mark, rendered from a fake ownership record ------------------------------------


def test_the_verified_mark_shows_method_and_date(registry: Registry) -> None:
    registry.publish(to_yaml(manifest("marked-widget")))
    site = Site(registry=registry, catalog=Catalog(registry), base_url="http://registry.test")
    view = artifact_view(site, "marked-widget")
    assert view.ownership.owner is None  # published by the operator: nobody owns it
    record = OwnershipRecord(
        slug="marked-widget", owner="pub_0123456789ab", maintainers=("pub_ba9876543210",),
        verification={"method": "dns", "verified_at": "2026-12-06T10:11:12.345Z",
                      "subject": "_unfragile.widget.example.org"},
        updated_at="2026-12-06T10:11:12.345Z")
    marked = replace(view, ownership=ownership_panel(registry, "marked-widget", record))
    page, md = html_page("artifact", marked), markdown_page("artifact", marked)
    assert "✓ verified by DNS on 2026-12-06" in page
    assert 'data-verified="true"' in page
    assert "<code>_unfragile.widget.example.org</code>" in page
    assert "pub_0123456789ab" in page and "pub_ba9876543210" in page
    assert "- Builder identity: **✓ verified by DNS on 2026-12-06**" in md
    assert "- Maintainers: pub\\_ba9876543210 (`pub_ba9876543210`)" in md
    unverified = replace(record, verification=None)
    plain = replace(view, ownership=ownership_panel(registry, "marked-widget", unverified))
    assert "not verified" in html_page("artifact", plain)
    assert "✓ verified by" not in markdown_page("artifact", plain)


# -- accessibility -------------------------------------------------------------------------------


AXE_PAGES = {
    "owned-artifact": f"/{NEW_SLUG}",
    "claim-page": f"/submit?claim={UNOWNED}",
    "claim-shared-host": f"/submit?claim={SHARED}",
    "submit": "/submit",
    "started-claim": f"/submit?claim={UNOWNED}&claimId={{claim_id}}",
}


@pytest.mark.parametrize("name", list(AXE_PAGES))
def test_ownership_pages_pass_axe(owned: OwnedSite, page: Any, name: str) -> None:
    page.goto(owned.server.url + AXE_PAGES[name].format(claim_id=owned.claim_id))
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})", AXE_TAGS)
    found = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
             for v in results["violations"]]
    assert not found, found
    assert len(results["passes"]) > 10
    shot(page, f"ownership-{name}")
