"""Builders shared by the unit tests: a valid manifest to mutate, and the seed passports."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEMO, SEEDS


def seed_files() -> list[Path]:
    """The two real seed passports (read at run time, never copied into the repo)."""
    paths = sorted(SEEDS.glob("*.passport.json"))
    assert len(paths) == 2, f"expected the two seed passports in {SEEDS}"
    return paths


def load_seed(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def seed_by_slug(slug: str) -> dict[str, Any]:
    for path in seed_files():
        document = load_seed(path)
        if document["passport"]["unfragile"]["artifact"]["slug"] == slug:
            return document
    raise LookupError(slug)


def demo_files() -> list[Path]:
    return sorted(p for p in DEMO.iterdir() if p.suffix in (".yml", ".yaml"))


def long_text(topic: str, length: int = 160) -> str:
    """A description of at least ``length`` characters that mentions ``topic``."""
    text = (
        f"Explains how {topic} works: the client sends a request over HTTPS, the service "
        "reads the input, runs its processing step and returns a JSON result without side "
        "effects on the caller's data."
    )
    while len(text) < length:
        text += " It keeps no state between calls."
    return text


def capability(cap_id: str, **overrides: Any) -> dict[str, Any]:
    cap: dict[str, Any] = {
        "id": cap_id,
        "name": f"capability {cap_id}",
        "description": long_text(f"capability {cap_id}"),
        "intents_served": [f"do {cap_id} for me", f"run {cap_id} on my data"],
        "conditions": {
            "bestFor": [f"teams who need {cap_id}"],
            "limitations": [f"{cap_id} is slow on large inputs"],
            "requires": [f"an API key for {cap_id}"],
        },
        "categories": ["tool-use-integration"],
        "input_types": ["plain text"],
        "output_types": ["JSON"],
    }
    cap.update(overrides)
    return cap


def manifest(**overrides: Any) -> dict[str, Any]:
    """A manifest that validates with no errors and no warnings; top-level keys overridable."""
    data: dict[str, Any] = {
        "unfragile_version": "1.0",
        "artifact": {
            "name": "Example Tool",
            "slug": "example-tool",
            "type": "api",
            "maintainer": "Example Labs",
            "repository": "https://github.com/example/example-tool",
            "homepage": "https://example.com/tool",
            "license": "MIT",
            "updated_at": "2026-09-30",
        },
        "capabilities": [capability("alpha"), capability("beta"), capability("gamma")],
        "pricing": {"model": "freemium"},
        "failure_modes": [
            {"mode": "rate limited under load", "frequency": "occasional",
             "mitigation": "retry with backoff"},
        ],
        "execution": {"protocol": "https", "auth_method": "api_key",
                      "endpoint": "https://api.example.com/v1"},
    }
    data.update(copy.deepcopy(overrides))
    return data


def written_uri(primary_category: str, name: str) -> str:
    """The ``capability://`` rule exactly as PROTOCOL.md A.2 words it, written independently of
    ``capgraph.core.compose``: category with ``-`` as ``.``, a ``.``, then the lower-cased name
    with every run of characters outside ``[a-z0-9]`` turned into one ``.``; plus capgraph's
    decision (docs/TRUST.md) to drop a separator at the very start or end of the name."""
    out: list[str] = []
    in_run = False
    for ch in name.lower():
        if ch in "abcdefghijklmnopqrstuvwxyz0123456789":
            out.append(ch)
            in_run = False
        elif not in_run:
            out.append(".")
            in_run = True
    return "capability://" + primary_category.replace("-", ".") + "." + "".join(out).strip(".")


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
