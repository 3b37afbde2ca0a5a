"""Process entry for uvicorn workers: builds Settings from the environment, then the app."""

from __future__ import annotations

from typing import Any

from capgraph.bootstrap import build_registry
from capgraph.config import Settings
from capgraph.http.app import create_app

__all__ = ["make_app"]


def make_app() -> Any:
    """uvicorn factory (``capgraph.http.server:make_app``); each worker calls it once."""
    settings = Settings()
    return create_app(build_registry(settings), settings)
