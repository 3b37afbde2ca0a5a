"""Per-client rate limits on every endpoint: a sliding one-minute window per client and process.

A client is its API key when the request carries a valid one (``rate_limit_key`` requests a
minute), else its address (``rate_limit_anonymous``): the TCP peer's, or the forwarded one
when the peer is a trusted proxy (``client_address`` in http/clients.py). With N server
processes each process allows 1/N of the limit: the kernel spreads connections over the
processes, so one host allows about the configured rate. With Redis (``redis_url``) every host
and process takes from one shared bucket per client, so all of them together allow the
configured rate; when Redis is away, each process counts its share here, as without it.
Over the limit: 429 problem+json with Retry-After (when the oldest request of the window leaves it).

"N a minute" holds for every minute, the first one included: a client may send its N at once
but never more than N within any 60 seconds. (A token bucket of N refilling at N a minute let a
fresh client send N at once and N more over the next minute: 2N in its first minute.) Each
client's window is the times of its last N allowed requests in a ring; a request goes when the
oldest of them is a minute old. Addresses are only held in memory and never stored: a window
idle for a minute is empty, so it is dropped at the next request (kept in order of last use).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers

from capgraph.errors import RateLimited, StorageError, Unauthorized
from capgraph.http.clients import client_address, trusted_set
from capgraph.http.deps import api_secret
from capgraph.http.problems import send_problem, wants_html
from capgraph.ports import SharedLimits
from capgraph.registry import Registry

__all__ = ["RateLimit"]

Scope = dict[str, Any]
WINDOW_SECONDS = 60.0
IDLE_SECONDS = WINDOW_SECONDS  # a window idle this long is empty: forgetting it changes nothing


class _Window:
    """The times of a client's last ``size`` allowed requests (a ring; -inf: never)."""

    __slots__ = ("next", "times", "updated")

    def __init__(self, size: int, now: float) -> None:
        self.times = array("d", [-math.inf]) * size
        self.next = 0  # the oldest time, the one the next allowed request replaces
        self.updated = now


class RateLimit:
    def __init__(self, app: Any, *, registry: Registry, anonymous: int, keyed: int,
                 processes: int = 1, trusted_proxies: Iterable[str] = (),
                 clock: Any = time.monotonic, shared: SharedLimits | None = None) -> None:
        self.app = app
        self.registry = registry
        self.shared = shared
        self.full = {"anonymous": anonymous, "key": keyed}
        self.anonymous = max(1, anonymous // processes)
        self.keyed = max(1, keyed // processes)
        self.trusted = trusted_set(trusted_proxies)
        self._clock = clock
        self._buckets: OrderedDict[str, _Window] = OrderedDict()  # least recently used first
        self._keys: dict[str, tuple[bool, float]] = {}  # secret hash -> (valid, checked at)
        self._lock = threading.Lock()

    def _valid_key(self, secret: str, now: float) -> str | None:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        cached = self._keys.get(digest)
        if cached is None or now - cached[1] > 60:
            try:
                self.registry.authenticate(secret)
                cached = (True, now)
            except Unauthorized:
                cached = (False, now)
            except StorageError:
                # the database is away: count the request as anonymous, remember nothing;
                # the route answers 503 if it needs the database itself
                return None
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = cached
        return "key:" + digest[:16] if cached[0] else None

    def _client(self, scope: Scope, now: float) -> tuple[str, int]:
        secret = api_secret(Headers(scope=scope))
        if secret:
            key = self._valid_key(secret, now)
            if key is not None:
                return key, self.keyed
        return "ip:" + client_address(scope, self.trusted), self.anonymous

    def _take(self, client: str, capacity: int, now: float) -> float:
        """0 when the request may go (and it is counted), else seconds until it may."""
        with self._lock:
            while self._buckets:
                oldest = next(iter(self._buckets.values()))
                if now - oldest.updated <= IDLE_SECONDS:
                    break
                self._buckets.popitem(last=False)
            bucket = self._buckets.get(client)
            if bucket is not None:
                self._buckets.move_to_end(client)
            else:
                if len(self._buckets) > 100_000:
                    self._buckets.clear()
                bucket = self._buckets[client] = _Window(capacity, now)
            bucket.updated = now
            first = bucket.times[bucket.next]
            if now - first >= WINDOW_SECONDS:
                bucket.times[bucket.next] = now
                bucket.next = (bucket.next + 1) % len(bucket.times)
                return 0.0
            return first + WINDOW_SECONDS - now

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        now = self._clock()
        client, capacity = self._client(scope, now)
        wait: float | None = None
        if self.shared is not None:  # every host's requests in one bucket: the whole limit
            capacity = self.full["key" if client.startswith("key:") else "anonymous"]
            wait = await self.shared.take(client, capacity)
            if wait is None:  # Redis is away: this process's share, counted here
                capacity = self.keyed if client.startswith("key:") else self.anonymous
        if wait is None:
            wait = self._take(client, capacity, now)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        error = RateLimited(f"rate limit of {capacity} requests a minute reached; "
                            f"retry in {retry} s", retry_after=retry)
        await send_problem(send, error, instance=scope.get("path"), page=wants_html(scope))
