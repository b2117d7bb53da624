"""Verdict cache: bounds with an injected clock, negative caching, single flight, eviction."""

from __future__ import annotations

import asyncio

import pytest

from gateway.authn.cache import DecisionCache, Entry, credential_key
from gateway.authn.verdict import Verdict
from gateway.config.settings import CacheSettings
from gateway.errors import InvalidToken, ServiceUnavailable
from gateway.principal import Principal
from tests.authn.fakes import NOW, FakeOry, authenticator, request, session
from tests.support.clock import FakeClock


def principal(expires_at: float | None = None, session_id: str = "s1") -> Principal:
    return Principal(
        kind="human",
        tenant="a",
        subject="u",
        organization=None,
        roles=frozenset(),
        scopes=frozenset(),
        session_id=session_id,
        expires_at=expires_at,
    )


def loader(decision: Verdict, counter: list[int]):  # type: ignore[no-untyped-def]
    async def load() -> Verdict:
        counter.append(1)
        await asyncio.sleep(0)
        return decision

    return load


def test_key_is_a_hash_and_separates_tenant_and_authenticator() -> None:
    k = credential_key("a", "hydra", "ory_at_secret")
    assert "secret" not in k and len(k) == 64
    assert k != credential_key("b", "hydra", "ory_at_secret") != credential_key("a", "jwt", "ory_at_secret")


async def test_positive_ttl_is_capped_by_max_ttl(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(max_ttl=60), clock)
    calls: list[int] = []
    load = loader(Verdict(principal(NOW + 3600)), calls)
    await cache.get_or_load("k", load)
    clock.advance(59)
    await cache.get_or_load("k", load)
    assert len(calls) == 1
    clock.advance(2)
    await cache.get_or_load("k", load)
    assert len(calls) == 2


async def test_positive_ttl_is_capped_by_expiry(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(max_ttl=60), clock)
    calls: list[int] = []
    load = loader(Verdict(principal(NOW + 10)), calls)
    await cache.get_or_load("k", load)
    clock.advance(9)
    await cache.get_or_load("k", load)
    clock.advance(1.5)
    await cache.get_or_load("k", load)
    assert len(calls) == 2


async def test_already_expired_is_not_cached(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(), clock)
    calls: list[int] = []
    load = loader(Verdict(principal(NOW - 1)), calls)
    await cache.get_or_load("k", load)
    await cache.get_or_load("k", load)
    assert len(calls) == 2


async def test_negative_ttl_and_counters(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(negative_ttl=5), clock)
    calls: list[int] = []
    load = loader(Verdict.reject("session_invalid", "no"), calls)
    await cache.get_or_load("k", load)
    clock.advance(4)
    await cache.get_or_load("k", load)
    clock.advance(2)
    await cache.get_or_load("k", load)
    assert len(calls) == 2
    assert (cache.stats.misses, cache.stats.hits, cache.stats.negative_hits) == (2, 1, 1)


async def test_size_is_bounded(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(size=3), clock)
    for i in range(10):
        await cache.get_or_load(f"k{i}", loader(Verdict(principal()), []))
    assert len(cache.backend) == 3  # type: ignore[arg-type]


async def test_single_flight_one_load_for_many(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(), clock)
    calls: list[int] = []
    gate = asyncio.Event()

    async def load() -> Verdict:
        calls.append(1)
        await gate.wait()
        return Verdict(principal())

    waiters = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters)
    assert len(calls) == 1 and len({id(r) for r in results}) == 1
    assert (cache.stats.misses, cache.stats.joins) == (1, 99)


async def test_cancelled_leader_does_not_cancel_joiners(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(), clock)
    gate = asyncio.Event()

    async def load() -> Verdict:
        await gate.wait()
        return Verdict(principal())

    leader = asyncio.create_task(cache.get_or_load("k", load))
    await asyncio.sleep(0)
    joiner = asyncio.create_task(cache.get_or_load("k", load))
    await asyncio.sleep(0)
    leader.cancel()
    gate.set()
    assert (await joiner).principal is not None


async def test_failures_are_not_cached_and_reach_every_joiner(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(), clock)
    calls: list[int] = []

    async def load() -> Verdict:
        calls.append(1)
        await asyncio.sleep(0)
        raise ServiceUnavailable("down", retry_after=2)

    results = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ServiceUnavailable) for r in results) and len(calls) == 1
    with pytest.raises(ServiceUnavailable):
        await cache.get_or_load("k", load)
    assert len(calls) == 2 and cache.backend.get("k") is None


async def test_evict_session_and_credential_hash(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(), clock)
    await cache.get_or_load("k1", loader(Verdict(principal(session_id="s1")), []))
    await cache.get_or_load("k2", loader(Verdict(principal(session_id="s1")), []))
    await cache.get_or_load("k3", loader(Verdict(principal(session_id="s2")), []))
    assert cache.evict_session("a", "s1") == 2
    assert cache.evict_session("b", "s2") == 0
    assert cache.evict_credential_hash("k3") == 1 and cache.backend.get("k3") is None


async def test_principal_carries_the_key(clock: FakeClock) -> None:
    cache = DecisionCache(CacheSettings(), clock)
    d = await cache.get_or_load("kk", loader(Verdict(principal()), []))
    assert d.principal is not None and d.principal.credential_hash == "kk"


class DictShared:
    def __init__(self) -> None:
        self.data: dict[str, Entry] = {}

    async def get(self, key: str) -> Entry | None:
        return self.data.get(key)

    async def set(self, key: str, entry: Entry) -> None:
        self.data[key] = entry

    async def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    async def evict_session(self, tenant: str, session_id: str) -> int:
        return 0

    async def evict_credential_hash(self, h: str) -> int:
        return int(await self.delete(h))

    async def evict_subject(self, tenant: str, subject: str) -> int:
        return 0

    async def evict_organization(self, tenant: str, organization: str) -> int:
        return 0


async def test_shared_backend_hook_is_read_on_local_miss(clock: FakeClock) -> None:
    shared = DictShared()
    one = DecisionCache(CacheSettings(), clock, shared=shared)
    two = DecisionCache(CacheSettings(), clock, shared=shared)
    calls: list[int] = []
    await one.get_or_load("k", loader(Verdict(principal()), calls))
    await two.get_or_load("k", loader(Verdict(principal()), calls))
    assert len(calls) == 1


async def test_revoked_session_stays_at_most_max_ttl(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session()
    auth = authenticator(ory, clock, CacheSettings(max_ttl=30))
    req = request(("cookie", "ory_kratos_session=c"))
    first = await auth.authenticate(req, ["human"])
    del ory.sessions["c"]  # revoked at Ory
    assert await auth.authenticate(req, ["human"]) == first  # stale within the bound
    clock.advance(31)
    with pytest.raises(InvalidToken):
        await auth.authenticate(req, ["human"])
    assert ory.calls["kratos.a.test/sessions/whoami"] == 2


async def test_evict_session_through_facade(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session()
    auth = authenticator(ory, clock)
    req = request(("cookie", "ory_kratos_session=c"))
    p = await auth.authenticate(req, ["human"])
    assert p.session_id is not None and auth.evict_session(p.session_id) == 1
    await auth.authenticate(req, ["human"])
    assert auth.evict_credential("c") == 1
    assert ory.calls["kratos.a.test/sessions/whoami"] == 2
