"""`RedisCache`: the layer of `gateway.cache.Cache` shared by replicas, on Redis.

One per kind of value, laid out by its `Shape` (`gateway.replicas.verdicts`,
`gateway.replicas.permissions`): an entry is `<entries><member>` with PX = its time left;
every index it is listed under is a Redis set of members, kept GATEWAY_CACHE_MAX_TTL + 1 s
past its last write; evicting an index deletes every entry it lists, and the set.

Never raises: a Redis failure goes through the `Guard` (`gateway.replicas.redis`), reads as
a miss, and the replica carries on with its own cache and Ory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import redis.asyncio as aioredis

from gateway.cache import Index
from gateway.replicas.redis import Guard

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Shape(Generic[K, V]):
    """How one kind of cached value is kept in Redis."""

    #: what log lines call it ("" for decisions, "permission " for Keto answers)
    label: str
    #: prefix of the entries' keys
    entries: str
    #: an entry's key after the prefix, also its member in index sets
    member: Callable[[K], str]
    #: `Index.kind` -> the name of that index's set, from (tenant, value)
    indexes: Mapping[str, Callable[[str, str], str]]
    #: (value, expires) -> bytes, and back (None for anything not exactly what `dump` writes)
    dump: Callable[[V, float], bytes]
    load: Callable[[bytes], tuple[V, float] | None]

    def index(self, index: Index) -> str | None:
        name = self.indexes.get(index.kind)
        return None if name is None else name(index.tenant, index.value)


class RedisCache(Generic[K, V]):
    """`gateway.cache.Shared` on Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        shape: Shape[K, V],
        max_ttl: float,
        guard: Guard,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.shape = shape
        self.max_ttl = max_ttl
        self.guard = guard
        self.clock = clock
        self.hits = 0
        self.misses = 0

    def counts(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "errors": self.guard.errors}

    async def get(self, key: K) -> tuple[V, float] | None:
        if not self.guard.open:
            return None
        try:
            raw = await self.client.get(self.shape.entries + self.shape.member(key))
        except Exception as exc:  # Redis must never fail a request
            self.guard.failed(f"{self.shape.label}get", exc)
            return None
        self.guard.ok()
        stored = self.shape.load(raw) if isinstance(raw, bytes) else None
        if stored is None:
            self.misses += 1
        else:
            self.hits += 1
        return stored

    async def set(self, key: K, value: V, expires: float, indexes: Collection[Index]) -> None:
        ttl_ms = int((expires - self.clock()) * 1000)
        if ttl_ms <= 0 or not self.guard.open:
            return
        member = self.shape.member(key)
        keep = math.ceil(self.max_ttl) + 1
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self.shape.entries + member, self.shape.dump(value, expires), px=ttl_ms)
            for index in indexes:
                name = self.shape.index(index)
                if name is not None:
                    pipe.sadd(name, member)
                    pipe.expire(name, keep)
            await pipe.execute()
        except Exception as exc:
            self.guard.failed(f"{self.shape.label}set", exc)
            return
        self.guard.ok()

    async def evict(self, index: Index) -> int:
        """Delete every entry `index` lists, and the index."""
        name = self.shape.index(index)
        if name is None:
            return 0
        try:
            members = await self.client.smembers(name)
            keys = [self.shape.entries + (m.decode() if isinstance(m, bytes) else str(m)) for m in members]
            deleted = int(await self.client.delete(*keys, name))
        except Exception as exc:
            self.guard.failed(f"{self.shape.label}evict", exc)
            return 0
        self.guard.ok()
        return deleted

    async def evict_key(self, key: K) -> int:
        try:
            deleted = int(await self.client.delete(self.shape.entries + self.shape.member(key)))
        except Exception as exc:
            self.guard.failed(f"{self.shape.label}evict", exc)
            return 0
        self.guard.ok()
        return deleted
