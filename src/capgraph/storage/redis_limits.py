"""Rate-limit windows in Redis, shared by every host: one Lua script per request drops a
client's requests older than a minute, and counts this one if fewer than the limit are left,
atomically, on Redis's own clock (hosts' clocks may
differ). Windows expire two minutes after their last use; a client (an address or an API
key id) is named by its HMAC under a secret every host shares (``keys/ratelimit.secret``), so
Redis never holds an address, nor a hash anyone without the key ring could link to one.

When Redis does not answer (within ``timeout``), ``take`` returns None and the caller counts
in its own process; Redis is tried again ``retry_after`` seconds later. The outage and the
recovery are logged once each.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["RedisLimits"]

log = logging.getLogger(__name__)

# KEYS[1]: the client's window (a sorted set of the times of its allowed requests in the last
# minute), KEYS[2]: a counter that makes each member unique; ARGV[1]: the limit per minute.
# A request goes when fewer than the limit went in the last 60 s: never more than the limit in
# any minute, the first included (the same rule as the in-process window, http/ratelimit.py).
# Returns the wait in seconds, as text: 0 when the request may go (and it is counted).
_TAKE = """
local limit = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60)
local wait = 0
if redis.call('ZCARD', KEYS[1]) < limit then
  local n = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], now, tostring(now) .. ':' .. n)
else
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = tonumber(oldest[2]) + 60 - now
end
redis.call('EXPIRE', KEYS[1], 120)
redis.call('EXPIRE', KEYS[2], 120)
return tostring(wait)
"""


class RedisLimits:
    def __init__(self, url: str, *, secret: bytes, prefix: str = "capgraph",
                 timeout: float = 0.25, retry_after: float = 5.0) -> None:
        self._secret = secret
        self._redis = aioredis.Redis.from_url(url, socket_timeout=timeout,
                                              socket_connect_timeout=timeout)
        self._script = self._redis.register_script(_TAKE)
        self._prefix = f"{prefix}:ratelimit:"
        self._retry_after = retry_after
        self._down_until = 0.0
        self._down = False

    async def take(self, client: str, capacity: float) -> float | None:
        now = time.monotonic()
        if now < self._down_until:
            return None
        key = self._prefix + hmac.new(self._secret, client.encode(),
                                      hashlib.sha256).hexdigest()[:32]
        try:
            answer = await self._script(keys=[key, key + ":n"], args=[capacity])
        except (RedisError, OSError) as exc:
            self._down_until = now + self._retry_after
            if not self._down:
                log.warning("Redis is unavailable (%s): rate limits are counted per process "
                            "until it is back", exc)
            self._down = True
            return None
        if self._down:
            log.warning("Redis is back: rate limits are shared by every host again")
            self._down = False
        return float(answer.decode() if isinstance(answer, bytes) else answer)
