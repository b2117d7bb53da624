"""Per-tenant decision cache: hashed keys, bounded size, bounded staleness, single flight.

- Key: sha256 of (tenant, authenticator, credential). The raw credential is never stored.
- Positive TTL: min(max_ttl, the session's expires_at / token's exp - now).
- Negative TTL: `negative_ttl` for rejected credentials. Failures (outages, 429) raise and are
  never cached.
- Single flight: concurrent misses on one key join the leader's in-flight load, so N requests
  with the same new credential cause one Ory call. The load runs as its own task, so a
  requester that disconnects does not cancel it for the others.

Storage is a small `CacheBackend` (sync, in-process; `MemoryBackend` here). A replica-shared
layer (Redis) plugs in as a `SharedBackend` (async): it is consulted only by the single-flight
leader on a local miss and written after a load, and it must implement the same revocation
hooks (`evict_session`, `evict_credential_hash`, `evict_subject`, `evict_organization`) so a
revocation fans out to every replica.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.authn.verdict import Verdict
from gateway.config.settings import CacheSettings
from gateway.observe import tracing
from gateway.principal import Principal

Clock = Callable[[], float]
Loader = Callable[[], Awaitable[Verdict]]


def credential_key(tenant: str, authenticator: str, credential: str) -> str:
    """The cache key and revocation handle of a credential: never the credential itself."""
    raw = f"{tenant}\x00{authenticator}\x00{credential}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    decision: Verdict
    #: absolute expiry, epoch seconds (same clock as the cache)
    expires: float


class CacheBackend(Protocol):
    def get(self, key: str) -> Entry | None: ...
    def set(self, key: str, entry: Entry) -> None: ...
    def delete(self, key: str) -> bool: ...
    def evict_session(self, tenant: str, session_id: str) -> int: ...
    def evict_credential_hash(self, h: str) -> int: ...
    def evict_subject(self, tenant: str, subject: str) -> int: ...
    def evict_organization(self, tenant: str, organization: str) -> int: ...


class SharedBackend(Protocol):
    """A cache shared by replicas (Redis: `gateway.replicas.redis.RedisShared`)."""

    async def get(self, key: str) -> Entry | None: ...
    async def set(self, key: str, entry: Entry) -> None: ...
    async def delete(self, key: str) -> bool: ...
    async def evict_session(self, tenant: str, session_id: str) -> int: ...
    async def evict_credential_hash(self, h: str) -> int: ...
    async def evict_subject(self, tenant: str, subject: str) -> int: ...
    async def evict_organization(self, tenant: str, organization: str) -> int: ...


def organizations_of(principal: Principal) -> set[str]:
    """Every organization a cached principal speaks for: its own and its memberships'."""
    found = {m.organization for m in principal.memberships or ()}
    if principal.organization:
        found.add(principal.organization)
    return found


class MemoryBackend:
    """Bounded in-process store: per-entry expiry, least recently used evicted first.

    Expiry is checked on read (an expired entry is dropped then); expired entries that are
    never read again go out by LRU order. A plain `OrderedDict` (C) rather than cachetools'
    LRUCache, whose Python-level `get` cost more than the rest of a cache hit."""

    def __init__(self, size: int, clock: Clock) -> None:
        self._data: OrderedDict[str, Entry] = OrderedDict()
        self._size = max(1, size)
        self._clock = clock

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> Entry | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry

    def set(self, key: str, entry: Entry) -> None:
        self._data[key] = entry
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def delete(self, key: str) -> bool:
        return self._data.pop(key, None) is not None

    def evict_session(self, tenant: str, session_id: str) -> int:
        # Revocation is rare; a scan keeps the store free of side indexes that could grow.
        doomed = [
            key
            for key, entry in list(self._data.items())
            if (p := entry.decision.principal) is not None and p.tenant == tenant and p.session_id == session_id
        ]
        return sum(self.delete(key) for key in doomed)

    def evict_credential_hash(self, h: str) -> int:
        return int(self.delete(h))

    def evict_subject(self, tenant: str, subject: str) -> int:
        """Every session and token of one identity or client (its memberships may have changed)."""
        return self._evict(lambda p: p.tenant == tenant and p.subject == subject)

    def evict_organization(self, tenant: str, organization: str) -> int:
        """Every principal that speaks for `organization` (a membership of it may be gone)."""
        return self._evict(lambda p: p.tenant == tenant and organization in organizations_of(p))

    def _evict(self, doomed: Callable[[Principal], bool]) -> int:
        keys = [k for k, e in list(self._data.items()) if (p := e.decision.principal) is not None and doomed(p)]
        return sum(self.delete(key) for key in keys)


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    joins: int = 0
    negative_hits: int = 0


class DecisionCache:
    def __init__(
        self,
        settings: CacheSettings,
        clock: Clock,
        backend: CacheBackend | None = None,
        shared: SharedBackend | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.backend: CacheBackend = backend or MemoryBackend(settings.size, clock)
        self.shared = shared
        self.stats = CacheStats()
        self._inflight: dict[str, asyncio.Future[Verdict]] = {}

    def cached(self, key: str) -> Verdict | None:
        """The stored decision for `key` (counted as a hit), or None: a hit needs no await."""
        entry = self.backend.get(key)
        if entry is None:
            return None
        self.stats.hits += 1
        if entry.decision.principal is None:
            self.stats.negative_hits += 1
        return entry.decision

    async def get_or_load(self, key: str, load: Loader) -> Verdict:
        hit = self.cached(key)
        if hit is not None:
            return hit
        task = self._inflight.get(key)
        if task is None:
            self.stats.misses += 1
            task = asyncio.ensure_future(self._load(key, load))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._landed(key, done))
        else:
            self.stats.joins += 1
            tracing.note("gateway.authn.cache", "join")  # waits for another request's load
        return await asyncio.shield(task)

    def evict_session(self, tenant: str, session_id: str) -> int:
        return self.backend.evict_session(tenant, session_id)

    def evict_credential_hash(self, h: str) -> int:
        return self.backend.evict_credential_hash(h)

    def evict_subject(self, tenant: str, subject: str) -> int:
        return self.backend.evict_subject(tenant, subject)

    def evict_organization(self, tenant: str, organization: str) -> int:
        return self.backend.evict_organization(tenant, organization)

    async def _load(self, key: str, load: Loader) -> Verdict:
        if self.shared is not None:
            entry = await self.shared.get(key)
            if entry is not None and entry.expires > self._clock():
                self.backend.set(key, entry)
                tracing.note("gateway.authn.cache", "shared")  # another replica's decision, from Redis
                return entry.decision
        decision = self._stamped(key, await load())
        entry = self._entry(decision)
        if entry is not None:
            self.backend.set(key, entry)
            if self.shared is not None:
                await self.shared.set(key, entry)
        return decision

    def _entry(self, decision: Verdict) -> Entry | None:
        now = self._clock()
        principal = decision.principal
        if principal is None:
            ttl = self._settings.negative_ttl
        else:
            ttl = self._settings.max_ttl
            if principal.expires_at is not None:
                ttl = min(ttl, principal.expires_at - now)
        return Entry(decision, now + ttl) if ttl > 0 else None

    @staticmethod
    def _stamped(key: str, decision: Verdict) -> Verdict:
        p = decision.principal
        if p is None or p.credential_hash == key:
            return decision
        return Verdict(dataclasses.replace(p, credential_hash=key))

    def _landed(self, key: str, task: asyncio.Future[Verdict]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a load nobody awaited any more is not logged as lost
