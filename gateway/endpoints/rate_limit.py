"""Token-bucket rate limiting per key (in memory; bounded), optionally shared by replicas.

With a `SharedCounter` (Redis, see gateway.replicas.redis) every allowed hit is also counted in a
fixed window shared by all replicas, in the background; once the shared count reaches the
rate, the key is refused locally until that window ends. `hit` stays synchronous, so the
shared limit may be overshot by at most one request per replica per window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from cachetools import LRUCache


class SharedCounter(Protocol):
    def count(self, key: str, period: float, then: Callable[[int, float], None]) -> None:
        """Count one hit of `key` in the current window; later call `then(total, seconds_left)`."""


class RateLimiter:
    """`rate` requests per `period` seconds per key, with bursts up to `rate`."""

    def __init__(
        self,
        rate: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedCounter | None = None,
    ) -> None:
        self.capacity = float(rate)
        self.period = period
        self.refill = rate / period
        self.clock = clock
        self.shared = shared
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize=100_000)
        self._blocked: LRUCache[str, float] = LRUCache(maxsize=100_000)

    def hit(self, key: str) -> int:
        """0 when allowed, else the whole seconds to wait (for Retry-After)."""
        now = self.clock()
        until = self._blocked.get(key)
        if until is not None:
            if until > now:
                return max(1, math.ceil(until - now))
            del self._blocked[key]
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if self.shared is not None:
                self.shared.count(key, self.period, lambda total, left: self._counted(key, total, left))
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.refill))

    def _counted(self, key: str, total: int, seconds_left: float) -> None:
        if total >= self.capacity and seconds_left > 0:
            self._blocked[key] = self.clock() + seconds_left
