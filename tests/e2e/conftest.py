"""The e2e suite: a real capgraph server (demo artifacts, the two seeds, and a second version of
one artifact) as a subprocess, and Debian's Chromium driven by Playwright.

Browser tests need /usr/bin/chromium, which ``make test`` installs when it is missing (``make
browser``, as ``.ci/run`` does); without it they fail rather than skip. Every
wait is bounded; a failing browser test leaves a screenshot in tests/e2e/screenshots/.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DEMO, SEEDS, Server, run_cli, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 10_000
REVISED = "aider"  # the artifact that gets a second version, for the history section


@dataclass(frozen=True)
class SiteData:
    """A prepared data directory and a pristine copy of it for tests that damage theirs."""

    data_dir: Path
    pristine: Path


def _revise_aider(folder: Path) -> Path:
    """Aider's demo manifest with one capability changed and one added: version 2."""
    manifest: dict[str, Any] = yaml.safe_load((DEMO / "aider.yml").read_text())
    caps = manifest["capabilities"]
    caps[0]["conditions"]["limitations"].append("binary files cannot be edited")
    caps.append({
        "id": "voice-coding",
        "name": "voice-to-code requests",
        "description": (
            "Records speech from the microphone, sends it to a speech-to-text model, and "
            "pastes the transcript into the chat as the next request, so a change can be "
            "described aloud while aider edits the files and commits them as usual."
        ),
        "intents_served": ["describe a code change by voice", "dictate a refactoring request"],
        "conditions": {"bestFor": ["hands-free coding sessions"],
                       "limitations": ["needs a working microphone"],
                       "requires": ["an audio input device"]},
        "categories": ["code-generation-editing"],
        "input_types": ["speech audio"],
        "output_types": ["edited files"],
    })
    path = folder / "aider-v2.yml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def site_data(tmp_path_factory: pytest.TempPathFactory) -> SiteData:
    root = tmp_path_factory.mktemp("web")
    data_dir = root / "data"
    run_cli(data_dir, "demo")
    run_cli(data_dir, "import", *map(str, sorted(SEEDS.glob("*.passport.json"))))
    run_cli(data_dir, "publish", str(_revise_aider(root)))
    pristine = root / "pristine"
    shutil.copytree(data_dir, pristine)
    return SiteData(data_dir, pristine)


@dataclass
class ServerLog:
    """A server's stderr, drained on a thread (a full pipe would stall the server)."""

    lines: list[bytes] = field(default_factory=list)

    @property
    def text(self) -> str:
        return b"".join(self.lines).decode("utf-8", "replace")


@contextmanager
def serving(data_dir: Path) -> Iterator[tuple[Server, ServerLog]]:
    """A real server on ``data_dir``; stopped, and its stderr pipe closed, on exit."""
    server = start_server(data_dir)
    log = ServerLog()
    stream = server.process.stderr
    assert stream is not None
    drain = threading.Thread(target=lambda: log.lines.extend(iter(stream.readline, b"")),
                             daemon=True)
    drain.start()
    try:
        yield server, log
    finally:
        stop_server(server)
        drain.join(timeout=15)
        stream.close()


@pytest.fixture(scope="session")
def served(site_data: SiteData) -> Iterator[tuple[Server, ServerLog]]:
    with serving(site_data.data_dir) as running:
        yield running


@pytest.fixture(scope="session")
def site(served: tuple[Server, ServerLog]) -> Server:
    """The server every page test reads from (never written to by the tests)."""
    return served[0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      timeout=30_000)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page (1280 x 900); screenshotted when its test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    if request.node.stash.get(_FAILED, False):
        SCREENSHOTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot of the page under tests/e2e/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
