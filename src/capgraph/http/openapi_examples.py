"""Request and response bodies, with examples, of the three calls builders and agents make
most: publish (``POST /api/v1/artifacts``), resolve (``POST /api/v1/resolve``) and report an
outcome (``POST /api/feedback``).

``openapi.py`` puts them in the OpenAPI document and ``/docs`` renders them from there. The
publish example is a demo manifest as shipped (``demo/manifests/tavily-search-api.yml``);
the answers are what a fresh registry answered to these requests (the passport in the resolve
answer abbreviated). tests/integration/test_api_examples.py
checks each example against its schema and sends each request to a live server.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "EXAMPLE_MANIFEST",
    "FEEDBACK_ANSWER",
    "PUBLISH_ANSWER",
    "RESOLVE_ANSWER",
    "request_examples",
    "success_answers",
]

EXAMPLE_MANIFEST = "tavily-search-api"

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": _STRING}

FINDING: dict[str, Any] = {
    "type": "object", "required": ["path", "code", "message"],
    "properties": {"path": _STRING, "code": _STRING, "message": _STRING},
}
PUBLISH_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["slug", "version", "created", "score", "contentHash", "warnings"],
    "properties": {
        "slug": _STRING,
        "version": {"type": "integer", "minimum": 1,
                    "description": "the version now latest (the stored one when unchanged)"},
        "created": {"type": "boolean",
                    "description": "false: the content equals the latest version (200)"},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "contentHash": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
        "warnings": {"type": "array", "items": FINDING},
    },
}
_INVOCATION: dict[str, Any] = {
    "type": "object", "required": ["language", "snippet", "requires", "missing"],
    "properties": {
        "language": {"type": "string", "enum": ["bash", "json", "text"]},
        "snippet": _STRING,
        "requires": _STRINGS,
        "missing": {"type": "array", "description": "execution facts the manifest does not "
                    "declare, left as <placeholders> in the snippet (docs/MANIFEST.md)",
                    "items": {"type": "object", "required": ["field", "message"],
                              "properties": {"field": _STRING, "message": _STRING}}},
    },
}
_ALTERNATIVE: dict[str, Any] = {
    "type": "object", "required": ["slug", "name", "capability", "why_alternative"],
    "properties": {"slug": _STRING, "name": _STRING, "capability": _NULLABLE_STRING,
                   "why_alternative": _STRING},
}
_RESOLVED: dict[str, Any] = {
    "type": "object",
    "required": ["artifact", "capability", "invocation", "trust", "alternatives",
                 "matchConfidence", "lastVerified", "feedbackUrl", "callbackToken"],
    "properties": {
        "artifact": {"type": "object", "required": ["name", "slug", "type", "url"],
                     "properties": {"name": _STRING, "slug": _STRING, "type": _STRING,
                                    "url": _STRING}},
        "capability": {
            "type": "object",
            "required": ["id", "uri", "name", "intent", "description", "whyThisMatches",
                         "vsAlternatives", "bestFor", "limitations"],
            "properties": {"id": _STRING, "uri": _STRING, "name": _STRING, "intent": _STRING,
                           "description": _STRING, "whyThisMatches": _STRINGS,
                           "vsAlternatives": _STRING, "bestFor": _STRINGS,
                           "limitations": _STRINGS},
        },
        "invocation": _INVOCATION,
        "trust": {"type": "object", "description": "the signed passport object as stored "
                  "(its body under `unfragile`, /schema.json); verify it as it comes",
                  "required": ["unfragile", "signature", "signedAt", "signedBy", "version"]},
        "alternatives": {"type": "array", "items": _ALTERNATIVE},
        "matchConfidence": {"type": "number", "minimum": 0, "maximum": 1},
        "lastVerified": _NULLABLE_STRING,
        "feedbackUrl": _STRING,
        "callbackToken": {"type": "string", "description": "pass it back with the resolveId "
                          "and slug to report the outcome"},
    },
}
RESOLVE_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["intent", "resolved", "resolvedAt", "resolveId", "resolverVersion", "risk"],
    "properties": {
        "intent": _STRING,
        "resolved": {"type": "array", "items": _RESOLVED,
                     "description": "best first; empty when there is no confident match"},
        "resolvedAt": _STRING,
        "resolveId": _STRING,
        "resolverVersion": _STRING,
        "risk": _STRING,
        "message": {"type": "string", "description": "only when nothing is resolved"},
        "reason": {"type": "string", "enum": ["low-confidence", "filtered-by-risk"]},
        "matchConfidence": {"type": "number"},
        "alternatives": {"type": "array", "items": _ALTERNATIVE},
        "filteredByRisk": {"type": "array", "items": {"type": "object"}},
    },
}
FEEDBACK_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["accepted", "counted", "slug", "capability", "outcome", "passportVersion"],
    "properties": {
        "accepted": {"type": "boolean"},
        "counted": {"type": "boolean", "description": "true (201): it moved the artifact's "
                    "observed outcomes; false (202): kept, not counted (docs/RESOLVE.md)"},
        "slug": _STRING,
        "capability": _STRING,
        "outcome": {"type": "string", "enum": ["success", "failure"]},
        "passportVersion": {"type": "integer", "minimum": 1},
    },
}


@functools.cache
def manifest_text() -> str:
    """The example manifest, as the demo ships it."""
    folder = resources.files("capgraph.demo").joinpath("manifests")
    return folder.joinpath(f"{EXAMPLE_MANIFEST}.yml").read_text(encoding="utf-8")


_RESOLVE_REQUEST = {"intent": "search the web for current information for my agent",
                    "limit": 1, "risk": "production"}
_FEEDBACK_REQUEST = {
    "resolveId": "r_KFSTDQgvCcjTGLFkyTX0Mw",
    "slug": EXAMPLE_MANIFEST,
    "callbackToken": "v1.1797193699.BDMvAfJZqCNdcbf24du2B_vwoQ6sfnob-_kSjZxSBU0",
    "outcome": "success",
    "clickedThrough": True,
    "source": "my-research-agent",
    "comment": "found three current sources for the question",
}
_CALL = ('curl -sS -X POST "https://api.tavily.com/search" \\\n  -H "Authorization: Bearer '
         '$API_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d @request.json')


def request_examples() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Per (method, path): per media type, the OpenAPI ``examples`` of the request body."""
    manifest = yaml.safe_load(manifest_text())
    return {
        ("post", "/api/v1/artifacts"): {
            "application/yaml": {"tavily": {"summary": "A demo manifest, as YAML",
                                            "value": manifest_text()}},
            "application/json": {"tavily": {"summary": "The same manifest, as JSON",
                                            "value": manifest}},
        },
        ("post", "/api/v1/resolve"): {
            "application/json": {"search": {"summary": "One answer, production posture",
                                            "value": _RESOLVE_REQUEST}},
        },
        ("post", "/api/feedback"): {
            "application/json": {"resolved": {
                "summary": "The outcome of a resolved answer: resolveId, slug and "
                           "callbackToken come from that answer",
                "value": _FEEDBACK_REQUEST}},
        },
    }


