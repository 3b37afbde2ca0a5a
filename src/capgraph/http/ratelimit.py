"""Per-client rate limits on every endpoint: a token bucket per client and process.

A client is its API key when the request carries a valid one (``rate_limit_key`` requests a
minute), else its address (``rate_limit_anonymous``): the TCP peer's, or the forwarded one
when the peer is a trusted proxy (``client_address`` in http/clients.py). With N server
processes each process allows 1/N of the limit: the kernel spreads connections over the
processes, so the whole service allows about the configured rate. Over the limit: 429
problem+json with Retry-After. Addresses are only held in memory and never stored: a bucket
idle for a minute is full again, so it is dropped at the next request (buckets are kept in
order of last use).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers

from capgraph.errors import RateLimited, Unauthorized
from capgraph.http.clients import client_address, trusted_set
from capgraph.http.deps import api_secret
from capgraph.http.problems import send_problem, wants_html
from capgraph.registry import Registry

__all__ = ["RateLimit"]

Scope = dict[str, Any]
IDLE_SECONDS = 60.0  # a bucket refills completely in a minute: forgetting it changes nothing


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.updated = now


class RateLimit:
    def __init__(self, app: Any, *, registry: Registry, anonymous: int, keyed: int,
                 processes: int = 1, trusted_proxies: Iterable[str] = (),
                 clock: Any = time.monotonic) -> None:
        self.app = app
        self.registry = registry
        self.anonymous = max(1.0, anonymous / processes)
        self.keyed = max(1.0, keyed / processes)
        self.trusted = trusted_set(trusted_proxies)
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first
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
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = cached
        return "key:" + digest[:16] if cached[0] else None

    def _client(self, scope: Scope, now: float) -> tuple[str, float]:
        secret = api_secret(Headers(scope=scope))
        if secret:
            key = self._valid_key(secret, now)
            if key is not None:
                return key, self.keyed
        return "ip:" + client_address(scope, self.trusted), self.anonymous

    def _take(self, client: str, capacity: float, now: float) -> float:
        """0 when the request may go, else seconds until it may."""
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
                bucket = self._buckets[client] = _Bucket(capacity, now)
            rate = capacity / 60.0
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / rate

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        now = self._clock()
        client, capacity = self._client(scope, now)
        wait = self._take(client, capacity, now)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        error = RateLimited(f"rate limit of {capacity:.0f} requests a minute reached; "
                            f"retry in {retry} s", retry_after=retry)
        await send_problem(send, error, instance=scope.get("path"), page=wants_html(scope))
