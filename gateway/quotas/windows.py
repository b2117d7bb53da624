"""`Windows`: counts hits in sliding windows, with the `limits` library's sliding-window-counter
strategy, per process or shared by replicas.

Without Redis the counters live in this process (`LocalStorage`): each replica counts on its
own. With GATEWAY_REDIS_URL they live in Redis (the library's Redis storage, on the gateway's
own connection pool, keys under `gateway:rl`), so every replica counts the same window. While
Redis is down (`gateway.replicas.redis.Guard`: one short timeout, then left alone for a
second) the windows fall back to this process's: a limit then holds per replica - at most
the limit times the replicas in all - rather than failing open (no limit) or closed (every
limited request refused because a cache is down).

Keys are sha256 of what identifies a window (a route and a principal, an address): nothing in
clear, in memory or in Redis.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from gateway.quotas.storage import LocalStorage
from gateway.replicas.redis import Guard

T = TypeVar("T")
PREFIX = "gateway:rl"


def quota(requests: int, seconds: int) -> RateLimitItem:
    """`requests` per `seconds`."""
    return RateLimitItemPerSecond(requests, seconds, namespace="q")


def window_key(*parts: str) -> str:
    """What identifies one window, hashed."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]


class Windows:
    def __init__(self, local: LocalStorage, redis: aioredis.Redis | None = None, guard: Guard | None = None) -> None:
        self.local = local
        self._local = SlidingWindowCounterRateLimiter(local)
        self._guard = guard or Guard()
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if redis is not None:
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=PREFIX,
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # the library types its options loosely
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, item: RateLimitItem, key: str) -> bool:
        """Count one hit in `key`'s window; False (and nothing counted) when it is full."""
        return await self._ask(lambda limiter: limiter.hit(item, key))

    async def test(self, item: RateLimitItem, key: str, cost: int = 1) -> bool:
        """Whether `cost` more hits would be allowed (nothing counted)."""
        return await self._ask(lambda limiter: limiter.test(item, key, cost=cost))

    async def retry_after(self, item: RateLimitItem, key: str) -> int:
        """Whole seconds (at least 1) until `key`'s window has room again."""
        return max(1, (await self.left(item, key))[1])

    async def left(self, item: RateLimitItem, key: str) -> tuple[int, int]:
        """The hits `key`'s window has room for, and whole seconds until it has more."""
        stats = await self._ask(lambda limiter: limiter.get_window_stats(item, key))
        return stats.remaining, max(0, math.ceil(stats.reset_time - time.time()))

    async def _ask(self, call: Callable[[SlidingWindowCounterRateLimiter], Awaitable[T]]) -> T:
        shared, guard = self._shared, self._guard
        if shared is not None and guard.open:
            try:
                answer = await call(shared)
            except Exception as exc:  # Redis down or slow: this process's windows instead
                guard.failed("rate_limit", exc)
            else:
                guard.ok()
                return answer
        return await call(self._local)
