"""The web layer: server-rendered pages for people and their markdown mirrors for agents."""

from capgraph.http.web.routes import web_router

__all__ = ["web_router"]
