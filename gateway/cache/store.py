"""`Cache`: one kind of Ory answer, for one tenant, kept in this process (and in Redis).

What differs between the kinds is given when a cache is built: whether a value is
positive and until when it is valid (`lifetime`), and what it is listed under for each kind
of revocation handle (`listed`: its session, subject, organizations). The rest is the same
for every kind:

- Bounded: at most GATEWAY_CACHE_SIZE entries, the least recently used dropped first; an
  expired entry is dropped when read (or in LRU order if it never is).
- Positive values live min(GATEWAY_CACHE_MAX_TTL, the value's own expiry, the caller's
  `until`); negative ones GATEWAY_CACHE_NEGATIVE_TTL (same bounds). Failures raise and are
  never cached.
- A hit is a dict lookup and an expiry compare (`cached`, no await). An OrderedDict (C) and
  not a cachetools TLRUCache: the latter's hit goes through several Python-level frames,
  which would cost more than the rest of a cached request's cache work.
- A miss is single flight (`gateway.cache.flight`): concurrent callers of one key, or of one
  batch of keys, share one load, which runs as its own task.
- Eviction by `Index` (a session, a subject, an organization) or by key bumps a generation:
  a load in flight when it happened is answered but not stored, and nobody joins it after.
  Revocation is rare: a scan asks each entry whether it is listed under the value (no side
  indexes to grow with the cache), without building its other handles.
- `shared` (Redis, `gateway.replicas.cache`) is read by a flight's leader before loading
  and written after; `evict_shared` empties it the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

from gateway.cache.flight import SingleFlight
from gateway.config.settings import CacheSettings

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
V = TypeVar("V")
Clock = Callable[[], float]


class Index(NamedTuple):
    """A revocation handle in one tenant: `kind` is "session_id", "subject" or "organization"
    (the revocation forms; a credential hash is a key)."""

    kind: str
    tenant: str
    value: str


@dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    value: V
    #: absolute expiry, epoch seconds (the cache's clock)
    expires: float
    #: kept for GATEWAY_CACHE_NEGATIVE_TTL (a rejected credential, a deny): its hits are counted apart
    negative: bool


class Shared(Protocol[K_contra, V]):
    """A layer shared by replicas. Never raises: a failure reads as a miss, or as a write or an
    eviction that did not happen."""

    async def get(self, key: K_contra) -> tuple[V, float] | None: ...
    async def set(self, key: K_contra, value: V, expires: float, indexes: Collection[Index]) -> None: ...
    async def evict(self, index: Index) -> int: ...
    async def evict_key(self, key: K_contra) -> int: ...


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    joins: int = 0
    negative_hits: int = 0


class Cache(Generic[K, V]):
    """`tenant`'s values. `lifetime(value)` is (positive, the value's own expiry or None);
    `listed[kind](key, value)` the values of that kind of `Index` an entry is evicted by;
    `note` is told "join" when a caller waits for another one's load and "shared" when a load
    was answered by the shared layer (tracing). Values are never None (None is a miss)."""

    def __init__(
        self,
        settings: CacheSettings,
        clock: Clock,
        tenant: str,
        lifetime: Callable[[V], tuple[bool, float | None]],
        listed: Mapping[str, Callable[[K, V], Collection[str]]] | None = None,
        *,
        shared: Shared[K, V] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.tenant = tenant
        self._lifetime = lifetime
        self._listed = listed or {}
        self.shared = shared
        self._note = note
        self._data: OrderedDict[K, Entry[V]] = OrderedDict()
        self._size = max(1, settings.size)
        self._flights: SingleFlight[tuple[int, tuple[K, ...]], list[V]] = SingleFlight()
        #: bumped by every eviction; a load started before one is not stored
        self.generation = 0
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._data)

    def cached(self, key: K) -> V | None:
        """The stored value for `key` (counted as a hit), or None: a hit needs no await."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        stats = self.stats
        stats.hits += 1
        if entry.negative:
            stats.negative_hits += 1
        return entry.value

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]], until: float | None = None) -> V:
        """The value for `key`: stored, or loaded once for every concurrent caller and kept no
        later than `until` (epoch seconds: the caller's session or token, say)."""
        hit = self.cached(key)
        if hit is not None:
            return hit

        async def one(missing: Sequence[K]) -> Sequence[V]:
            return [await load()]

        return (await self._flight([key], one, until))[0]

    async def get_many(
        self, keys: Sequence[K], load: Callable[[Sequence[K]], Awaitable[Sequence[V]]], until: float | None = None
    ) -> list[V]:
        """Values for `keys`, in order; the missing ones loaded together (one `load`) and kept
        as one answer: all for the positive TTL when any of them is positive, else all for the
        negative TTL."""
        values = [self.cached(key) for key in keys]
        missing = [key for key, value in zip(keys, values, strict=True) if value is None]
        loaded = dict(zip(missing, await self._flight(missing, load, until), strict=True)) if missing else {}
        return [loaded[key] if value is None else value for key, value in zip(keys, values, strict=True)]

    def put(self, key: K, entry: Entry[V]) -> None:
        """Store `entry` here (the least recently used entry goes when the cache is full)."""
        self._data[key] = entry
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def indexes(self, key: K, value: V) -> list[Index]:
        """Every handle an entry is listed under (what the shared layer indexes)."""
        return [Index(kind, self.tenant, each) for kind, listed in self._listed.items() for each in listed(key, value)]

    def evict(self, index: Index) -> int:
        """Drop every entry listed under `index` here; how many."""
        self.generation += 1
        listed = self._listed.get(index.kind)
        if listed is None or index.tenant != self.tenant:
            return 0
        wanted = index.value
        doomed = [key for key, entry in self._data.items() if wanted in listed(key, entry.value)]
        for key in doomed:
            del self._data[key]
        return len(doomed)

    def evict_key(self, key: K) -> int:
        self.generation += 1
        return int(self._data.pop(key, None) is not None)

    def clear(self) -> None:
        """Forget everything (revocations may have been missed)."""
        self.generation += 1
        self._data.clear()

    async def evict_shared(self, index: Index) -> int:
        return await self.shared.evict(index) if self.shared is not None else 0

    async def evict_shared_key(self, key: K) -> int:
        return await self.shared.evict_key(key) if self.shared is not None else 0

    async def _flight(
        self, keys: list[K], load: Callable[[Sequence[K]], Awaitable[Sequence[V]]], until: float | None
    ) -> list[V]:
        generation = self.generation  # after an eviction, nobody joins an older load
        flight, joined = self._flights.join(
            (generation, tuple(keys)), lambda: self._fetch(keys, load, until, generation)
        )
        if joined:
            self.stats.joins += 1
            if self._note is not None:
                self._note("join")  # waits for another request's load
        else:
            self.stats.misses += 1
        return await flight

    async def _fetch(
        self,
        keys: list[K],
        load: Callable[[Sequence[K]], Awaitable[Sequence[V]]],
        until: float | None,
        generation: int,
    ) -> list[V]:
        found = await self._from_shared(keys) if self.shared is not None else {}
        missing = [key for key in keys if key not in found]
        fresh = dict(zip(missing, await load(missing), strict=True)) if missing else {}
        if generation == self.generation:  # no eviction while loading
            for key, entry in found.items():
                self.put(key, entry)
            await self._keep(fresh, until)
        return [found[key].value if key in found else fresh[key] for key in keys]

    async def _from_shared(self, keys: list[K]) -> dict[K, Entry[V]]:
        assert self.shared is not None
        found: dict[K, Entry[V]] = {}
        for key in keys:
            stored = await self.shared.get(key)
            if stored is not None and stored[1] > self._clock():
                value, expires = stored
                found[key] = Entry(value, expires, not self._lifetime(value)[0])
        if found and self._note is not None:
            self._note("shared")  # another replica's answer, from Redis
        return found

    async def _keep(self, fresh: dict[K, V], until: float | None) -> None:
        """Store what was loaded, here and in the shared layer, with one lifetime for the lot."""
        now = self._clock()
        lifetimes = {key: self._lifetime(value) for key, value in fresh.items()}
        positive = any(good for good, _ in lifetimes.values())
        expires = now + (self._settings.max_ttl if positive else self._settings.negative_ttl)
        if until is not None:
            expires = min(expires, until)
        for key, value in fresh.items():
            own = lifetimes[key][1]
            ends = expires if own is None else min(expires, own)
            if ends <= now:
                continue
            self.put(key, Entry(value, ends, not positive))
            if self.shared is not None:
                await self.shared.set(key, value, ends, self.indexes(key, value))
