"""When to try a request again: on 429 and 503, after the server's Retry-After when it gives
one (seconds or an HTTP date), else after an exponential backoff; never more than
``attempts`` tries in all and never a wait longer than ``max_wait`` (a longer Retry-After
ends the retries at once: the error is raised rather than waited out)."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

__all__ = ["Retry"]


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0
    statuses: tuple[int, ...] = (429, 503)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_wait < 0:
            raise ValueError("attempts must be >= 1, backoff and max_wait >= 0")

    def delay(self, status: int, retry_after: str | None, attempt: int) -> float | None:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0), or None
        to give up and let the answer stand."""
        if status not in self.statuses or attempt + 1 >= self.attempts:
            return None
        wait = _seconds(retry_after)
        if wait is None:
            wait = self.backoff * 2**attempt
        return wait if wait <= self.max_wait else None


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
