"""The import rule of ARCHITECTURE.md is enforced: ``lint-imports`` (run by ``make check``)
fails on a copy of the source that breaks it, and passes on the source as it is."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, so it is the capgraph that import-linter analyses.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(tree / "src"),
                                                       "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("import-rule")
    shutil.copytree(ROOT / "src" / "capgraph", copy / "src" / "capgraph",
                    ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "static"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_source_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "violation", "contract"), [
    ("core/canonical.py", "import capgraph.http.problems", "The core is pure"),
    ("core/scoring.py", "import sqlite3", "The core is pure"),
    ("storage/memory.py", "import capgraph.search.documents", "Storage and ports"),
    ("http/api.py", "import capgraph.storage.sqlite", "Transports import no storage"),
    ("registry/reading.py", "import capgraph.http.shapes", "Layers"),
])
def test_a_deliberate_violation_fails_the_check(tree: Path, module: str, violation: str,
                                                contract: str) -> None:
    path = tree / "src" / "capgraph" / module
    original = path.read_text()
    path.write_text(original + f"\n{violation}  # deliberate violation\n")
    try:
        result = _lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert broken, result.stdout
    assert contract in result.stdout.split("Broken contracts")[-1], result.stdout
