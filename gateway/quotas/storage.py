"""`LocalStorage`: the `limits` library's in-memory storage, bounded and without timers.

The library's own asyncio memory storage expires keys by walking every key in a task it
schedules on each hit; on a gateway with a window per principal that is work per request
that grows with the number of callers. This one keeps the library's sliding-window logic
(inherited) over an LRU of at most `size` counters: an expired counter is dropped when read,
the least recently used one when the storage is full (its caller then starts afresh, which
errs towards allowing). Single event loop: no locks needed, nothing awaits in between.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from limits.aio.storage import MemoryStorage


class LocalStorage(MemoryStorage):
    STORAGE_SCHEME = ["async+gateway-local"]

    def __init__(self, size: int = 100_000) -> None:
        super().__init__()
        self._size = max(1, size)
        #: key -> (count, expires at, epoch seconds)
        self._counts: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def _live(self, key: str, now: float) -> tuple[int, float]:
        found = self._counts.get(key)
        if found is None:
            return 0, 0.0
        if found[1] <= now:
            del self._counts[key]
            return 0, 0.0
        return found

    def _put(self, key: str, count: int, expires: float) -> None:
        counts = self._counts
        counts[key] = (count, expires)
        counts.move_to_end(key)
        if len(counts) > self._size:
            counts.popitem(last=False)

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        count, expires = self._live(key, now)
        self._put(key, count + amount, expires if count else now + expiry)
        return count + amount

    async def decr(self, key: str, amount: int = 1) -> int:
        count, expires = self._live(key, time.time())
        if count:
            self._put(key, max(0, count - amount), expires)
        return max(0, count - amount)

    async def get(self, key: str) -> int:
        return self._live(key, time.time())[0]

    async def get_expiry(self, key: str) -> float:
        now = time.time()
        return self._live(key, now)[1] or now

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    async def reset(self) -> int | None:
        cleared = len(self._counts)
        self._counts.clear()
        return cleared

    async def check(self) -> bool:
        return True
