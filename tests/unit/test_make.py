"""`make test` runs the browser tests on a fresh machine: it installs Chromium first when it is
missing (README.md promises python3, make and the package index are enough)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_make_test_installs_chromium_before_running_the_suite_when_it_is_missing() -> None:
    dry = subprocess.run(["make", "-n", "test", "CHROMIUM=/nonexistent/chromium"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    install = dry.find("apt-get install -y -qq chromium")
    suite = dry.find(".venv/bin/pytest")
    assert 0 <= install < suite, dry
    assert 'if [ ! -x "/nonexistent/chromium" ]' in dry


def test_make_test_installs_nginx_before_running_the_suite_when_it_is_missing() -> None:
    dry = subprocess.run(["make", "-n", "test", "NGINX=/nonexistent/nginx"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    install = dry.find("apt-get install -y -qq nginx-light")
    suite = dry.find(".venv/bin/pytest")
    assert 0 <= install < suite, dry
    assert 'if [ ! -x "/nonexistent/nginx" ]' in dry
    assert "nginx-light" in (ROOT / ".ci" / "run").read_text()
