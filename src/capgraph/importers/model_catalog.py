"""Model catalog lists in the shape of OpenRouter's ``GET /api/v1/models`` (``{"data": [...]}``)
to manifests: one artifact of type ``model`` per entry.

Read per model: ``id`` (``vendor/model``), ``name``, ``description``, ``context_length``,
``pricing`` (``prompt``/``completion``: US dollars per token, as decimal strings),
``architecture.input_modalities``/``output_modalities``. Pricing and the context length are
the source's numbers: the passport's provenance marks them *sourced*.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from capgraph.importers.entries import (
    IMPORT_KEY,
    Mapped,
    Unreadable,
    describe,
    kind_of,
    short,
    slugify,
    strings,
    text,
)

__all__ = ["FORMAT", "map_catalog_entry", "origin_of"]

FORMAT = "openrouter-models"
_MILLION = Decimal(1_000_000)


def origin_of(source_url: str | None) -> str:
    """Where model pages and the API live: the catalog URL's origin, else OpenRouter's."""
    if source_url:
        parsed = urlparse(source_url)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            return f"{parsed.scheme}://{parsed.netloc}"
    return "https://openrouter.ai"


def _per_million(pricing: dict[str, Any], key: str) -> Decimal | None:
    value = pricing.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unreadable(f"pricing.{key} must be a decimal string, not {kind_of(value)}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise Unreadable(f"pricing.{key} is not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise Unreadable(f"pricing.{key} must be a price of 0 or more, not {value!r}")
    return amount * _MILLION


def _money(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01')) if amount >= 1 else amount.normalize():f}"


def map_catalog_entry(data: Any, *, source_url: str | None = None) -> Mapped:
    """One model of the catalog as a manifest. Raises ``Unreadable`` for an entry without an
    id, or with a malformed price or context length."""
    if not isinstance(data, dict):
        raise Unreadable(f"a catalog entry is a JSON object, not {kind_of(data)}")
    model_id = text(data, "id", where="", required=True, limit=200)
    assert model_id is not None
    name = text(data, "name", where="", limit=200) or model_id
    summary = text(data, "description", where="")
    vendor = model_id.partition("/")[0] if "/" in model_id else name
    context = data.get("context_length")
    if context is not None and (isinstance(context, bool) or not isinstance(context, int)
                                or not 0 < context < 2**53):
        raise Unreadable(f"context_length must be a positive integer, not {context!r}")
    pricing = data.get("pricing", {})
    if not isinstance(pricing, dict):
        raise Unreadable(f"pricing must be an object, not {kind_of(pricing)}")
    prompt, completion = _per_million(pricing, "prompt"), _per_million(pricing, "completion")
    architecture = data.get("architecture") if isinstance(data.get("architecture"), dict) else {}
    assert isinstance(architecture, dict)
    inputs = strings(architecture.get("input_modalities"), where="architecture.input_modalities")
    outputs = strings(architecture.get("output_modalities"),
                      where="architecture.output_modalities")
    prices = [f"{_money(p)} per 1M {side} tokens"
              for p, side in ((prompt, "input"), (completion, "output")) if p is not None]
    free = prompt == 0 and completion == 0
    origin = origin_of(source_url)
    limits = [f"context window of {context:,} tokens"] if context else []
    capability: dict[str, Any] = {
        "id": "chat-completions",
        "name": f"{short(name, 150)} chat completions",
        "description": describe(
            summary, f"Served by {urlparse(origin).netloc} through its chat completions API "
            f"as {model_id}", limits[0].capitalize() if limits else None,
            "Priced at " + " and ".join(prices) if prices else None,
            source="a model catalog"),
        "intents_served": [f"generate {' and '.join(outputs) or 'text'} with {name}",
                           f"call the {model_id} model"],
        "input_types": inputs,
        "output_types": outputs,
        "conditions": {"limitations": limits, "requires": ["network", "credentials"]},
    }
    artifact: dict[str, Any] = {
        "name": name, "slug": slugify(model_id), "type": "model", "maintainer": vendor,
        "homepage": f"{origin}/{model_id}", "tags": [vendor, "model-catalog"],
    }
    if summary:
        artifact["description"] = summary
    manifest: dict[str, Any] = {
        "unfragile_version": "1.0", "artifact": artifact, "capabilities": [capability],
        "pricing": {"model": "free" if free else "usage", "free": free,
                    "starting_price": ", ".join(prices) if prices else None},
        "execution": {"protocol": "https", "auth_method": "bearer", "method": "POST",
                      "endpoint": f"{origin}/api/v1/chat/completions"},
        IMPORT_KEY: {"format": FORMAT},
    }
    fields = tuple(f for f, present in (("artifact.pricing", bool(prices)),
                                        ("capabilities.limitations", bool(limits))) if present)
    return Mapped(name=model_id, manifest=manifest, sourced_fields=fields)
