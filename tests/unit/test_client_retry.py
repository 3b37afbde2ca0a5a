"""The client's retry policy: which answers are retried, after how long, and how often."""

from __future__ import annotations

import email.utils
import time

import pytest

from capgraph.client import Retry


def test_retry_after_in_seconds_wins_over_the_backoff() -> None:
    retry = Retry(attempts=4, backoff=0.5)
    assert retry.delay(429, "2", 0) == 2.0
    assert retry.delay(503, None, 0) == 0.5
    assert retry.delay(503, None, 2) == 2.0
    assert retry.delay(429, "soon", 1) == 1.0  # unreadable: the backoff


def test_retry_after_as_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    wait = Retry().delay(429, later, 0)
    assert wait is not None and 10 < wait <= 20
    assert Retry().delay(429, email.utils.formatdate(0, usegmt=True), 0) == 0.0


def test_only_429_and_503_are_retried_and_never_past_the_bounds() -> None:
    retry = Retry(attempts=3, max_wait=30)
    assert [retry.delay(s, "1", 0) for s in (200, 400, 404, 500, 502)] == [None] * 5
    assert retry.delay(429, "1", 1) == 1.0
    assert retry.delay(429, "1", 2) is None  # the third try was the last
    assert retry.delay(429, "31", 0) is None  # longer than max_wait: raised, not waited


def test_a_policy_checks_its_bounds() -> None:
    with pytest.raises(ValueError):
        Retry(attempts=0)
