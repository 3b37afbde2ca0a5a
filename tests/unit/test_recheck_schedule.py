"""The server's recheck schedule runs rechecks on its interval and stops with the app."""

from __future__ import annotations

import threading

from capgraph.http.recheck import Rechecker


def test_rechecks_run_on_the_interval_survive_a_failure_and_stop() -> None:
    done = threading.Event()
    calls: list[int] = []

    def recheck() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first round fails")
        if len(calls) >= 3:
            done.set()

    rechecker = Rechecker(recheck, interval_seconds=0.01)
    rechecker.start()
    assert done.wait(timeout=10)
    rechecker.stop()
    after = len(calls)
    assert after >= 3 and rechecker.runs >= 2
    assert not rechecker._thread.is_alive()
    assert len(calls) == after  # nothing runs once stopped
