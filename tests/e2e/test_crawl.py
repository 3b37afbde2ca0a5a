"""No dead links: crawl every internal link from the home page, HTML and markdown alike."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

from tests.conftest import Server
from tests.e2e.conftest import ServerLog

LIMIT = 900  # bounded: the demo registry has ~600 distinct pages, mirrors and API links
_MD_LINK = re.compile(r"\]\((/[^)\s]*)\)")
_FOLLOW = ("text/html", "text/markdown")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag in ("a", "link") and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "form" and found.get("action"):
            self.links.append(str(found["action"]))


def _internal(base: str, page: str, href: str) -> str | None:
    url = urljoin(page, href)
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != base:
        return None
    return url


def test_every_internal_link_answers(served: tuple[Server, ServerLog]) -> None:
    site, log = served
    queue = deque([site.url + "/"])
    seen = {site.url + "/"}
    anchors: list[tuple[str, str, str]] = []  # (linking page, target page, fragment)
    ids: dict[str, set[str]] = {}
    failures: list[str] = []
    with httpx.Client(timeout=10) as client:
        while queue:
            url = queue.popleft()
            answer = client.get(url)
            kind = answer.headers.get("content-type", "")
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {url}")
                continue
            if url.split("?")[0].endswith(".json") and "json" not in kind:
                failures.append(f"{kind} for {url}")
            if not kind.startswith(_FOLLOW):
                continue
            if kind.startswith("text/html"):
                parser = _Links()
                parser.feed(answer.text)
                hrefs = parser.links
                ids[url] = parser.ids
            else:
                hrefs = _MD_LINK.findall(answer.text)
            for href in hrefs:
                target = _internal(site.url, url, href)
                if target is None:
                    continue
                target, fragment = urldefrag(target)
                if fragment:
                    anchors.append((url, target, fragment))
                if target not in seen and len(seen) < LIMIT:
                    seen.add(target)
                    queue.append(target)
    print(f"crawled {len(seen)} URLs, {len(anchors)} fragment links")
    assert not failures, failures[:20]
    assert len(seen) < LIMIT, "the crawl hit its bound: raise LIMIT or find the link loop"
    assert len(seen) > 150, f"only {len(seen)} pages were reached"
    broken = [f"{page} -> {target}#{frag}" for page, target, frag in anchors
              if target in ids and frag not in ids[target]]
    assert not broken, broken[:20]
    paths = {urlsplit(u).path for u in seen}
    for expected in ("/agent/", "/agent/methodology", "/agent/trust", "/agent/docs",
                     "/schema.json", "/compare", "/submit", "/aider", "/agent/aider"):
        assert expected in paths, expected
    assert "Traceback" not in log.text, log.text[-3000:]
