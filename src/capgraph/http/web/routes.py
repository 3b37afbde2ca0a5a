"""Page routes: each page once as HTML for people and once as markdown under ``/agent``.

Every page is a *builder* (request, site) -> view model, registered twice: at its path with
its HTML template, and at ``/agent<path>`` with its markdown template. The artifact page
``/{slug}`` is a catch-all, so this router must be included after every other router.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from capgraph.core.manifest_shape import manifest_schema
from capgraph.errors import NotFound
from capgraph.http.asgi import base_url_of
from capgraph.http.web.agents import agents_view
from capgraph.http.web.catalog import Catalog
from capgraph.http.web.compare import compare_pair_view, compare_picker_view, split_pair
from capgraph.http.web.reference import docs_view, methodology_view, trust_view
from capgraph.http.web.render import html_page, markdown_page, static_file
from capgraph.http.web.schema import passport_schema
from capgraph.http.web.views import (
    SLUG_PATTERN,
    Site,
    artifact_view,
    home_view,
    not_found_view,
    submit_view,
)

__all__ = ["web_router"]

HTML = "text/html; charset=utf-8"
MARKDOWN = "text/markdown; charset=utf-8"
_SLUG = re.compile(SLUG_PATTERN)
_MAX_QUERY = 500


@dataclass(frozen=True)
class Redirect:
    """A builder's answer when the page lives at another URL (e.g. a submitted compare form)."""

    path: str


Builder = Callable[[Request, Site], Any]


def _site(request: Request) -> Site:
    state = request.app.state
    catalog = getattr(state, "web_catalog", None)
    if catalog is None:
        catalog = state.web_catalog = Catalog(state.registry)
    return Site(registry=state.registry, catalog=catalog, base_url=base_url_of(dict(request.scope)))


SiteDep = Annotated[Site, Depends(_site)]


def _param(request: Request, name: str) -> str:
    return request.query_params.get(name, "")[:_MAX_QUERY]


def _wants_markdown(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/markdown" in accept and "text/html" not in accept


def _respond(template: str, view: Any, *, markdown: bool, status: int = 200) -> Response:
    if markdown:
        return Response(markdown_page(template, view), status_code=status, media_type=MARKDOWN)
    headers = {}
    if not view.page.noindex:
        headers["Link"] = f'<{view.page.mirror}>; rel="alternate"; type="text/markdown"'
    return Response(html_page(template, view), status_code=status, media_type=HTML,
                    headers=headers)


def _not_found(request: Request, message: str, *, markdown: bool) -> Response:
    return _respond("not_found", not_found_view(request.url.path, message), markdown=markdown,
                    status=404)


def _endpoint(template: str, build: Builder, *, markdown: bool) -> Callable[..., Response]:
    def endpoint(request: Request, site: SiteDep) -> Response:
        as_markdown = markdown or _wants_markdown(request)
        try:
            view = build(request, site)
        except NotFound as exc:
            return _not_found(request, exc.message, markdown=as_markdown)
        if isinstance(view, Redirect):
            target = ("/agent" + view.path) if markdown else view.path
            return RedirectResponse(target, status_code=303)
        return _respond(template, view, markdown=as_markdown,
                        status=getattr(view, "status", 200))

    endpoint.__name__ = f"{template}_{'markdown' if markdown else 'html'}"
    return endpoint


# -- builders -----------------------------------------------------------------------------------


def _home(request: Request, site: Site) -> Any:
    return home_view(site, q=_param(request, "q"), type_filter=_param(request, "type"))


def _artifact(request: Request, site: Site) -> Any:
    slug = request.path_params["slug"]
    if not _SLUG.match(slug):
        raise NotFound(f"There is no page at /{slug}.")
    try:
        return artifact_view(site, slug)
    except NotFound as exc:
        raise NotFound(f"No artifact “{slug}” is in the registry.") from exc


def _compare_picker(request: Request, site: Site) -> Any:
    a, b = _param(request, "a"), _param(request, "b")
    if a and b:
        return Redirect(f"/compare/{quote(a, safe='')}-vs-{quote(b, safe='')}")
    return compare_picker_view(site, artifact=_param(request, "artifact"))


def _compare_pair(request: Request, site: Site) -> Any:
    pair = request.path_params["pair"]
    known = {p.slug for p in site.catalog.profiles()}
    found = split_pair(pair, known)
    if found is None:
        raise NotFound(f"“{pair}” does not name two artifacts in the registry as "
                       "<first>-vs-<second>.")
    if found[0] == found[1]:
        return Redirect(f"/{found[0]}")
    return compare_pair_view(site, *found)


def _methodology(request: Request, site: Site) -> Any:
    return methodology_view()


def _trust(request: Request, site: Site) -> Any:
    return trust_view(site)


def _docs(request: Request, site: Site) -> Any:
    openapi_url = request.app.openapi_url or "/api/v1/openapi.json"
    return docs_view(site, request.app.openapi(), openapi_url)


def _agents(request: Request, site: Site) -> Any:
    return agents_view(site)


def _submit(request: Request, site: Site) -> Any:
    return submit_view(site, claim=_param(request, "claim"),
                       claim_id=_param(request, "claimId"))


# (path, template, builder): each served as HTML at path and as markdown at /agent<path>.
# Order matters: the artifact catch-all comes last.
PAGES: list[tuple[str, str, Builder]] = [
    ("/", "home", _home),
    ("/compare", "compare", _compare_picker),
    ("/compare/{pair}", "compare", _compare_pair),
    ("/methodology", "methodology", _methodology),
    ("/trust", "trust", _trust),
    ("/docs", "docs", _docs),
    ("/docs/agents", "agents", _agents),
    ("/submit", "submit", _submit),
    ("/{slug}", "artifact", _artifact),
]


def _schema_json(request: Request) -> Response:
    body = json.dumps(passport_schema(base_url_of(dict(request.scope))), indent=2)
    return Response(body, media_type="application/schema+json")


def _manifest_schema_json(request: Request) -> Response:
    body = json.dumps(manifest_schema(base_url_of(dict(request.scope))), indent=2)
    return Response(body, media_type="application/schema+json")


def _static(name: str) -> Response:
    found = static_file(name)
    if found is None:
        raise NotFound(f"no static file {name!r}")
    data, media_type = found
    return Response(data, media_type=media_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


def _agent_index(request: Request, site: SiteDep) -> Response:
    return _respond("home", _home(request, site), markdown=True)


def web_router() -> APIRouter:
    """The pages, their markdown mirrors, ``/schema.json``, ``/manifest.schema.json`` and the
    static files."""
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/schema.json", _schema_json, methods=["GET"])
    router.add_api_route("/manifest.schema.json", _manifest_schema_json, methods=["GET"])
    router.add_api_route("/_static/{name}", _static, methods=["GET"])
    router.add_api_route("/agent", _agent_index, methods=["GET"])
    for path, template, build in PAGES:
        agent_path = "/agent/" if path == "/" else "/agent" + path
        router.add_api_route(agent_path, _endpoint(template, build, markdown=True),
                             methods=["GET"])
    for path, template, build in PAGES:
        router.add_api_route(path, _endpoint(template, build, markdown=False), methods=["GET"])
    return router
