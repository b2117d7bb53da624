"""Replica-shared state on Redis (GATEWAY_REDIS_URL): the connection, the `Guard` every
Redis call goes through. The cache's layer: `gateway.replicas.cache`; revocations:
`gateway.replicas.revocations`; rate-limit windows: `gateway.quotas.windows`.

Redis is an accelerator, never an authority over availability: every Redis failure is
caught, counted, logged once per outage, and the caller carries on as if Redis were
not configured (local cache, then Ory). After a failure Redis is left alone for
`BACKOFF` seconds so an outage costs one short timeout per second, not one per request.

Keys (all under `gateway:`; nothing in them is a raw credential or an id in clear, a
Kratos session id aside):

    gateway:dc:<credential hash>           a cached decision, PX = its remaining TTL (`verdicts`)
    gateway:ds:<tenant>:<session id>       set of credential hashes of that session
    gateway:du:<sha256(tenant, subject)>   set of credential hashes of that identity or client
    gateway:do:<sha256(tenant, org)>       set of credential hashes of principals speaking for that org
    gateway:pc:<sha256(key)>               a Keto answer, PX = its remaining TTL (`permissions`)
    gateway:ps:<sha256(tenant, subject)>   set of answer hashes about that subject
    gateway:po:<sha256(tenant, org)>       set of answer hashes about that organization
    gateway:rl:LIMITER/q/<sha256(key)[:32]>/...  sliding-window counts (the `limits` library:
                                           route limits, unknown credentials, token requests)
    channel gateway:revocations            {"tenant", "session_id" | "credential_hash" | "subject" | "organization"}

Redis is inside the trust boundary: whoever can write these keys can mint principals.
Run it private, with a password/ACL (and rediss:// across hosts).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger("gateway.redis")

BACKOFF = 1.0
TIMEOUT = 0.25


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


__all__ = ["Guard", "connect"]
