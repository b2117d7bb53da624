"""Token-bucket rate limiting per key (in memory; bounded)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from cachetools import LRUCache


class RateLimiter:
    """`rate` requests per `period` seconds per key, with bursts up to `rate`."""

    def __init__(self, rate: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(rate)
        self.refill = rate / period
        self.clock = clock
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize=100_000)

    def hit(self, key: str) -> int:
        """0 when allowed, else the whole seconds to wait (for Retry-After)."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.refill))
