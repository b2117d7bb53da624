"""The cache every Ory answer goes through (`gateway.cache`): TTL bounds with an injected clock,
negative caching, size, single flight, failures, eviction by index and by key (generation-safe),
batches, and the shared layer's contract. Shown with the two caches built on it: decisions
(`gateway.authn.cache`) and Keto answers (`gateway.permissions.cache`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Sequence
from typing import Generic, TypeVar

import pytest

from gateway.authn.cache import decision_cache
from gateway.authn.verdict import Verdict
from gateway.cache import Cache, Index, SingleFlight
from gateway.config.settings import CacheSettings
from gateway.errors import ServiceUnavailable
from gateway.permissions.cache import Answer, Key, answer_cache
from gateway.principal import Principal
from tests.support.clock import START, FakeClock

NOW = START
KT = TypeVar("KT", bound=Hashable)
VT = TypeVar("VT")
K: Key = ("customer", "human", "Report", "org-a/q3", "view", "u1")
SETTINGS = CacheSettings(max_ttl=60, negative_ttl=5, size=100)


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


def decisions(clock: FakeClock, settings: CacheSettings | None = None) -> Cache[str, Verdict]:
    return decision_cache(settings or CacheSettings(), clock, "a", None)


def loader(decision: Verdict, counter: list[int]) -> Callable[[], Awaitable[Verdict]]:
    async def load() -> Verdict:
        counter.append(1)
        await asyncio.sleep(0)
        return decision

    return load


def answers(allowed: list[bool], calls: list[int], org: str | None = None) -> Callable[[], Awaitable[Answer]]:
    async def load() -> Answer:
        calls.append(1)
        await asyncio.sleep(0)
        return Answer(allowed[min(len(calls), len(allowed)) - 1], org)

    return load


async def yes() -> Answer:
    return Answer(True, None)


# -- bounds -----------------------------------------------------------------------------------


async def test_positive_ttl_is_capped_by_max_ttl(clock: FakeClock) -> None:
    cache = decisions(clock, CacheSettings(max_ttl=60))
    calls: list[int] = []
    load = loader(Verdict(principal(NOW + 3600)), calls)
    await cache.get_or_load("k", load)
    clock.advance(59)
    await cache.get_or_load("k", load)
    assert len(calls) == 1
    clock.advance(2)
    await cache.get_or_load("k", load)
    assert len(calls) == 2


async def test_positive_ttl_is_capped_by_the_values_own_expiry(clock: FakeClock) -> None:
    cache = decisions(clock, CacheSettings(max_ttl=60))
    calls: list[int] = []
    load = loader(Verdict(principal(NOW + 10)), calls)
    await cache.get_or_load("k", load)
    clock.advance(9)
    await cache.get_or_load("k", load)
    clock.advance(1.5)
    await cache.get_or_load("k", load)
    assert len(calls) == 2


async def test_already_expired_is_not_cached(clock: FakeClock) -> None:
    cache = decisions(clock)
    calls: list[int] = []
    load = loader(Verdict(principal(NOW - 1)), calls)
    await cache.get_or_load("k", load)
    await cache.get_or_load("k", load)
    assert len(calls) == 2


async def test_allows_live_max_ttl_bounded_by_the_callers_until(clock: FakeClock) -> None:
    calls: list[int] = []
    cache = answer_cache(SETTINGS, clock, "customer", None)
    assert (await cache.get_or_load(K, answers([True], calls), clock() + 3600)).allowed is True
    clock.advance(59)
    assert cache.cached(K) == Answer(True, None)
    clock.advance(2)
    assert cache.cached(K) is None
    assert (await cache.get_or_load(K, answers([True], calls), clock() + 10)).allowed is True
    clock.advance(11)  # the session ended before the TTL
    assert cache.cached(K) is None and len(calls) == 2


async def test_negative_ttl_and_counters(clock: FakeClock) -> None:
    cache = decisions(clock, CacheSettings(negative_ttl=5))
    calls: list[int] = []
    load = loader(Verdict.reject("session_invalid", "no"), calls)
    await cache.get_or_load("k", load)
    clock.advance(4)
    await cache.get_or_load("k", load)
    clock.advance(2)
    await cache.get_or_load("k", load)
    assert len(calls) == 2
    assert (cache.stats.misses, cache.stats.hits, cache.stats.negative_hits) == (2, 1, 1)


async def test_denies_live_the_negative_ttl(clock: FakeClock) -> None:
    calls: list[int] = []
    cache = answer_cache(SETTINGS, clock, "customer", None)
    assert (await cache.get_or_load(K, answers([False], calls))).allowed is False
    clock.advance(4)
    assert cache.cached(K) == Answer(False, None)
    clock.advance(2)
    assert cache.cached(K) is None


async def test_size_is_bounded_least_recently_used_first(clock: FakeClock) -> None:
    cache = decisions(clock, CacheSettings(size=3))
    for i in range(10):
        await cache.get_or_load(f"k{i}", loader(Verdict(principal()), []))
    assert len(cache) == 3
    assert cache.cached("k7") is not None  # now the most recently used
    await cache.get_or_load("k10", loader(Verdict(principal()), []))
    assert cache.cached("k8") is None and cache.cached("k7") is not None


# -- single flight and failures ---------------------------------------------------------------


async def test_single_flight_one_load_for_many(clock: FakeClock) -> None:
    cache = decisions(clock)
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


async def test_a_cold_burst_makes_one_call(clock: FakeClock) -> None:
    calls: list[int] = []
    cache = answer_cache(SETTINGS, clock, "customer", None)
    load = answers([True], calls)
    results = await asyncio.gather(*(cache.get_or_load(K, load) for _ in range(100)))
    assert [r.allowed for r in results] == [True] * 100 and len(calls) == 1 and cache.stats.joins == 99


async def test_cancelled_leader_does_not_cancel_joiners(clock: FakeClock) -> None:
    cache = decisions(clock)
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
    cache = decisions(clock)
    calls: list[int] = []

    async def load() -> Verdict:
        calls.append(1)
        await asyncio.sleep(0)
        raise ServiceUnavailable("down", retry_after=2)

    results = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ServiceUnavailable) for r in results) and len(calls) == 1
    with pytest.raises(ServiceUnavailable):
        await cache.get_or_load("k", load)
    assert len(calls) == 2 and cache.cached("k") is None and len(cache) == 0


async def test_a_single_flight_without_a_cache() -> None:
    flights: SingleFlight[None, int] = SingleFlight()
    calls: list[int] = []
    gate = asyncio.Event()

    async def fetch() -> int:
        calls.append(1)
        await gate.wait()
        return len(calls)

    waiters = [asyncio.create_task(flights.run(None, fetch)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [1] * 10 and len(flights) == 0
    assert await flights.run(None, fetch) == 2  # landed: the next call loads again


# -- batches ----------------------------------------------------------------------------------


async def test_many_loads_only_the_missing_in_one_call(clock: FakeClock) -> None:
    cache = answer_cache(SETTINGS, clock, "customer", None)
    keys: list[Key] = [(*K[:4], role, "u1") for role in ("member", "viewer", "admin")]
    batches: list[list[Key]] = []

    async def load(missing: Sequence[Key]) -> list[Answer]:
        assert isinstance(missing, list)
        batches.append(missing)
        return [Answer(k[4] == "viewer", "org-a") for k in missing]

    def allowed(got: list[Answer]) -> list[bool]:
        return [a.allowed for a in got]

    first = await asyncio.gather(*(cache.get_many(keys[:2], load) for _ in range(20)))
    assert [allowed(f) for f in first] == [[False, True]] * 20
    assert allowed(await cache.get_many(keys, load)) == [False, True, False]
    assert batches == [keys[:2], keys[2:]]


async def test_a_batch_with_a_positive_value_is_kept_as_one_answer(clock: FakeClock) -> None:
    cache = answer_cache(SETTINGS, clock, "customer", None)
    roles: list[Key] = [(*K[:4], role, "u1") for role in ("member", "viewer")]

    async def viewer_only(missing: Sequence[Key]) -> list[Answer]:
        return [Answer(False, "org-a"), Answer(True, "org-a")]

    assert [a.allowed for a in await cache.get_many(roles, viewer_only)] == [False, True]
    clock.advance(30)  # past the negative TTL: the role not held is part of the granted membership
    assert [a.allowed if a else a for a in (cache.cached(k) for k in roles)] == [False, True]

    async def nothing(missing: Sequence[Key]) -> list[Answer]:
        return [Answer(False, "org-a"), Answer(False, "org-a")]

    strangers: list[Key] = [(*K[:4], role, "u2") for role in ("member", "viewer")]
    assert [a.allowed for a in await cache.get_many(strangers, nothing)] == [False, False]
    clock.advance(6)
    assert [cache.cached(k) for k in strangers] == [None, None]


# -- eviction ---------------------------------------------------------------------------------


async def test_evict_by_index_and_by_key(clock: FakeClock) -> None:
    cache = decisions(clock)
    await cache.get_or_load("k1", loader(Verdict(principal(session_id="s1")), []))
    await cache.get_or_load("k2", loader(Verdict(principal(session_id="s1")), []))
    await cache.get_or_load("k3", loader(Verdict(principal(session_id="s2")), []))
    assert cache.evict(Index("session_id", "a", "s1")) == 2
    assert cache.evict(Index("session_id", "b", "s2")) == 0
    assert cache.evict_key("k3") == 1 and cache.cached("k3") is None
    assert cache.evict_key("k3") == 0


@pytest.mark.parametrize("evict", ["index", "key", "clear"])
async def test_a_load_in_flight_during_an_eviction_is_not_stored(evict: str, clock: FakeClock) -> None:
    cache = answer_cache(SETTINGS, clock, "customer", None)
    gate = asyncio.Event()

    async def slow() -> Answer:
        await gate.wait()
        return Answer(True, "org-a")

    pending = asyncio.ensure_future(cache.get_or_load(K, slow))
    await asyncio.sleep(0)
    if evict == "index":
        cache.evict(Index("subject", "customer", "u1"))
    elif evict == "key":
        cache.evict_key(K)
    else:
        cache.clear()
    later_calls: list[int] = []
    later = asyncio.ensure_future(cache.get_or_load(K, answers([False], later_calls, "org-a")))  # does not join
    gate.set()
    assert (await pending).allowed is True and (await later).allowed is False
    assert later_calls == [1] and cache.cached(K) == Answer(False, "org-a")


async def test_a_session_revoked_while_its_check_is_in_flight_is_not_stored(clock: FakeClock) -> None:
    cache = decisions(clock)
    gate = asyncio.Event()

    async def slow() -> Verdict:
        await gate.wait()
        return Verdict(principal(session_id="s1"))

    pending = asyncio.ensure_future(cache.get_or_load("k", slow))
    await asyncio.sleep(0)
    assert cache.evict(Index("session_id", "a", "s1")) == 0  # nothing stored yet
    gate.set()
    assert (await pending).principal is not None
    assert cache.cached("k") is None and len(cache) == 0


# -- the shared layer -------------------------------------------------------------------------


class DictShared(Generic[KT, VT]):
    """A shared layer in a dict, recording what it was given."""

    def __init__(self) -> None:
        self.data: dict[KT, tuple[VT, float]] = {}
        self.indexes: dict[KT, list[Index]] = {}
        self.evicted: list[KT | Index] = []

    async def get(self, key: KT) -> tuple[VT, float] | None:
        return self.data.get(key)

    async def set(self, key: KT, value: VT, expires: float, indexes: Collection[Index]) -> None:
        self.data[key] = (value, expires)
        self.indexes[key] = list(indexes)

    async def evict(self, index: Index) -> int:
        self.evicted.append(index)
        doomed = [key for key, listed in self.indexes.items() if index in listed]
        return sum(self.data.pop(key, None) is not None for key in doomed)

    async def evict_key(self, key: KT) -> int:
        self.evicted.append(key)
        return int(self.data.pop(key, None) is not None)


async def test_the_shared_layer_is_read_on_a_local_miss(clock: FakeClock) -> None:
    shared: DictShared[str, Verdict] = DictShared()
    one, two = decision_cache(CacheSettings(), clock, "a", shared), decision_cache(CacheSettings(), clock, "a", shared)
    calls: list[int] = []
    await one.get_or_load("k", loader(Verdict(principal()), calls))
    await two.get_or_load("k", loader(Verdict(principal()), calls))
    assert len(calls) == 1
    assert two.cached("k") is not None  # kept locally too


async def test_joins_and_shared_answers_are_noted(clock: FakeClock) -> None:
    shared: DictShared[str, str] = DictShared()
    notes: list[str] = []
    one = Cache(SETTINGS, clock, "t", lambda value: (True, None), shared=shared, note=notes.append)
    two = Cache(SETTINGS, clock, "t", lambda value: (True, None), shared=shared, note=notes.append)

    async def load() -> str:
        await asyncio.sleep(0)
        return "value"

    assert list(await asyncio.gather(one.get_or_load("k", load), one.get_or_load("k", load))) == ["value"] * 2
    assert await two.get_or_load("k", load) == "value"
    assert notes == ["join", "shared"]


async def test_the_shared_layer_gets_the_entry_its_expiry_and_its_indexes(clock: FakeClock) -> None:
    shared: DictShared[str, Verdict] = DictShared()
    cache = decision_cache(CacheSettings(max_ttl=60), clock, "a", shared)
    await cache.get_or_load("k", loader(Verdict(principal(NOW + 30)), []))
    assert shared.data["k"][1] == NOW + 30
    assert shared.indexes["k"] == [Index("session_id", "a", "s1"), Index("subject", "a", "u")]
    await cache.evict_shared(Index("session_id", "a", "s1"))
    await cache.evict_shared_key("other")
    assert shared.evicted == [Index("session_id", "a", "s1"), "other"] and shared.data == {}


async def test_an_expired_shared_entry_is_a_miss(clock: FakeClock) -> None:
    shared: DictShared[Key, Answer] = DictShared()
    shared.data[K] = (Answer(True, None), clock() - 1)
    calls: list[int] = []
    cache = answer_cache(SETTINGS, clock, "customer", shared)
    assert (await cache.get_or_load(K, answers([False], calls))).allowed is False and calls == [1]


async def test_shared_answers_are_read_on_a_local_miss(clock: FakeClock) -> None:
    calls: list[int] = []
    shared: DictShared[Key, Answer] = DictShared()
    one, two = answer_cache(SETTINGS, clock, "customer", shared), answer_cache(SETTINGS, clock, "customer", shared)
    assert (await one.get_or_load(K, answers([True], calls))).allowed is True
    assert (await two.get_or_load(K, answers([False], calls))).allowed is True
    assert len(calls) == 1
