"""Template rendering: one Jinja environment for HTML pages and one for their markdown mirrors.

Both are built once per process and compile each template once (``auto_reload`` off), so a
page costs its view model plus one template call. HTML autoescapes everything; markdown
escapes each interpolated text with the ``md`` filter.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from capgraph.core.taxonomy import ARTIFACT_TYPES

__all__ = ["html_page", "markdown_page", "md_escape", "static_file", "static_url"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(value: Any) -> str:
    """Text safe to put inline in markdown (tables included): specials escaped, one line."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def _num(value: float, digits: int = 2) -> str:
    return f"{float(value):.{digits}f}"


def _pct(value: float) -> str:
    return f"{round(float(value) * 100)}%"


def _when(value: Any) -> str:
    """``2026-11-21T11:29:25.089Z`` as ``2026-11-21 11:29 UTC``; anything else unchanged."""
    text = str(value or "")
    found = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?Z", text)
    return f"{found.group(1)} {found.group(2)} UTC" if found else text


_PER_TOKEN = re.compile(r"^\$\s*([0-9.]+(?:[eE][-+]?[0-9]+)?) per (?:(.+?) )?token$")


def _price(value: Any) -> str:
    """A per-token price in scientific notation (``$2.20e-7 per prompt token``, as the seeds
    write it) as people read prices: ``$0.22 per 1M prompt tokens``; other text unchanged."""
    text = str(value or "")
    found = _PER_TOKEN.fullmatch(text.strip())
    if not found:
        return text
    try:
        per_million = float(found.group(1)) * 1_000_000
    except ValueError:
        return text
    unit = f"{found.group(2)} tokens" if found.group(2) else "tokens"
    return f"${per_million:,.2f} per 1M {unit}"


def _signed(value: int) -> str:
    return f"+{value}" if value > 0 else str(value)


@cache
def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("capgraph.http.web").joinpath("static")
    types = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".svg": "image/svg+xml"}
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in types:
            files[entry.name] = (entry.read_bytes(), types[suffix])
    return files


def static_file(name: str) -> tuple[bytes, str] | None:
    """A bundled static file's bytes and media type, or None."""
    return _static_files().get(name)


def static_url(name: str) -> str:
    """``/_static/<name>?v=<content hash>``: cacheable for a year, new URL on every change."""
    data, _ = _static_files()[name]
    return f"/_static/{name}?v={hashlib.sha256(data).hexdigest()[:10]}"


def _environment(*, markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("capgraph.http.web", "templates"),
        autoescape=False if markdown else select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_escape, num=_num, pct=_pct, price=_price, signed=_signed, when=_when)
    env.globals.update(static_url=static_url, artifact_types=ARTIFACT_TYPES)
    return env


@cache
def _html_env() -> Environment:
    return _environment(markdown=False)


@cache
def _md_env() -> Environment:
    return _environment(markdown=True)


def html_page(template: str, view: Any) -> str:
    """Render ``templates/<template>.html`` with ``view``."""
    return _html_env().get_template(f"{template}.html").render(view=view, page=view.page)


def markdown_page(template: str, view: Any) -> str:
    """Render ``templates/md/<template>.md`` with ``view``; blank-line runs collapsed."""
    text = _md_env().get_template(f"md/{template}.md").render(view=view, page=view.page)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
