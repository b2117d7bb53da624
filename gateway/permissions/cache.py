"""Per-tenant cache of Ory Permissions answers, with the guarantees of the session cache.

- Key: (tenant, principal kind, namespace, object, relation, subject) - a Python tuple,
  never a joined string, so no choice of ids can make two keys collide; the tenant and the
  kind are part of it (a client id equal to an identity id, or the same ids in two tenants,
  never share an answer).
- Allows live min(GATEWAY_CACHE_MAX_TTL, the session's or token's time left); denies
  GATEWAY_CACHE_NEGATIVE_TTL (also bounded by that time left). Failures (outages, 429,
  garbage) raise and are never cached: there is no stale answer, allow or deny.
- Single flight: concurrent misses on one key (or one batch of keys) join one Keto call,
  which runs as its own task (a requester that goes away does not cancel it for the others).
- Revocation: `evict_subject` / `evict_organization` drop every answer about a subject, or
  about an organization (its `Organization` tuples, and answers given while a request acted
  for it), here and - through the `SharedPermissions` layer - in Redis. An eviction bumps a
  generation: a load that was in flight when it happened is answered but not stored.
- Also here: the organizations listed for a subject (`Organization` tuples), for a Keto-backed
  default organization, with the same bounds; local to the replica, evicted the same way.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, Protocol

from gateway.config.settings import CacheSettings

Clock = Callable[[], float]
#: (tenant, kind, namespace, object, relation, subject)
Key = tuple[str, str, str, str, str, str]
ORGANIZATION_NAMESPACE = "Organization"


class Answer(NamedTuple):
    allowed: bool
    #: absolute expiry, epoch seconds
    expires: float
    #: the organization the request acted for when Keto was asked (eviction by organization)
    organization: str | None


class SharedPermissions(Protocol):
    """A layer shared by replicas (Redis, `gateway.replicas.permissions`); never raises."""

    async def get(self, key: Key) -> Answer | None: ...
    async def set(self, key: Key, answer: Answer) -> None: ...
    async def evict_subject(self, tenant: str, subject: str) -> int: ...
    async def evict_organization(self, tenant: str, organization: str) -> int: ...


def concerns(key: Key, answer: Answer, organization: str) -> bool:
    """Whether an answer is about `organization` (for eviction by organization)."""
    return answer.organization == organization or (key[2] == ORGANIZATION_NAMESPACE and key[3] == organization)


class PermissionCache:
    def __init__(self, settings: CacheSettings, clock: Clock, shared: SharedPermissions | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self.shared = shared
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._lists: OrderedDict[tuple[str, str], tuple[tuple[str, ...], float]] = OrderedDict()
        self._inflight: dict[object, asyncio.Future[list[bool]]] = {}
        self._list_flights: dict[object, asyncio.Future[tuple[str, ...]]] = {}
        #: bumped by every eviction; a load started before one is not stored
        self.generation = 0
        self.hits = self.misses = self.joins = 0

    def __len__(self) -> int:
        return len(self._answers)

    def cached(self, key: Key) -> bool | None:
        """The stored answer for `key`, or None: a hit needs no await."""
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.expires <= self._clock():
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        self.hits += 1
        return answer.allowed

    async def allowed(
        self, key: Key, organization: str | None, until: float | None, load: Callable[[], Awaitable[bool]]
    ) -> bool:
        hit = self.cached(key)
        if hit is not None:
            return hit

        async def one(missing: Sequence[Key]) -> list[bool]:
            return [await load()]

        return (await self._load([key], organization, until, one))[0]

    async def allowed_many(
        self,
        keys: Sequence[Key],
        organization: str | None,
        until: float | None,
        load: Callable[[Sequence[Key]], Awaitable[list[bool]]],
    ) -> list[bool]:
        """Answers for `keys`, in order; the missing ones loaded together (one call) and kept as
        one answer: when any of them allows, all live as long as an allow (a membership's roles:
        the roles not held are part of a granted membership, not denies asked again every
        GATEWAY_CACHE_NEGATIVE_TTL); when none does, all live as long as a deny."""
        answers = [self.cached(key) for key in keys]
        missing = [key for key, answer in zip(keys, answers, strict=True) if answer is None]
        if missing:
            loaded = dict(zip(missing, await self._load(missing, organization, until, load), strict=True))
            answers = [loaded[k] if a is None else a for k, a in zip(keys, answers, strict=True)]
        return [bool(a) for a in answers]

    async def _load(
        self,
        keys: list[Key],
        organization: str | None,
        until: float | None,
        load: Callable[[Sequence[Key]], Awaitable[list[bool]]],
    ) -> list[bool]:
        generation = self.generation
        flight = (generation, tuple(keys))  # after a revocation, nobody joins an older load
        task = self._inflight.get(flight)
        if task is None:
            self.misses += 1
            task = asyncio.ensure_future(self._fetch(keys, organization, until, load, generation))
            self._inflight[flight] = task
            task.add_done_callback(lambda done: self._landed(flight, done))
        else:
            self.joins += 1
        return await asyncio.shield(task)

    async def _fetch(
        self,
        keys: list[Key],
        organization: str | None,
        until: float | None,
        load: Callable[[Sequence[Key]], Awaitable[list[bool]]],
        generation: int,
    ) -> list[bool]:
        shared = await self._from_shared(keys) if self.shared is not None else {}
        missing = [k for k in keys if k not in shared]
        fresh = dict(zip(missing, await load(missing), strict=True)) if missing else {}
        if generation == self.generation:  # no revocation while Keto was asked
            expires = self._expiry(any(fresh.values()), until)
            for key, allowed in fresh.items():
                await self._store(key, Answer(allowed, expires, organization))
            for key, answer in shared.items():
                self._put(key, answer)
        return [shared[k].allowed if k in shared else fresh[k] for k in keys]

    async def _from_shared(self, keys: list[Key]) -> dict[Key, Answer]:
        assert self.shared is not None
        found: dict[Key, Answer] = {}
        for key in keys:
            answer = await self.shared.get(key)
            if answer is not None and answer.expires > self._clock():
                found[key] = answer
        return found

    def _expiry(self, allowed: bool, until: float | None) -> float:
        now = self._clock()
        ttl = self._settings.max_ttl if allowed else self._settings.negative_ttl
        if until is not None:
            ttl = min(ttl, until - now)
        return now + ttl

    async def _store(self, key: Key, answer: Answer) -> None:
        if answer.expires <= self._clock():
            return
        self._put(key, answer)
        if self.shared is not None:
            await self.shared.set(key, answer)

    def _put(self, key: Key, answer: Answer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        if len(self._answers) > max(1, self._settings.size):
            self._answers.popitem(last=False)

    def _landed(self, flight: object, task: asyncio.Future[list[bool]]) -> None:
        if self._inflight.get(flight) is task:
            del self._inflight[flight]
        if not task.cancelled():
            task.exception()  # retrieved, so a load nobody awaited any more is not logged as lost

    # -- organizations listed for a subject -------------------------------------------------

    async def listed(
        self, tenant: str, subject: str, until: float | None, load: Callable[[], Awaitable[list[str]]]
    ) -> tuple[str, ...]:
        """The organizations listed for `subject` (cached, single flight, never stale)."""
        hit = self._lists.get((tenant, subject))
        if hit is not None and hit[1] > self._clock():
            return hit[0]
        generation = self.generation
        flight = ("list", generation, tenant, subject)
        task = self._list_flights.get(flight)
        if task is None:
            task = asyncio.ensure_future(self._fetch_list(tenant, subject, until, load, generation))
            self._list_flights[flight] = task
            task.add_done_callback(lambda done: self._list_landed(flight, done))
        return await asyncio.shield(task)

    async def _fetch_list(
        self,
        tenant: str,
        subject: str,
        until: float | None,
        load: Callable[[], Awaitable[list[str]]],
        generation: int,
    ) -> tuple[str, ...]:
        organizations = tuple(await load())
        expires = self._expiry(bool(organizations), until)
        if generation == self.generation and expires > self._clock():
            self._lists[(tenant, subject)] = (organizations, expires)
            if len(self._lists) > max(1, self._settings.size):
                self._lists.popitem(last=False)
        return organizations

    def _list_landed(self, flight: object, task: asyncio.Future[tuple[str, ...]]) -> None:
        if self._list_flights.get(flight) is task:
            del self._list_flights[flight]
        if not task.cancelled():
            task.exception()

    # -- revocation -------------------------------------------------------------------------

    def evict_subject(self, tenant: str, subject: str) -> int:
        self.generation += 1
        doomed = [k for k in self._answers if k[0] == tenant and k[5] == subject]
        self._lists.pop((tenant, subject), None)
        return sum(self._answers.pop(k, None) is not None for k in doomed)

    def evict_organization(self, tenant: str, organization: str) -> int:
        self.generation += 1
        doomed = [k for k, a in self._answers.items() if k[0] == tenant and concerns(k, a, organization)]
        for listing in [k for k, (orgs, _) in self._lists.items() if k[0] == tenant and organization in orgs]:
            del self._lists[listing]
        return sum(self._answers.pop(k, None) is not None for k in doomed)

    def clear(self) -> None:
        """Forget everything (the revocation channel was lost: revocations may have been missed)."""
        self.generation += 1
        self._answers.clear()
        self._lists.clear()
