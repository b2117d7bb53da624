"""Revocations: applied locally and in Redis, and fanned out on `gateway:revocations`
(`gateway revoke`, and `POST /_gateway/revoke`: `gateway.endpoints.admin`).

A revocation names a tenant and one of: a session, a credential hash, a subject (identity id
or client id) or an organization (`gateway.replicas.channel.FORMS`). A revoked session or token is
dropped from every replica's decision cache within a second; a subject or organization also
from the Ory Permissions answers (`gateway.permissions.cache`), so a removed membership or
relationship is honoured at once. Each cache evicts by its own indexes (`gateway.cache`),
here and in Redis; an answer from Ory in flight meanwhile is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis

from gateway.errors import BadRequest, RedisUnavailable
from gateway.replicas.channel import CHANNEL, message, parse

if TYPE_CHECKING:
    from gateway.authn import TenantAuthenticator
    from gateway.observe.metrics import Metrics
    from gateway.permissions.checker import TenantPermissions

log = logging.getLogger("gateway.redis")


class Revocations:
    """Applies revocations locally and in Redis; listens on and publishes to `gateway:revocations`."""

    def __init__(
        self,
        authn: Mapping[str, TenantAuthenticator],
        permissions: Mapping[str, TenantPermissions],
        metrics: Metrics,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.authn, self.permissions = authn, permissions
        self.metrics = metrics
        self.client = client
        self.subscribed = asyncio.Event()

    async def apply(self, doc: Mapping[str, Any], source: str) -> int:
        """Evict what `doc` names from this replica's caches, then from Redis; the local count."""
        tenant, form, value = parse(doc)
        authenticator, permissions = self.authn.get(tenant), self.permissions.get(tenant)
        if authenticator is None:
            return 0
        holders = (authenticator,) if permissions is None else (authenticator, permissions)
        evicted = sum(holder.evict(form, value) for holder in holders)
        for holder in holders:
            await holder.evict_shared(form, value)
        self.metrics.revocations.labels(source).inc()
        event = {"event": "revocation_applied", "source": source, "tenant": tenant, form: value, "evicted": evicted}
        log.info(orjson.dumps(event).decode())
        return evicted

    async def listen(self) -> None:
        """Subscriber loop: reconnects forever; after a lost subscription the local caches are
        flushed, since revocations published meanwhile were missed."""
        assert self.client is not None
        lost = False
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                if lost:
                    self._flush()
                    log.warning("revocation channel re-subscribed; local decision caches flushed")
                lost = False
                self.subscribed.set()
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        await self._received(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep listening whatever happens
                if not lost:
                    log.warning(f"revocation channel lost ({type(exc).__name__}); retrying")
                lost = True
                self.subscribed.clear()
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _received(self, data: bytes) -> None:
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            await self.apply(doc, "redis")
        except (ValueError, BadRequest) as exc:
            log.warning(f"ignored a malformed revocation message: {exc}")

    def _flush(self) -> None:
        for authenticator in self.authn.values():
            authenticator.cache.clear()
        for permissions in self.permissions.values():
            permissions.clear()

    async def publish(self, tenant: str, form: str, value: str) -> int | None:
        """Tell the other replicas (None without Redis): how many listened. A Redis outage is
        503 `redis_unavailable` (the revocation was applied on this replica only)."""
        if self.client is None:
            return None
        try:
            return int(await self.client.publish(CHANNEL, message(tenant, form, value)))
        except Exception as exc:
            raise RedisUnavailable(
                "evicted on this replica only: Redis is unavailable, other replicas were not told",
                retry_after=1,
                reason="redis_unavailable",
            ) from exc