def _resolve_example() -> dict[str, Any]:
    return {
        "intent": _RESOLVE_REQUEST["intent"],
        "resolved": [{
            "artifact": {"name": "Tavily Search API", "slug": EXAMPLE_MANIFEST, "type": "api",
                         "url": "https://tavily.com"},
            "capability": {
                "id": "tavily-search-api__cap_0",
                "uri": "capability://search.retrieval.llm.ready.web.search",
                "name": "llm-ready web search",
                "intent": _RESOLVE_REQUEST["intent"],
                "description": "A POST to /search with a query returns a JSON list of results, "
                               "each with title, URL, relevance score and an extracted content "
                               "snippet, aggregated from multiple sources on Tavily's side. "
                               "...",
                "whyThisMatches": [
                    "name shares 'search', 'web': \"llm-ready web search\"",
                    "intents shares 'search', 'web', 'agent': \"give my agent a web search "
                    "tool\"",
                    "not mentioned: 'current', 'information'",
                ],
                "vsAlternatives": "no other capability in the registry matches this intent",
                "bestFor": ["RAG and research agents that need fresh web context"],
                "limitations": ["advanced depth costs more credits and takes longer"],
            },
            "invocation": {"language": "bash", "snippet": _CALL,
                           "requires": ["set API_KEY to a bearer token", "a Tavily API key",
                                        "outbound HTTPS access to api.tavily.com"],
                           "missing": []},
            "trust": {
                "unfragile": {"@version": "1.0", "version": "2026-12",
                              "artifact": {"slug": EXAMPLE_MANIFEST}, "...": "(abbreviated)"},
                "signature": "FCBgReZjtj/vTFr+Fclxds8gZh55nAfSJHkUGwsuIyytevoZ07T2sxtjH3f19Lx+"
                             "IthI1yvguSUYFNP3UlpbCA==",
                "signedAt": "2026-12-06T20:28:19.510Z", "signedBy": "capgraph", "version": 1,
                "keyId": "_j9o1UAipSwkf3GZEdVnYdRVB59fo6YQL7-1bg9y1BM",
                "provenance": {"artifact.categories": "derived",
                               "trust.data_access_risk": "derived"},
            },
            "alternatives": [],
            "matchConfidence": 0.9917,
            "lastVerified": "2026-12-06T20:28:19.510Z",
            "feedbackUrl": "https://registry.example/api/feedback",
            "callbackToken": _FEEDBACK_REQUEST["callbackToken"],
        }],
        "resolvedAt": "2026-12-06T20:28:19.595Z",
        "resolveId": _FEEDBACK_REQUEST["resolveId"],
        "resolverVersion": "capgraph-resolver/0.1.0",
        "risk": "production",
    }


def success_answers() -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
    """Per (method, path): per success status, its description, schema and example."""
    published = {"slug": EXAMPLE_MANIFEST, "version": 1, "created": True, "score": 35,
                 "contentHash": "sha256:680875ed862632867ad1316281cc66facad611a52d9a270fc8788a"
                                "8259dfc0cf", "warnings": []}
    unchanged = {**published, "created": False}
    reported = {"accepted": True, "counted": True, "slug": EXAMPLE_MANIFEST,
                "capability": "tavily-search-api__cap_0", "outcome": "success",
                "passportVersion": 2}
    return {
        ("post", "/api/v1/artifacts"): {
            201: {"description": "A new version was signed and stored (Location: its URL)",
                  "schema": PUBLISH_ANSWER, "example": published},
            200: {"description": "The content equals the latest version: nothing stored",
                  "schema": PUBLISH_ANSWER, "example": unchanged},
        },
        ("post", "/api/v1/resolve"): {
            200: {"description": "Ranked answers, each ready to call and to report on "
                                 "(the trust passport is abbreviated in this example)",
                  "schema": RESOLVE_ANSWER, "example": _resolve_example()},
        },
        ("post", "/api/feedback"): {
            201: {"description": "Counted: it moved the artifact's observed outcomes",
                  "schema": FEEDBACK_ANSWER, "example": reported},
            202: {"description": "Accepted and kept, not counted (e.g. over the per-client "
                                 "cap)", "schema": FEEDBACK_ANSWER,
                  "example": {**reported, "counted": False, "passportVersion": 1}},
        },
    }
