"""Rate-limit buckets in Redis, shared by every host: one Lua script per request reads,
refills and takes from a client's bucket atomically, on Redis's own clock (hosts' clocks may
differ). Buckets expire two minutes after their last use; a client (an address or an API
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

# KEYS[1]: the bucket; ARGV: capacity (tokens a minute). Returns the wait in seconds, as text.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = capacity / 60.0
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(bucket[1]) or capacity
local updated = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
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
            answer = await self._script(keys=[key], args=[capacity])
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
