"""What the cache keeps for Ory Permissions: answers evicted by subject and by organization
(within one tenant), listings cached, single flight and evicted (the cache itself: tests/cache)."""

from __future__ import annotations

import asyncio

from gateway.cache import Index
from gateway.config.settings import CacheSettings
from gateway.permissions.cache import Answer, Key, answer_cache, listing_cache
from tests.support.clock import FakeClock

K: Key = ("customer", "human", "Report", "org-a/q3", "view", "u1")
SETTINGS = CacheSettings(max_ttl=60, negative_ttl=5, size=100)


async def test_eviction_by_subject_and_organization() -> None:
    cache, dealer = (
        answer_cache(SETTINGS, FakeClock(), "customer", None),
        answer_cache(SETTINGS, FakeClock(), "dealer", None),
    )
    membership: Key = ("customer", "human", "Organization", "org-a", "member", "u1")
    report, other = K, ("customer", "human", "Report", "org-b/x", "view", "u2")
    other_tenant: Key = ("dealer", "human", "Organization", "org-a", "member", "u1")
    for where, key, org in (
        (cache, membership, None),
        (cache, report, "org-a"),
        (cache, other, "org-b"),
        (dealer, other_tenant, "org-a"),
    ):

        async def yes(org: str | None = org) -> Answer:
            return Answer(True, org)

        await where.get_or_load(key, yes)
    assert cache.evict(Index("organization", "dealer", "org-a")) == 0  # another tenant's handle
    assert cache.evict(Index("organization", "customer", "org-a")) == 2
    assert cache.cached(membership) is None and cache.cached(report) is None
    assert cache.cached(other) == Answer(True, "org-b") and dealer.cached(other_tenant) == Answer(True, "org-a")
    assert cache.evict(Index("subject", "customer", "u2")) == 1 and cache.cached(other) is None


async def test_listings_are_cached_single_flight_and_evicted() -> None:
    cache = listing_cache(SETTINGS, FakeClock(), "customer")
    calls: list[int] = []

    async def listing() -> tuple[str, ...]:
        calls.append(1)
        await asyncio.sleep(0)
        return ("org-a", "org-b")

    got = await asyncio.gather(*(cache.get_or_load(("customer", "u1"), listing) for _ in range(50)))
    assert got == [("org-a", "org-b")] * 50 and calls == [1]
    cache.evict(Index("organization", "customer", "org-b"))
    await cache.get_or_load(("customer", "u1"), listing)
    assert calls == [1, 1]
    cache.evict(Index("subject", "customer", "u1"))
    await cache.get_or_load(("customer", "u1"), listing)
    assert calls == [1, 1, 1]


async def test_an_empty_listing_lives_the_negative_ttl() -> None:
    clock, calls = FakeClock(), list[int]()
    cache = listing_cache(SETTINGS, clock, "customer")

    async def nothing() -> tuple[str, ...]:
        calls.append(1)
        return ()

    assert await cache.get_or_load(("customer", "u3"), nothing) == ()
    clock.advance(4)
    assert await cache.get_or_load(("customer", "u3"), nothing) == () and calls == [1]
    clock.advance(2)
    await cache.get_or_load(("customer", "u3"), nothing)
    assert calls == [1, 1]
