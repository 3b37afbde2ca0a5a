"""The server's schedule of claim rechecks (``CAPGRAPH_CLAIM_RECHECK_HOURS``): a daemon thread
that looks again at every verified artifact's proof, every interval, for as long as the app
runs. Each server process runs one; a recheck is idempotent, so several do no harm."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

__all__ = ["Rechecker", "recheck_lifespan"]

log = logging.getLogger(__name__)


class Rechecker:
    def __init__(self, recheck: Callable[[], object], *, interval_seconds: float) -> None:
        self._recheck = recheck
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claim-recheck", daemon=True)
        self.runs = 0

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._recheck()
            except Exception:  # a failed round is logged; the next one tries again
                log.exception("claim recheck failed")
            self.runs += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def recheck_lifespan(recheck: Callable[[], object], hours: int,
                     also: Callable[[], AbstractAsyncContextManager[None]] | None = None
                     ) -> Callable[[Any], Any]:
    """A FastAPI lifespan running a ``Rechecker`` while the app serves (none for 0 hours),
    inside ``also()`` when given: what else must run while the app serves (the MCP endpoint)."""
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with also() if also is not None else nullcontext():
            if hours <= 0:
                yield
                return
            rechecker = Rechecker(recheck, interval_seconds=hours * 3600)
            rechecker.start()
            try:
                yield
            finally:
                rechecker.stop()

    return lifespan
