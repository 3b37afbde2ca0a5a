"""What each tool says to an agent that has no other context: what it does, what it changes,
its limits, and its parameters with their ranges."""

from __future__ import annotations

from capgraph.core.risk import RISK_POSTURES
from capgraph.core.taxonomy import ARTIFACT_TYPES

__all__ = ["COMPARE", "GET_PASSPORT", "INSTRUCTIONS", "PASSPORT_RESOURCE", "REPORT_OUTCOME",
           "RESOLVE", "SEARCH", "VERIFY_PASSPORT"]

_TYPES = ", ".join(ARTIFACT_TYPES)
_POSTURES = ", ".join(RISK_POSTURES)

INSTRUCTIONS = (
    "capgraph is an open registry of AI capabilities (models, MCP servers, APIs, agents, "
    "datasets...) with signed trust passports and a trust score (UnfragileRank, 0-100). "
    "The loop: call `resolve` with the task you need done, use the top answer's `invocation`, "
    "then call `report_outcome` once with its `resolveId`, `slug` and `callbackToken` to say "
    "whether it worked. `search` browses, `get_passport` and `compare` inspect, "
    "`verify_passport` checks a passport's signature."
)

SEARCH = f"""Find artifacts in the capgraph registry whose capabilities match a query, best \
first, with their trust score (UnfragileRank 0-100) and match score.
Use it to browse options; to pick one capability to call for a task, use `resolve` instead.
Side effects: remembers what it answered (an id per match) so an outcome can be reported; \
changes no artifact. Limits: the per-client rate limit of the HTTP API applies over HTTP.
Parameters: query (2-500 characters, plain words); limit (1-20, default 5); type (optional, \
one of: {_TYPES})."""

RESOLVE = f"""Resolve a task described in plain words (an intent) to the best capability to \
call for it: the artifact, the capability, how to invoke it (protocol, endpoint, auth), its \
trust (score, verification, risk), alternatives, a calibrated matchConfidence (0-1), and a \
resolveId plus a per-answer callbackToken for `report_outcome`.
When nothing clears the risk gate confidently, `resolved` is empty and `message`, \
`matchConfidence` and `alternatives` say what came closest.
Side effects: records the answer so that one outcome report can be made for it; changes no \
artifact. Limits: the rate limit of the HTTP API applies over HTTP; tokens expire.
Parameters: intent (2-500 characters); limit (1-10 answers, default 3); risk (the trust \
gate, one of: {_POSTURES}; default 'default', 'strict' the tightest); type (optional, one of: \
{_TYPES}); capability (optional capability:// URI prefix or phrase to pin)."""

GET_PASSPORT = """Get an artifact's signed trust passport (the envelope the registry serves \
at /api/v1/passport/{slug}): its manifest-derived body (capabilities, invocation, pricing, \
failure modes, data access risk), trust score with its components, observed outcomes, the \
Ed25519 signature and key id, and its transparency-log inclusion proof.
Read-only. Fails with not-found for an unknown slug or version.
Parameters: slug (1-100 characters, lowercase letters, digits, '.', '_', '-'); version \
(optional, >= 1: an older version; default the latest)."""

COMPARE = """Compare 2 to 4 artifacts side by side: for each its UnfragileRank, version, \
verified mark, capability names and the score components (value, weight, contribution in \
points), and per component which artifact leads (or 'tie').
Read-only. Fails with not-found if any slug is unknown, bad-request for repeated slugs.
Parameters: slugs (a list of 2-4 distinct slugs)."""

REPORT_OUTCOME = """Report whether a capability returned by `resolve` worked. Send it once, \
after using the answer: resolve_id (the resolve's resolveId), slug and callback_token (from \
the answer you used), outcome ('success' or 'failure').
Side effects: stores the report; a counted report re-issues the artifact's signed passport \
with updated observed outcomes, which moves its trust score. One report per resolve: a second \
one with the same token is refused (conflict); a forged, expired or mismatched token is \
refused (token-invalid). Reports past a per-client cap on one artifact are stored but not \
counted (counted=false).
Over HTTP the reporter is the API key in the Authorization header when there is one, else \
the client address (kept only as a salted hash).
Parameters: resolve_id (1-100 characters); slug; callback_token (1-1000 characters); outcome; \
comment (optional, <= 500 characters); source (optional, <= 100 characters, default 'mcp')."""

VERIFY_PASSPORT = """Verify a trust passport's Ed25519 signature against the registry's \
published keys (JWK Set): valid or not, the key id, when it was signed, and the reasons when \
it is not valid (a changed byte makes a passport invalid).
Read-only. For an offline check that does not trust this server, use the Python client's \
verify() with a pinned JWK Set and a saved log checkpoint.
Parameters: exactly one of slug (1-100 characters: verify what the registry serves now) or \
passport (an object: a passport envelope or passport you hold, e.g. from `get_passport`)."""

PASSPORT_RESOURCE = ("The signed trust passport envelope of an artifact, as JSON "
                     "(the same bytes as GET /api/v1/passport/{slug}).")
