"""The permission cache: bounded TTLs, negative caching, single flight, revocation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from gateway.config.settings import CacheSettings
from gateway.errors import ServiceUnavailable
from gateway.permissions.cache import Answer, Key, PermissionCache
from tests.support.clock import FakeClock

K: Key = ("customer", "human", "Report", "org-a/q3", "view", "u1")
SETTINGS = CacheSettings(max_ttl=60, negative_ttl=5, size=100)


def loader(answers: list[bool], calls: list[int]) -> Callable[[], Awaitable[bool]]:
    async def load() -> bool:
        calls.append(1)
        await asyncio.sleep(0)
        return answers[min(len(calls), len(answers)) - 1]

    return load


async def test_allows_live_max_ttl_bounded_by_the_session() -> None:
    clock, calls = FakeClock(), list[int]()
    cache = PermissionCache(SETTINGS, clock)
    assert await cache.allowed(K, "org-a", clock() + 3600, loader([True], calls)) is True
    clock.advance(59)
    assert cache.cached(K) is True
    clock.advance(2)
    assert cache.cached(K) is None
    assert await cache.allowed(K, "org-a", clock() + 10, loader([True], calls)) is True
    clock.advance(11)  # the session ended before the TTL
    assert cache.cached(K) is None and len(calls) == 2


async def test_denies_live_the_negative_ttl() -> None:
    clock, calls = FakeClock(), list[int]()
    cache = PermissionCache(SETTINGS, clock)
    assert await cache.allowed(K, None, None, loader([False], calls)) is False
    clock.advance(4)
    assert cache.cached(K) is False
    clock.advance(2)
    assert cache.cached(K) is None


async def test_failures_are_never_cached() -> None:
    clock = FakeClock()
    cache = PermissionCache(SETTINGS, clock)

    async def down() -> bool:
        raise ServiceUnavailable("keto down", retry_after=2)

    with pytest.raises(ServiceUnavailable):
        await cache.allowed(K, None, None, down)
    assert cache.cached(K) is None and len(cache) == 0


async def test_a_cold_burst_makes_one_call() -> None:
    clock, calls = FakeClock(), list[int]()
    cache = PermissionCache(SETTINGS, clock)
    load = loader([True], calls)
    results = await asyncio.gather(*(cache.allowed(K, None, None, load) for _ in range(100)))
    assert results == [True] * 100 and len(calls) == 1 and cache.joins == 99


async def test_many_loads_only_the_missing_in_one_call() -> None:
    clock = FakeClock()
    cache = PermissionCache(SETTINGS, clock)
    keys: list[Key] = [(*K[:4], role, "u1") for role in ("member", "viewer", "admin")]
    batches: list[list[Key]] = []

    async def load(missing: object) -> list[bool]:
        assert isinstance(missing, list)
        batches.append(missing)
        return [k[4] == "viewer" for k in missing]

    first = await asyncio.gather(*(cache.allowed_many(keys[:2], "org-a", None, load) for _ in range(20)))
    assert first == [[False, True]] * 20
    assert await cache.allowed_many(keys, "org-a", None, load) == [False, True, False]
    assert batches == [keys[:2], keys[2:]]


async def test_eviction_by_subject_and_organization() -> None:
    clock = FakeClock()
    cache = PermissionCache(SETTINGS, clock)

    async def yes() -> bool:
        return True

    membership: Key = ("customer", "human", "Organization", "org-a", "member", "u1")
    report, other = K, ("customer", "human", "Report", "org-b/x", "view", "u2")
    other_tenant: Key = ("dealer", "human", "Organization", "org-a", "member", "u1")
    for key, org in ((membership, "org-a"), (report, "org-a"), (other, "org-b"), (other_tenant, "org-a")):
        await cache.allowed(key, org, None, yes)
    assert cache.evict_organization("customer", "org-a") == 2
    assert cache.cached(membership) is None and cache.cached(report) is None
    assert cache.cached(other) is True and cache.cached(other_tenant) is True
    assert cache.evict_subject("customer", "u2") == 1 and cache.cached(other) is None


async def test_a_load_in_flight_during_a_revocation_is_not_stored() -> None:
    clock = FakeClock()
    cache = PermissionCache(SETTINGS, clock)
    gate = asyncio.Event()

    async def slow() -> bool:
        await gate.wait()
        return True

    pending = asyncio.ensure_future(cache.allowed(K, "org-a", None, slow))
    await asyncio.sleep(0)
    cache.evict_subject("customer", "u1")
    later_calls: list[int] = []
    later = asyncio.ensure_future(cache.allowed(K, "org-a", None, loader([False], later_calls)))  # does not join
    gate.set()
    assert await pending is True and await later is False
    assert later_calls == [1] and cache.cached(K) is False


class DictShared:
    def __init__(self) -> None:
        self.data: dict[Key, Answer] = {}

    async def get(self, key: Key) -> Answer | None:
        return self.data.get(key)

    async def set(self, key: Key, answer: Answer) -> None:
        self.data[key] = answer

    async def evict_subject(self, tenant: str, subject: str) -> int:
        return 0

    async def evict_organization(self, tenant: str, organization: str) -> int:
        return 0


async def test_a_shared_layer_is_read_on_a_local_miss() -> None:
    clock, calls, shared = FakeClock(), list[int](), DictShared()
    one, two = PermissionCache(SETTINGS, clock, shared), PermissionCache(SETTINGS, clock, shared)
    assert await one.allowed(K, None, None, loader([True], calls)) is True
    assert await two.allowed(K, None, None, loader([False], calls)) is True
    assert len(calls) == 1


async def test_listings_are_cached_single_flight_and_evicted() -> None:
    clock = FakeClock()
    cache = PermissionCache(SETTINGS, clock)
    calls: list[int] = []

    async def listing() -> list[str]:
        calls.append(1)
        await asyncio.sleep(0)
        return ["org-a", "org-b"]

    got = await asyncio.gather(*(cache.listed("customer", "u1", None, listing) for _ in range(50)))
    assert got == [("org-a", "org-b")] * 50 and calls == [1]
    cache.evict_organization("customer", "org-b")
    await cache.listed("customer", "u1", None, listing)
    assert calls == [1, 1]


async def test_a_batch_with_an_allow_is_kept_as_one_answer() -> None:
    clock = FakeClock()
    cache = PermissionCache(SETTINGS, clock)
    roles: list[Key] = [(*K[:4], role, "u1") for role in ("member", "viewer")]

    async def viewer_only(missing: object) -> list[bool]:
        return [False, True]

    assert await cache.allowed_many(roles, "org-a", None, viewer_only) == [False, True]
    clock.advance(30)  # past the negative TTL: the role not held is part of the granted membership
    assert [cache.cached(k) for k in roles] == [False, True]

    async def nothing(missing: object) -> list[bool]:
        return [False, False]

    strangers: list[Key] = [(*K[:4], role, "u2") for role in ("member", "viewer")]
    assert await cache.allowed_many(strangers, "org-a", None, nothing) == [False, False]
    clock.advance(6)
    assert [cache.cached(k) for k in strangers] == [None, None]
