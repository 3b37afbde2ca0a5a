"""Manifest validation (PROTOCOL.md A.3, B.7): every error and warning in one pass.

Findings carry a dotted path (``capabilities[2].description``), a stable code and a message;
every code is listed, with its severity, in ``manifest_shape.CODES`` and docs/MANIFEST.md.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

from capgraph.core.manifest import (
    Execution,
    FailureMode,
    Manifest,
    ManifestArtifact,
    ManifestCapability,
)
from capgraph.core.manifest_shape import (
    BLOCKS,
    CAP_ID,
    HEADER_LINE,
    HEADER_NAME,
    HTTP_PATH,
    MAX_CAPABILITIES,
    MAX_ITEM,
    MAX_LIST,
    MAX_TEXT,
    MIN_DESCRIPTION,
    SLUG,
    close_key,
)
from capgraph.core.taxonomy import (
    ARTIFACT_TYPES,
    AUTH_METHODS,
    CAPABILITY_CATEGORIES,
    EXECUTION_PROTOCOLS,
    FAILURE_FREQUENCIES,
    HTTP_METHODS,
    PERMISSION_SCOPES,
    PRICING_MODELS,
    RISK_LEVELS,
    STATUSES,
)
from capgraph.errors import Finding

__all__ = ["MIN_DESCRIPTION", "SLUG_PATTERN", "validate_manifest"]

SLUG_PATTERN = re.compile(SLUG)
_HTTP_PATH = re.compile(HTTP_PATH)
_HEADER_NAME = re.compile(HEADER_NAME)
_HEADER_LINE = re.compile(HEADER_LINE)
# Paths the web pages own: an artifact with one of these slugs could have no page of its own.
RESERVED_SLUGS = frozenset({
    "api", "agent", "compare", "docs", "methodology", "trust", "submit", "schema", "schema.json",
    "manifest.schema.json", "protocol", "static", "favicon.ico", "favicon.svg", "robots.txt",
    "search", "openapi.json",
})
_CAP_ID = re.compile(CAP_ID)
_COMMUNITY = tuple(BLOCKS["community"].keys)


class _Checker:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def error(self, path: str, code: str, message: str) -> None:
        self.findings.append(Finding(path, code, message, "error"))

    def warn(self, path: str, code: str, message: str) -> None:
        self.findings.append(Finding(path, code, message, "warning"))

    def obj(self, data: Any, path: str, *, required: bool) -> dict[str, Any] | None:
        if data is None:
            if required:
                self.error(path, "required", f"{path} is required")
            return None
        if not isinstance(data, dict):
            self.error(path, "type", f"{path} must be an object, not {_kind(data)}")
            return None
        return data

    def text(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        min_len: int = 1,
        max_len: int = MAX_TEXT,
    ) -> str | None:
        where = f"{path}.{key}" if path else key
        value = data.get(key)
        if value is None:
            if required:
                self.error(where, "required", f"{where} is required")
            return None
        if not isinstance(value, str):
            self.error(where, "type", f"{where} must be a string, not {_kind(value)}")
            return None
        value = value.strip()
        if len(value) < min_len:
            if min_len > 1:
                self.error(
                    where,
                    "too-short",
                    f"{where} has {len(value)} characters; at least {min_len} are required",
                )
            else:
                self.error(where, "empty", f"{where} must not be empty")
            return None
        if len(value) > max_len:
            self.error(where, "too-long", f"{where} has {len(value)} characters; at most {max_len}")
            return None
        return value

    def enum(
        self, data: dict[str, Any], key: str, path: str, allowed: tuple[str, ...], *,
        required: bool = False,
    ) -> str | None:
        value = self.text(data, key, path, required=required)
        if value is not None and value not in allowed:
            where = f"{path}.{key}" if path else key
            self.error(where, "enum", f"{where} is {value!r}; expected one of {', '.join(allowed)}")
            return None
        return value

    def strings(self, data: dict[str, Any], key: str, path: str, *, required: bool = False
                ) -> list[str]:
        where = f"{path}.{key}" if path else key
        value = data.get(key)
        if value is None:
            if required:
                self.error(where, "required", f"{where} is required")
            return []
        if not isinstance(value, list):
            self.error(where, "type", f"{where} must be a list of strings, not {_kind(value)}")
            return []
        if len(value) > MAX_LIST:
            self.error(where, "too-long", f"{where} has {len(value)} items; at most {MAX_LIST}")
            return []
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.error(f"{where}[{i}]", "type", f"{where}[{i}] must be a non-empty string")
            elif len(item) > MAX_ITEM:
                self.error(f"{where}[{i}]", "too-long", f"{where}[{i}] is over {MAX_ITEM} chars")
            else:
                out.append(item.strip())
        if required and not out and isinstance(value, list) and not value:
            self.error(where, "empty", f"{where} must list at least one entry")
        return out

    def url(self, data: dict[str, Any], key: str, path: str) -> str | None:
        value = self.text(data, key, path, max_len=2000)
        if value is None:
            return None
        try:
            parsed = urlparse(value)
        except ValueError:  # e.g. "https://[host": urlparse raises "Invalid IPv6 URL"
            parsed = urlparse("")
        if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in value:
            self.error(f"{path}.{key}", "url", f"{path}.{key} is not an http(s) URL: {value!r}")
            return None
        return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), "a value")


def _unknown_keys(c: _Checker, data: dict[str, Any], block: str, path: str) -> None:
    """Warn about every key ``block`` does not define, naming the close one when there is."""
    known = BLOCKS[block].keys
    for key in data:
        if key in known:
            continue
        where = f"{path}.{key}" if path else str(key)
        what = f"a field of {path}" if path else "a manifest field"
        guess = close_key(str(key), known)
        hint = f"; did you mean {guess!r}?" if guess else ""
        c.warn(where, "unknown-field", f"{key!r} is not {what} and is ignored{hint}")


def _capability(c: _Checker, raw: Any, path: str) -> ManifestCapability | None:
    data = c.obj(raw, path, required=True)
    if data is None:
        return None
    _unknown_keys(c, data, "capability", path)
    cap_id = c.text(data, "id", path, required=True, max_len=64)
    if cap_id is not None and not _CAP_ID.match(cap_id):
        c.error(f"{path}.id", "slug", f"{path}.id {cap_id!r} must be letters, digits, . _ -")
        cap_id = None
    name = c.text(data, "name", path, required=True, max_len=200)
    description = c.text(data, "description", path, required=True, min_len=MIN_DESCRIPTION)
    intents = c.strings(data, "intents_served", path, required=True)
    conditions = c.obj(data.get("conditions"), f"{path}.conditions", required=False) or {}
    _unknown_keys(c, conditions, "conditions", f"{path}.conditions")
    best_for = c.strings(conditions, "bestFor", f"{path}.conditions")
    limitations = c.strings(conditions, "limitations", f"{path}.conditions")
    requires = c.strings(conditions, "requires", f"{path}.conditions")
    unique = c.text(data, "unique_aspect", path)
    categories = c.strings(data, "categories", path)
    for i, cat in enumerate(categories):
        if cat not in CAPABILITY_CATEGORIES:
            c.error(f"{path}.categories[{i}]", "enum",
                    f"{cat!r} is not a capability category; expected one of "
                    + ", ".join(CAPABILITY_CATEGORIES))
    inputs = c.strings(data, "input_types", path)
    outputs = c.strings(data, "output_types", path)
    if None in (cap_id, name, description) or not intents:
        return None
    assert cap_id is not None and name is not None and description is not None
    return ManifestCapability(
        id=cap_id, name=name, description=description, intents=intents, best_for=best_for,
        limitations=limitations, requires=requires, unique_aspect=unique,
        categories=categories, input_types=inputs, output_types=outputs,
    )


def _artifact(c: _Checker, raw: Any) -> ManifestArtifact | None:
    data = c.obj(raw, "artifact", required=True)
    if data is None:
        return None
    _unknown_keys(c, data, "artifact", "artifact")
    name = c.text(data, "name", "artifact", required=True, min_len=1, max_len=200)
    slug = c.text(data, "slug", "artifact", required=True, max_len=100)
    if slug is not None and not SLUG_PATTERN.match(slug):
        c.error("artifact.slug", "slug",
                f"slug {slug!r} must be 1-100 lowercase letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit")
        slug = None
    elif slug is not None and slug in RESERVED_SLUGS:
        c.error("artifact.slug", "slug", f"slug {slug!r} is reserved for the registry's own pages")
        slug = None
    kind = c.enum(data, "type", "artifact", ARTIFACT_TYPES, required=True)
    maintainer = c.text(data, "maintainer", "artifact", required=True, max_len=200)
    repository = c.url(data, "repository", "artifact")
    homepage = c.url(data, "homepage", "artifact")
    if data.get("repository") is None and data.get("homepage") is None:
        c.error("artifact.homepage", "required", "artifact needs a homepage or a repository URL")
    license_ = c.text(data, "license", "artifact", max_len=100)
    description = c.text(data, "description", "artifact")
    tags = c.strings(data, "tags", "artifact")
    categories = c.strings(data, "categories", "artifact")
    status = c.enum(data, "status", "artifact", STATUSES) or "active"
    updated_at = c.text(data, "updated_at", "artifact", max_len=40)
    if updated_at is not None and _iso(updated_at) is None:
        c.error("artifact.updated_at", "type", f"updated_at {updated_at!r} is not an ISO date")
        updated_at = None
    integrations = c.strings(data, "integrations", "artifact")
    if None in (name, slug, kind, maintainer):
        return None
    assert name and slug and kind and maintainer
    return ManifestArtifact(
        name=name, slug=slug, type=kind, maintainer=maintainer, repository=repository,
        homepage=homepage, license=license_, description=description, tags=tags,
        categories=categories, status=status, updated_at=updated_at, integrations=integrations,
    )


def _iso(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment.astimezone(UTC)  # "0001-01-01T00:00+05:00" has no UTC time: OverflowError
        return moment.isoformat()
    except OverflowError:
        return None
    except ValueError:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return None


def _failure_modes(c: _Checker, raw: Any) -> list[FailureMode]:
    if raw is None:
        c.warn("failure_modes", "no-failure-modes",
               "no failure modes are declared; agents cannot plan for how this breaks")
        return []
    if not isinstance(raw, list):
        c.error("failure_modes", "type", f"failure_modes must be a list, not {_kind(raw)}")
        return []
    if not raw:
        c.warn("failure_modes", "no-failure-modes", "failure_modes is empty")
    out = []
    for i, item in enumerate(raw[:MAX_LIST]):
        path = f"failure_modes[{i}]"
        data = c.obj(item, path, required=True)
        if data is None:
            continue
        _unknown_keys(c, data, "failure_mode", path)
        mode = c.text(data, "mode", path, required=True, max_len=MAX_ITEM)
        frequency = c.enum(data, "frequency", path, FAILURE_FREQUENCIES)
        mitigation = c.text(data, "mitigation", path, max_len=MAX_ITEM)
        if mode:
            out.append(FailureMode(mode, frequency, mitigation))
    return out


def _execution(c: _Checker, raw: Any) -> Execution | None:
    if raw is None:
        c.warn("execution", "no-execution",
               "no execution block: agents will not know how to call this artifact")
        return None
    data = c.obj(raw, "execution", required=True)
    if data is None:
        return None
    _unknown_keys(c, data, "execution", "execution")
    protocol = c.enum(data, "protocol", "execution", EXECUTION_PROTOCOLS, required=True)
    auth = c.enum(data, "auth_method", "execution", AUTH_METHODS)
    endpoint = c.url(data, "endpoint", "execution")
    command = c.text(data, "command", "execution", max_len=MAX_ITEM)
    install = c.text(data, "install", "execution", max_len=MAX_ITEM)
    method = c.enum(data, "method", "execution", HTTP_METHODS)
    path = _formatted(c, c.text(data, "path", "execution", max_len=MAX_ITEM), "execution.path",
                      _HTTP_PATH, "an HTTP path starting with / (no quotes, $, \\ or !)")
    header = _formatted(c, c.text(data, "auth_header", "execution", max_len=100),
                        "execution.auth_header", _HEADER_NAME, "a header name such as xi-api-key")
    headers = [
        line for i, line in enumerate(c.strings(data, "headers", "execution"))
        if _formatted(c, line, f"execution.headers[{i}]", _HEADER_LINE,
                      "a header line \"Name: value\"") is not None
    ]
    if protocol is None:
        return None
    return Execution(protocol, auth, endpoint, command, install, method=method, path=path,
                     auth_header=header, headers=headers)


def _formatted(c: _Checker, value: str | None, where: str, pattern: re.Pattern[str],
               expected: str) -> str | None:
    """``value`` when it matches ``pattern``; else an error (code ``format``) and None."""
    if value is None or pattern.match(value):
        return value
    c.error(where, "format", f"{where} is {value!r}; expected {expected}")
    return None


def _community(c: _Checker, raw: Any) -> dict[str, int | None]:
    out: dict[str, int | None] = dict.fromkeys(_COMMUNITY)
    data = c.obj(raw, "community", required=False)
    if data is None:
        return out
    _unknown_keys(c, data, "community", "community")
    for key in _COMMUNITY:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
            c.error(f"community.{key}", "type", f"community.{key} must be a count (integer >= 0)")
        else:
            out[key] = value
    return out


def validate_manifest(data: Any) -> tuple[Manifest | None, list[Finding]]:
    """Validate parsed manifest data. Returns the typed manifest (``None`` when there is any
    error) and every finding, errors and warnings, in document order."""
    c = _Checker()
    root = c.obj(data, "$", required=True)
    if root is None:
        if data is None:
            c.findings[-1] = Finding("$", "not-an-object", "the manifest is empty")
        else:
            c.findings[-1] = Finding("$", "not-an-object",
                                     f"a manifest must be an object, not {_kind(data)}")
        return None, c.findings
    version = root.get("unfragile_version")
    if version is None:
        c.error("unfragile_version", "required", "unfragile_version is required (\"1.0\")")
    elif str(version) not in ("1.0", "1"):
        c.error("unfragile_version", "enum", f"unfragile_version {version!r} is not supported; "
                "expected \"1.0\"")
    _unknown_keys(c, root, "manifest", "")
    artifact = _artifact(c, root.get("artifact"))
    capabilities: list[ManifestCapability] = []
    raw_caps = root.get("capabilities")
    if raw_caps is None:
        c.error("capabilities", "required", "capabilities is required")
    elif not isinstance(raw_caps, list):
        c.error("capabilities", "type", f"capabilities must be a list, not {_kind(raw_caps)}")
    elif not raw_caps:
        c.error("capabilities", "empty", "capabilities must list at least one capability")
    elif len(raw_caps) > MAX_CAPABILITIES:
        c.error("capabilities", "too-long", f"at most {MAX_CAPABILITIES} capabilities")
    else:
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_caps):
            cap = _capability(c, raw, f"capabilities[{i}]")
            if cap is None:
                continue
            if cap.id in seen:
                c.error(f"capabilities[{i}].id", "duplicate-id",
                        f"capability id {cap.id!r} is already used by capabilities[{seen[cap.id]}]")
                continue
            seen[cap.id] = i
            capabilities.append(cap)
        if len(raw_caps) < 3:
            c.warn("capabilities", "few-capabilities",
                   f"only {len(raw_caps)} capabilit{'y' if len(raw_caps) == 1 else 'ies'}; "
                   "3 or more describe an artifact well enough to match it")
    pricing = c.obj(root.get("pricing"), "pricing", required=False) or {}
    _unknown_keys(c, pricing, "pricing", "pricing")
    pricing_model = c.enum(pricing, "model", "pricing", PRICING_MODELS) or "unknown"
    free = pricing.get("free")
    if free is not None and not isinstance(free, bool):
        c.error("pricing.free", "type", "pricing.free must be true or false")
        free = None
    if free is None:
        free = pricing_model in ("free", "open_source")
    starting_price = c.text(pricing, "starting_price", "pricing", max_len=200)
    failure_modes = _failure_modes(c, root.get("failure_modes"))
    execution = _execution(c, root.get("execution"))
    trust = c.obj(root.get("trust"), "trust", required=False) or {}
    _unknown_keys(c, trust, "trust", "trust")
    risk = c.enum(trust, "data_access_risk", "trust", RISK_LEVELS)
    permissions = c.strings(root, "permissions", "")
    for i, scope in enumerate(permissions):
        if scope not in PERMISSION_SCOPES:
            c.warn(f"permissions[{i}]", "unknown-permission",
                   f"{scope!r} is not a known scope ({', '.join(PERMISSION_SCOPES)})")
    if root.get("compliance") is not None:
        c.obj(root.get("compliance"), "compliance", required=False)
    community = _community(c, root.get("community"))
    _check_json_numbers(c, root, "")
    if any(f.severity == "error" for f in c.findings) or artifact is None:
        return None, c.findings
    manifest = Manifest(
        artifact=artifact, capabilities=capabilities, pricing_model=pricing_model,
        pricing_free=bool(free), starting_price=starting_price, failure_modes=failure_modes,
        execution=execution, data_access_risk=risk, permissions=permissions,
        community=community, raw=root,
    )
    return manifest, c.findings


def _check_json_numbers(c: _Checker, value: Any, path: str, depth: int = 0) -> None:
    """Non-finite numbers and over-deep nesting cannot be canonicalised or stored."""
    if depth > 32:
        c.error(path or "$", "type", "the manifest is nested too deeply")
        return
    if isinstance(value, float) and not math.isfinite(value):
        c.error(path or "$", "type", f"{path} is not a finite number")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        c.error(path or "$", "type", f"{path} is an integer too large for JSON")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_json_numbers(c, v, f"{path}.{k}" if path else str(k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json_numbers(c, v, f"{path}[{i}]", depth + 1)
