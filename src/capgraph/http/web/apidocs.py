"""The API reference page, read from the app's own OpenAPI document (no Swagger UI: it loads
scripts from a CDN)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Endpoint", "Example", "Parameter", "Section", "api_sections"]

_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # query | path | header
    required: bool
    kind: str
    description: str


@dataclass(frozen=True)
class Example:
    """A documented example body: its media type, what it shows, and the text to show."""

    media: str
    summary: str
    text: str


@dataclass(frozen=True)
class Answer:
    """A documented success answer: status, description and its example body (or "")."""

    status: str
    description: str
    example: str


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    parameters: list[Parameter]
    body: list[str]  # accepted request content types
    anchor: str
    examples: list[Example] = field(default_factory=list)  # request bodies
    answers: list[Answer] = field(default_factory=list)  # success answers with an example


@dataclass(frozen=True)
class Section:
    tag: str
    endpoints: list[Endpoint]


def _kind(schema: Mapping[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_kind(s) for s in schema["anyOf"] if s.get("type") != "null")
    kind = str(schema.get("type", "any"))
    bounds = [f"{label} {schema[key]}" for key, label in
              (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"),
               ("maxLength", "length ≤")) if key in schema]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def _examples(op: Mapping[str, Any]) -> list[Example]:
    out = []
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        for example in content.get("examples", {}).values():
            out.append(Example(media, example.get("summary", ""), _text(example["value"])))
    return out


def _answers(op: Mapping[str, Any]) -> list[Answer]:
    out = []
    for status, answer in op.get("responses", {}).items():
        for content in answer.get("content", {}).values():
            if status.startswith("2") and "example" in content:
                out.append(Answer(status, answer.get("description", ""),
                                  _text(content["example"])))
    return sorted(out, key=lambda a: a.status)


def api_sections(openapi: Mapping[str, Any]) -> list[Section]:
    """Endpoints grouped by their first tag, in the order the document lists them."""
    sections: dict[str, list[Endpoint]] = {}
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                Parameter(
                    name=p["name"], where=p.get("in", "query"), required=bool(p.get("required")),
                    kind=_kind(p.get("schema", {})),
                    description=p.get("description") or p.get("schema", {}).get("description", ""),
                )
                for p in op.get("parameters", [])
            ]
            body = list(op.get("requestBody", {}).get("content", {}))
            summary = op.get("summary") or op.get("operationId", "")
            anchor = f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")
            tag = (op.get("tags") or ["other"])[0]
            sections.setdefault(tag, []).append(Endpoint(
                method=method.upper(), path=path, summary=summary, parameters=params, body=body,
                anchor=anchor.strip("-"), examples=_examples(op), answers=_answers(op),
            ))
    return [Section(tag, eps) for tag, eps in sections.items()]
