"""`make test` runs the browser tests and the static path's nginx test on a fresh machine: it
installs Chromium and nginx first when they are missing (README.md promises python3, make and
the package index are enough)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(("variable", "package"), [("CHROMIUM", "chromium"),
                                                    ("NGINX", "nginx-light")])
def test_make_test_installs_what_the_suite_runs_before_running_it_when_missing(
        variable: str, package: str) -> None:
    dry = subprocess.run(["make", "-n", "test", f"{variable}=/nonexistent/{package}"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    install = dry.find(f"apt-get install -y -qq {package}")
    suite = dry.find(".venv/bin/pytest")
    assert 0 <= install < suite, dry
    assert f'if [ ! -x "/nonexistent/{package}" ]' in dry
    assert f"apt-get install -y -qq {package}" in (ROOT / ".ci" / "run").read_text()


def test_ci_script_is_valid_bash_and_ends_by_running_make_ci() -> None:
    """`.ci/run` is what CI runs on a fresh clone: a syntax slip there stops everything."""
    script = ROOT / ".ci" / "run"
    subprocess.run(["bash", "-n", str(script)], check=True, capture_output=True, timeout=30)
    lines = [line for line in script.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines[-1].strip() == "make ci"
