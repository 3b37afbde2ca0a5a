"""Compact cards: what ranking, the risk gates, search results and alternatives need of an
artifact's latest version, stored beside it (a few hundred bytes) so that search and resolve
read the whole passport only for the answers they return.

A card is derived from the passport body alone, so it can always be rebuilt from what is
stored; ``card_facts`` of a body and the parsed ``card_json`` of the same body are equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from capgraph.core.scoring import adoption_prior

__all__ = ["card_facts", "card_json"]


def card_facts(body: Mapping[str, Any], provenance: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
    """The card of a passport body: the artifact's name, type, url and status, the trust
    facts the risk postures gate on, its description (the builder's own when declared, else
    its first capability's), each capability's id, URI and name, in order, and the share of
    the adoption prior its sourced counts earn (``adoption_prior``: 0 without the
    passport's ``provenance``, which says whether the counts are sourced)."""
    artifact, trust, caps = body["artifact"], body["trust"], body["capabilities"]
    declared = (body.get("declared") or {}).get("description")
    return {
        "name": artifact["name"],
        "type": artifact["type"],
        "url": artifact["url"],
        "status": artifact["status"],
        "quality": float(trust["rank_breakdown"]["quality"]),
        "risk": trust["data_access_risk"],
        "verified": bool(trust["verified"]),
        "description": declared or (str(caps[0]["description"]) if caps else ""),
        "caps": [[cap["id"], cap["uri"], cap["name"]] for cap in caps],
        "adoption": adoption_prior(body, provenance),
    }


def card_json(body: Mapping[str, Any], provenance: Mapping[str, str] | None = None) -> str:
    """``card_facts`` as compact JSON text, for the store."""
    return json.dumps(card_facts(body, provenance), separators=(",", ":"),
                      ensure_ascii=False)
