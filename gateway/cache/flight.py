"""Single flight: concurrent callers for one key share one load.

The load runs as its own task, so a caller that goes away (a client that disconnects)
does not cancel it for the others; each caller awaits it through `asyncio.shield`. A
failure reaches every caller of that flight and is forgotten with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """The loads in flight, by key."""

    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def join(self, key: K, start: Callable[[], Awaitable[V]]) -> tuple[Awaitable[V], bool]:
        """The flight of `key` to await (`start`ed when none is in flight), and whether one was."""
        task = self._flights.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.ensure_future(start())
            self._flights[key] = task
            task.add_done_callback(lambda done: self._landed(key, done))
        return asyncio.shield(task), joined

    async def run(self, key: K, start: Callable[[], Awaitable[V]]) -> V:
        return await self.join(key, start)[0]

    def _landed(self, key: K, task: asyncio.Future[V]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a load nobody awaited any more is not logged as lost
