"""Replica-shared state on Redis (GATEWAY_REDIS_URL): decision cache and rate limits
(revocations: gateway.replicas.revocations).

Redis is an accelerator, never an authority over availability: every Redis failure is
caught here, counted, logged once per outage, and the caller carries on as if Redis were
not configured (local cache, then Ory). After a failure Redis is left alone for
`BACKOFF` seconds so an outage costs one short timeout per second, not one per request.

Keys (all under `gateway:`; nothing in them is a raw credential):

    gateway:dc:<credential hash>          a serialised decision, PX = its remaining TTL
    gateway:ds:<tenant>:<session id>      set of credential hashes of that session (for revocation)
    gateway:rl:<sha256(key)[:32]>:<window> token-endpoint hits in a fixed window (INCR + EXPIRE)
    channel gateway:revocations           {"tenant", "session_id" | "credential_hash"}

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
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.authn.cache import Entry
from gateway.authn.verdict import Verdict
from gateway.principal import KINDS, Principal

if TYPE_CHECKING:
    pass

log = logging.getLogger("gateway.redis")
audit = logging.getLogger("gateway.audit")

BACKOFF = 1.0
TIMEOUT = 0.25
ENTRY = "gateway:dc:"
SESSION = "gateway:ds:"
WINDOW = "gateway:rl:"
_HASH = re.compile(r"[0-9a-f]{64}")


def entry_key(credential_hash: str) -> str:
    return ENTRY + credential_hash


def session_key(tenant: str, session_id: str) -> str:
    return f"{SESSION}{tenant}:{session_id}"


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


def dump(entry: Entry) -> bytes:
    d = entry.decision
    p = d.principal
    principal = None
    if p is not None:
        principal = {
            "kind": p.kind,
            "tenant": p.tenant,
            "subject": p.subject,
            "organization": p.organization,
            "roles": sorted(p.roles),
            "scopes": sorted(p.scopes),
            "session_id": p.session_id,
            "client_id": p.client_id,
            "aal": p.aal,
            "expires_at": p.expires_at,
            "credential_hash": p.credential_hash,
        }
    return orjson.dumps(
        {"v": 1, "expires": entry.expires, "reason": d.reason, "description": d.description, "principal": principal}
    )


def load(raw: bytes) -> Entry | None:
    """The entry, or None for anything not exactly what `dump` writes (treated as a miss)."""
    try:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or doc.get("v") != 1:
            return None
        p = doc["principal"]
        principal = None
        if p is not None:
            if p["kind"] not in KINDS or not all(isinstance(p[k], str) for k in ("tenant", "subject")):
                return None
            principal = Principal(
                kind=p["kind"],
                tenant=p["tenant"],
                subject=p["subject"],
                organization=_opt(p["organization"]),
                roles=_strings(p["roles"]),
                scopes=_strings(p["scopes"]),
                session_id=_opt(p["session_id"]),
                client_id=_opt(p["client_id"]),
                aal=_opt(p["aal"]),
                expires_at=float(p["expires_at"]) if p["expires_at"] is not None else None,
                credential_hash=str(p["credential_hash"]),
            )
        return Entry(Verdict(principal, str(doc["reason"]), str(doc["description"])), float(doc["expires"]))
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return None


def _opt(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _strings(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("not a list of strings")
    return frozenset(value)


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
            if p is not None and p.session_id:
                index = session_key(p.tenant, p.session_id)
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
        try:
            index = session_key(tenant, session_id)
            members = await self.client.smembers(index)
            keys = [entry_key(k.decode() if isinstance(k, bytes) else k) for k in members]
            deleted = int(await self.client.delete(*keys, index)) if keys else int(await self.client.delete(index))
        except Exception as exc:
            self.guard.failed("evict_session", exc)
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
