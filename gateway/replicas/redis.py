"""Replica-shared state on Redis (GATEWAY_REDIS_URL): decision cache and rate limits
(revocations: gateway.replicas.revocations).

Redis is an accelerator, never an authority over availability: every Redis failure is
caught here, counted, logged once per outage, and the caller carries on as if Redis were
not configured (local cache, then Ory). After a failure Redis is left alone for
`BACKOFF` seconds so an outage costs one short timeout per second, not one per request.

Keys (all under `gateway:`; nothing in them is a raw credential):

    gateway:dc:<credential hash>          a serialised decision, PX = its remaining TTL
    gateway:ds:<tenant>:<session id>      set of credential hashes of that session (for revocation)
    gateway:du:<sha256(tenant, subject)>  set of credential hashes of that identity or client
    gateway:do:<sha256(tenant, org)>      set of credential hashes of principals speaking for that org
    gateway:rl:<sha256(key)[:32]>:<window> token-endpoint hits in a fixed window (INCR + EXPIRE)
    channel gateway:revocations           {"tenant", "session_id" | "credential_hash" | "subject" | "organization"}

Ory Permissions answers live beside them (`gateway.replicas.permissions`).

Redis is inside the trust boundary: whoever can write these keys can mint principals.
Run it private, with a password/ACL (and rediss:// across hosts).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.authn.cache import Entry, organizations_of
from gateway.principal import Principal
from gateway.replicas.entries import dump, load

log = logging.getLogger("gateway.redis")
audit = logging.getLogger("gateway.audit")

BACKOFF = 1.0
TIMEOUT = 0.25
ENTRY = "gateway:dc:"
SESSION = "gateway:ds:"
SUBJECT = "gateway:du:"
ORGANIZATION = "gateway:do:"
WINDOW = "gateway:rl:"
_HASH = re.compile(r"[0-9a-f]{64}")


def entry_key(credential_hash: str) -> str:
    return ENTRY + credential_hash


def session_key(tenant: str, session_id: str) -> str:
    return f"{SESSION}{tenant}:{session_id}"


def subject_key(tenant: str, subject: str) -> str:
    return SUBJECT + hashlib.sha256(orjson.dumps([tenant, subject])).hexdigest()


def organization_key(tenant: str, organization: str) -> str:
    return ORGANIZATION + hashlib.sha256(orjson.dumps([tenant, organization])).hexdigest()


def principal_indexes(p: Principal) -> list[str]:
    """The revocation indexes a cached principal is listed in."""
    indexes = [subject_key(p.tenant, p.subject), *(organization_key(p.tenant, o) for o in sorted(organizations_of(p)))]
    if p.session_id:
        indexes.append(session_key(p.tenant, p.session_id))
    return indexes


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        socket_timeout=TIMEOUT,
        socket_connect_timeout=TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=10,
    )


class Guard:
    """Counts failures, logs an outage once, and keeps callers off Redis for `BACKOFF` s."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.errors = 0
        self._until = 0.0
        self._down = False

    @property
    def open(self) -> bool:
        return self.clock() >= self._until

    def failed(self, operation: str, exc: BaseException) -> None:
        self.errors += 1
        self._until = self.clock() + BACKOFF
        if not self._down:
            self._down = True
            log.warning(f"Redis unavailable ({operation}: {type(exc).__name__}); serving from local cache and Ory")

    def ok(self) -> None:
        if self._down:
            self._down = False
            log.warning("Redis reachable again")


# -- decision cache ----------------------------------------------------------------------------


class RedisShared:
    """The `SharedBackend` of gateway.authn.cache on Redis. Never raises."""

    def __init__(self, client: aioredis.Redis, max_ttl: float, guard: Guard, clock: Callable[[], float] = time.time):
        self.client = client
        self.max_ttl = max_ttl
        self.guard = guard
        self.clock = clock
        self.hits = 0
        self.misses = 0

    def counts(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "errors": self.guard.errors}

    async def get(self, key: str) -> Entry | None:
        if not self.guard.open:
            return None
        try:
            raw = await self.client.get(entry_key(key))
        except Exception as exc:  # Redis must never fail a request
            self.guard.failed("get", exc)
            return None
        self.guard.ok()
        entry = load(raw) if isinstance(raw, bytes) else None
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    async def set(self, key: str, entry: Entry) -> None:
        ttl_ms = int((entry.expires - self.clock()) * 1000)
        if ttl_ms <= 0 or not self.guard.open:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(entry_key(key), dump(entry), px=ttl_ms)
            p = entry.decision.principal
            for index in principal_indexes(p) if p is not None else ():
                pipe.sadd(index, key)
                pipe.expire(index, math.ceil(self.max_ttl) + 1)
            await pipe.execute()
        except Exception as exc:
            self.guard.failed("set", exc)
            return
        self.guard.ok()

    async def delete(self, key: str) -> bool:
        return await self.evict_credential_hash(key) > 0

    async def evict_session(self, tenant: str, session_id: str) -> int:
        return await self._evict_index(session_key(tenant, session_id))

    async def evict_subject(self, tenant: str, subject: str) -> int:
        return await self._evict_index(subject_key(tenant, subject))

    async def evict_organization(self, tenant: str, organization: str) -> int:
        return await self._evict_index(organization_key(tenant, organization))

    async def _evict_index(self, index: str) -> int:
        try:
            deleted = await evict_index(self.client, index)
        except Exception as exc:
            self.guard.failed("evict", exc)
            return 0
        self.guard.ok()
        return deleted

    async def evict_credential_hash(self, h: str) -> int:
        try:
            deleted = int(await self.client.delete(entry_key(h)))
        except Exception as exc:
            self.guard.failed("evict", exc)
            return 0
        self.guard.ok()
        return deleted


async def evict_index(client: aioredis.Redis, index: str) -> int:
    """Delete every decision an index lists, and the index."""
    members = await client.smembers(index)
    keys = [entry_key(k.decode() if isinstance(k, bytes) else k) for k in members]
    return int(await client.delete(*keys, index))


# -- shared rate-limit windows -------------------------------------------------------------------


class RedisWindows:
    """`ratelimit.SharedCounter` on Redis: INCR per key and fixed window, in the background."""

    def __init__(self, client: aioredis.Redis, guard: Guard) -> None:
        self.client = client
        self.guard = guard
        self._tasks: set[asyncio.Task[None]] = set()

    def count(self, key: str, period: float, then: Callable[[int, float], None]) -> None:
        if not self.guard.open:
            return
        task = asyncio.ensure_future(self._count(key, period, then))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _count(self, key: str, period: float, then: Callable[[int, float], None]) -> None:
        window = int(time.time() // period)
        name = f"{WINDOW}{hashlib.sha256(key.encode()).hexdigest()[:32]}:{window}"
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(name)
            pipe.expire(name, math.ceil(period) + 1)
            total, _ = await pipe.execute()
        except Exception as exc:
            self.guard.failed("rate_limit", exc)
            return
        self.guard.ok()
        then(int(total), (window + 1) * period - time.time())


__all__ = ["Guard", "RedisShared", "RedisWindows", "connect"]
