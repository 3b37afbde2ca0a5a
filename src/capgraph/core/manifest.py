"""The ``unfragile.yml`` manifest: parsing (YAML or JSON) and the typed model validation yields.

Parsing never executes anything (YAML safe loading, no aliases) and reports the parser's
position on failure. Its work is bounded: at most ``MAX_NODES`` values nested at most
``MAX_DEPTH`` deep, counted by a pre-scan with libyaml's event parser that stops at the
bound, before any Python object is built (a 200,000-item list is refused after ~10,000
events). ``validation.py`` turns the parsed tree into a ``Manifest`` or findings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from capgraph.errors import ParseError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "Execution",
    "FailureMode",
    "Manifest",
    "ManifestArtifact",
    "ManifestCapability",
    "parse_manifest_text",
]

# A manifest has a few hundred values (the seeds' passports: <800, 6 deep); these bounds keep
# the worst accepted input to a few milliseconds of CPU (BENCHMARKS.md, hostile inputs).
MAX_NODES = 10_000
MAX_DEPTH = 32
# libyaml's parser when PyYAML was built with it (the wheels are), else the pure-Python one.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _NoAliasLoader(_FAST_LOADER):  # type: ignore[misc]
    """Safe YAML without anchors or aliases (refused by ``_prescan``: manifests need neither,
    and aliases are how "billion laughs" documents blow up memory)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # YAML forbids duplicate keys but PyYAML silently keeps the last one: "slug: a" then
        # "slug: b" would publish b. Refuse them, pointing at the second occurrence.
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if isinstance(key_node, yaml.ScalarNode):
                if (key_node.tag, key_node.value) in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add((key_node.tag, key_node.value))
        return super().construct_mapping(node, deep=deep)


def _too_much(problem: str, mark: Any) -> yaml.MarkedYAMLError:
    return yaml.composer.ComposerError(None, None, problem, mark)


def _prescan(text: str) -> None:
    """Walk the YAML event stream (C speed, nothing built) and stop at the first alias or
    past the bounds. Syntax errors are left to the loader, which reports them the same way."""
    nodes = depth = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise _too_much("aliases are not allowed in manifests", event.start_mark)
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    raise _too_much(f"more than {MAX_NODES} values: manifests are far smaller",
                                    event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_much(f"nested more than {MAX_DEPTH} levels deep",
                                    event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.composer.ComposerError:
        raise
    except yaml.YAMLError:
        return


def _bounded(data: Any) -> Any:
    """The same bounds for parsed JSON (whose parser is C and linear, so counting after is
    cheap): ``MAX_NODES`` values, ``MAX_DEPTH`` levels."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ParseError(f"more than {MAX_NODES} values: manifests are far smaller")
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise ParseError(f"nested more than {MAX_DEPTH} levels deep")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
    return data


def _refuse_non_json(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # !!binary, !!set, !!omap and !!pairs build bytes, sets and tuples: not JSON data, so they
    # could neither be canonicalised nor signed (a publish would fail after validating clean).
    raise yaml.constructor.ConstructorError(
        None, None, f"the YAML tag {node.tag} is not allowed in manifests", node.start_mark
    )


for _tag in ("binary", "set", "omap", "pairs"):
    _NoAliasLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_non_json)


def _plain(value: Any) -> Any:
    """Dates become ISO strings so the tree is plain JSON data."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose member names are unique (I-JSON, which RFC 8785 signing assumes)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        names = [name for name, _ in pairs]
        raise ValueError(f"duplicate key {next(n for n in names if names.count(n) > 1)!r}")
    return obj


def _utf8_only(data: Any) -> Any:
    """Refuse strings UTF-8 cannot carry (lone surrogates from ``\\ud800`` escapes): they can
    be neither written back in an answer nor canonicalised for signing."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ParseError(
                    "a string holds a lone surrogate escape (such as \\ud800): not valid Unicode"
                ) from exc
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return data


def parse_manifest_text(text: str | bytes, *, hint: str | None = None) -> Any:
    """Parse manifest text into plain data. JSON when the hint says so or the text starts with
    ``{``, YAML otherwise. Raises ``ParseError`` with a 1-based line and column."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"input is not UTF-8 (byte {exc.start})") from exc
    as_json = hint == "json" or (hint is None and text.lstrip().startswith("{"))
    try:
        if as_json:
            return _utf8_only(_bounded(json.loads(text, object_pairs_hook=_unique_keys)))
        _prescan(text)
        return _utf8_only(_plain(yaml.load(text, Loader=_NoAliasLoader)))
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise ParseError(message, line=line, column=column) from exc
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ParseError("input is nested too deeply") from exc
    except ValueError as exc:  # e.g. integers too long to parse
        raise ParseError(f"invalid input: {exc}") from exc


@dataclass(frozen=True)
class ManifestCapability:
    id: str
    name: str
    description: str
    intents: list[str]
    best_for: list[str]
    limitations: list[str]
    requires: list[str]
    unique_aspect: str | None
    categories: list[str]
    input_types: list[str]
    output_types: list[str]


@dataclass(frozen=True)
class ManifestArtifact:
    name: str
    slug: str
    type: str
    maintainer: str
    repository: str | None
    homepage: str | None
    license: str | None
    description: str | None
    tags: list[str]
    categories: list[str]
    status: str
    updated_at: str | None
    integrations: list[str]


@dataclass(frozen=True)
class FailureMode:
    mode: str
    frequency: str | None
    mitigation: str | None


@dataclass(frozen=True)
class Execution:
    protocol: str
    auth_method: str | None
    endpoint: str | None
    command: str | None
    install: str | None
    method: str | None = None
    path: str | None = None
    auth_header: str | None = None
    headers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. Built only by ``validation.validate_manifest``."""

    artifact: ManifestArtifact
    capabilities: list[ManifestCapability]
    pricing_model: str
    pricing_free: bool
    starting_price: str | None
    failure_modes: list[FailureMode]
    execution: Execution | None
    data_access_risk: str | None
    permissions: list[str]
    community: dict[str, int | None]
    raw: dict[str, Any] = field(repr=False)

    @property
    def url(self) -> str:
        """The artifact's canonical URL: its homepage, else its repository."""
        return self.artifact.homepage or self.artifact.repository or ""
