"""Every setting is documented in docs/SETTINGS.md with its variable and its default, and the
document lists no setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from capgraph.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "SETTINGS.md"


def _documented() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([a-z_]+)`", cells[0]) if len(cells) >= 5 else None
        if match:
            rows[match.group(1)] = cells
    return rows


def test_every_setting_is_documented_and_nothing_else() -> None:
    assert set(_documented()) == set(Settings.model_fields)


def test_each_row_names_the_environment_variable() -> None:
    for name, cells in _documented().items():
        assert cells[1] == f"`CAPGRAPH_{name.upper()}`", (name, cells)


def test_each_documented_default_is_the_real_one() -> None:
    defaults = Settings.model_fields
    for name, cells in _documented().items():
        default = defaults[name].default
        if default is None or name == "data_dir":  # derived from others, described in words
            continue
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert cells[3] == f"`{shown}`", (name, cells[3], shown)
