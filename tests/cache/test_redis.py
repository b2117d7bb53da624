"""The cache's layer shared by replicas, on a real redis-server: the key shapes every replica
(and `gateway revoke`) relies on, TTLs, eviction by index and by key, two caches sharing one
Redis, anything unreadable as a miss, and Redis down as a miss that never raises."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest_asyncio
import redis.asyncio as aioredis

from gateway.authn.cache import decision_cache
from gateway.authn.verdict import Verdict
from gateway.cache import Index
from gateway.config.settings import CacheSettings
from gateway.permissions.cache import Answer, Key, answer_cache
from gateway.principal import Membership, Principal
from gateway.replicas.cache import RedisCache
from gateway.replicas.permissions import ANSWERS
from gateway.replicas.redis import BACKOFF, Guard, connect
from gateway.replicas.verdicts import VERDICTS
from tests.support.clock import FakeClock
from tests.support.processes import RedisServer

HASH = "c" * 64
PERSON = Principal(
    "human",
    "customer",
    "u1",
    "org-a",
    frozenset({"member"}),
    frozenset(),
    session_id="s1",
    expires_at=None,
    credential_hash=HASH,
    memberships=(Membership("org-a", frozenset({"member"})), Membership("org-b", frozenset({"viewer"}))),
)
K: Key = ("customer", "human", "Organization", "org-c", "member", "u1")
DECISIONS = decision_cache(CacheSettings(), time.time, "customer", None)
ANSWERS_HERE = answer_cache(CacheSettings(), time.time, "customer", None)


def sha(*parts: str) -> str:
    return hashlib.sha256(orjson.dumps(list(parts))).hexdigest()


@pytest_asyncio.fixture(loop_scope="function")
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    redis = connect(redis_server.url)
    await redis.flushdb()
    yield redis
    await redis.aclose()


async def members(client: aioredis.Redis, name: str) -> set[str]:
    return {m.decode() if isinstance(m, bytes) else m for m in await client.smembers(name)}


async def test_a_decision_is_kept_under_its_credential_hash_and_listed_by_its_indexes(client: aioredis.Redis) -> None:
    layer = RedisCache(client, VERDICTS, 60, Guard())
    decision = Verdict(PERSON)
    expires = layer.clock() + 30
    await layer.set(HASH, decision, expires, DECISIONS.indexes(HASH, decision))
    assert 29_000 < await client.pttl(f"gateway:dc:{HASH}") <= 30_000
    assert await members(client, "gateway:ds:customer:s1") == {HASH}
    assert await members(client, f"gateway:du:{sha('customer', 'u1')}") == {HASH}
    for org in ("org-a", "org-b"):
        assert await members(client, f"gateway:do:{sha('customer', org)}") == {HASH}
        assert 0 < await client.ttl(f"gateway:do:{sha('customer', org)}") <= 61
    assert await layer.get(HASH) == (decision, expires)
    assert await layer.evict(Index("session_id", "customer", "s1")) == 2  # the entry and the index
    assert await layer.get(HASH) is None and await client.exists("gateway:ds:customer:s1") == 0
    assert layer.counts() == {"hits": 1, "misses": 1, "errors": 0}


async def test_an_answer_is_kept_under_the_hash_of_its_key(client: aioredis.Redis) -> None:
    layer = RedisCache(client, ANSWERS, 60, Guard())
    answer = Answer(True, "org-a")
    expires = layer.clock() + 5
    await layer.set(K, answer, expires, ANSWERS_HERE.indexes(K, answer))
    entry = sha(*K)
    raw = await client.get(f"gateway:pc:{entry}")
    assert isinstance(raw, bytes) and orjson.loads(raw) == {
        "v": 1,
        "allowed": True,
        "expires": expires,
        "organization": "org-a",
    }
    assert await members(client, f"gateway:ps:{sha('customer', 'u1')}") == {entry}
    assert await members(client, f"gateway:po:{sha('customer', 'org-a')}") == {entry}
    assert await members(client, f"gateway:po:{sha('customer', 'org-c')}") == {entry}  # the Organization tuple's
    assert await layer.evict(Index("session_id", "customer", "s1")) == 0  # answers are not listed by session
    assert await layer.get(K) == (answer, expires)
    assert await layer.evict(Index("organization", "customer", "org-c")) == 2
    assert await layer.get(K) is None


async def test_evict_by_key_and_garbage_reads_as_a_miss(client: aioredis.Redis) -> None:
    layer = RedisCache(client, VERDICTS, 60, Guard())
    await layer.set(HASH, Verdict.reject("session_invalid", "no"), layer.clock() + 5, [])
    assert await layer.evict_key(HASH) == 1 and await layer.evict_key(HASH) == 0
    await client.set(f"gateway:dc:{HASH}", b'{"v": 1, "principal": null}')
    assert await layer.get(HASH) is None
    await client.set(f"gateway:pc:{sha(*K)}", b"not json")
    assert await RedisCache(client, ANSWERS, 60, Guard()).get(K) is None


async def test_two_replicas_share_decisions_and_revocations(client: aioredis.Redis) -> None:
    clock = FakeClock()
    layer = RedisCache(client, VERDICTS, 60, Guard(), clock=clock)
    one, two = (decision_cache(CacheSettings(max_ttl=60), clock, "customer", layer) for _ in range(2))
    calls: list[int] = []

    async def whoami() -> Verdict:
        calls.append(1)
        return Verdict(PERSON)

    await one.get_or_load(HASH, whoami)
    assert await two.get_or_load(HASH, whoami) == Verdict(PERSON) and calls == [1]  # from Redis
    index = Index("organization", "customer", "org-b")
    assert one.evict(index) == 1
    await one.evict_shared(index)
    assert two.evict(index) == 1  # what the revocation channel does on the other replica
    await two.get_or_load(HASH, whoami)
    assert calls == [1, 1]


async def test_redis_down_is_a_miss_never_an_error(tmp_path: Path) -> None:
    clock = FakeClock()
    down = connect(f"unix://{tmp_path / 'nobody-listens.sock'}")
    guard = Guard(clock)
    layer = RedisCache(down, VERDICTS, 60, guard)
    try:
        assert await layer.get(HASH) is None and guard.errors == 1
        assert await layer.get(HASH) is None and guard.errors == 1  # left alone for BACKOFF seconds
        await layer.set(HASH, Verdict(PERSON), layer.clock() + 30, DECISIONS.indexes(HASH, Verdict(PERSON)))
        assert guard.errors == 1
        assert await layer.evict(Index("subject", "customer", "u1")) == 0  # evictions are always tried
        assert await layer.evict_key(HASH) == 0 and guard.errors == 3
        clock.advance(BACKOFF)
        await asyncio.wait_for(layer.get(HASH), 2)
        assert guard.errors == 4
    finally:
        await down.aclose()
