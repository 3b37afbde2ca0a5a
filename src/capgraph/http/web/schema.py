"""``/schema.json``: the JSON Schema of a served passport envelope.

The body schema is generated from the pydantic models that check passports
(``core/passport.py``), so the published schema and the checks cannot drift; the envelope
around it (signature fields, ``_links``, ``_log``) is written here from docs/TRUST.md.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from capgraph.core.passport import PassportBody

__all__ = ["passport_schema"]

_ISO_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"


@cache
def _body_schema() -> dict[str, Any]:
    return PassportBody.model_json_schema(by_alias=True)


def passport_schema(base_url: str) -> dict[str, Any]:
    """The envelope schema, with ``$id`` at the serving registry's ``/schema.json``."""
    body = copy.deepcopy(_body_schema())
    defs = body.pop("$defs", {})
    passport = {
        "type": "object",
        "description": "The signed object. The signature is Ed25519 over the RFC 8785 "
                       "canonical bytes of this object without its 'signature' member.",
        "required": ["unfragile", "signature", "signedAt", "signedBy", "version"],
        "additionalProperties": False,
        "properties": {
            "unfragile": {"$ref": "#/$defs/PassportBody"},
            "signature": {"type": "string", "contentEncoding": "base64",
                          "description": "Ed25519 signature, standard base64"},
            "signedAt": {"type": "string", "pattern": _ISO_MS},
            "signedBy": {"type": "string", "minLength": 1},
            "version": {"type": "integer", "minimum": 1,
                        "description": "the artifact's passport version in this registry"},
            "keyId": {"type": "string", "minLength": 1,
                      "description": "RFC 7638 JWK thumbprint of the signing key"},
            "provenance": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "field path -> declared | derived | source note"},
        },
    }
    log = {
        "type": "object",
        "description": "Where the passport sits in the transparency log (not signed: it grows).",
        "required": ["index", "treeSize", "leafHash", "inclusionProof", "checkpoint"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "treeSize": {"type": "integer", "minimum": 1},
            "leafHash": {"type": "string", "contentEncoding": "base64"},
            "inclusionProof": {"type": "array",
                               "items": {"type": "string", "contentEncoding": "base64"}},
            "checkpoint": {"type": "string", "description": "C2SP signed note"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url.rstrip('/')}/schema.json",
        "title": "capgraph trust passport envelope",
        "description": "What GET /api/v1/passport/{slug} serves (docs/TRUST.md).",
        "type": "object",
        "required": ["passport"],
        "properties": {
            "passport": {"$ref": "#/$defs/Passport"},
            "_links": {"type": "object", "additionalProperties": {"type": "string"}},
            "_log": {"$ref": "#/$defs/LogProof"},
        },
        "$defs": {**defs, "PassportBody": body, "Passport": passport, "LogProof": log},
    }
