"""Revocations: applied locally and in Redis, fanned out on `gateway:revocations`, and
accepted at `POST /_gateway/revoke` (404 unless GATEWAY_ADMIN_TOKEN is set).

A revoked session or token is dropped from every replica's decision cache within a
second (see docs/operations.md for the remaining race with an in-flight Ory call).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis

from gateway.authn.cache import MemoryBackend
from gateway.cli.revoke import CHANNEL, message
from gateway.errors import BadRequest, MethodNotAllowed, NotFound, ServiceUnavailable, Unauthenticated
from gateway.replicas.redis import RedisShared

if TYPE_CHECKING:
    from gateway.context import Gateway
    from gateway.front.exchange import Exchange
    from gateway.observe.metrics import Metrics

log = logging.getLogger("gateway.redis")
audit = logging.getLogger("gateway.audit")
_HASH = re.compile(r"[0-9a-f]{64}")


class Revocations:
    """Applies revocations locally and in Redis; listens on `gateway:revocations`; serves
    `POST /_gateway/revoke` (404 unless GATEWAY_ADMIN_TOKEN is set)."""

    def __init__(
        self, gw: Gateway, metrics: Metrics, client: aioredis.Redis | None = None, shared: RedisShared | None = None
    ) -> None:
        self.gw = gw
        self.metrics = metrics
        self.client = client
        self.shared = shared
        self.subscribed = asyncio.Event()

    async def apply(self, doc: Mapping[str, Any], source: str) -> int:
        """Evict what `doc` names from this replica's cache and from Redis; the local count."""
        tenant, session_id, credential_hash = parse(doc)
        authenticator = self.gw.authn.get(tenant)
        if authenticator is None:
            return 0
        evicted = 0
        if session_id is not None:
            evicted = authenticator.evict_session(session_id)
            if self.shared is not None:
                await self.shared.evict_session(tenant, session_id)
        if credential_hash is not None:
            evicted += authenticator.cache.evict_credential_hash(credential_hash)
            if self.shared is not None:
                await self.shared.evict_credential_hash(credential_hash)
        self.metrics.revocations.labels(source).inc()
        log.info(
            orjson.dumps(
                {
                    "event": "revocation_applied",
                    "source": source,
                    "tenant": tenant,
                    "session_id": session_id,
                    "credential_hash": credential_hash,
                    "evicted": evicted,
                }
            ).decode()
        )
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
        for authenticator in self.gw.authn.values():
            authenticator.cache.backend = MemoryBackend(self.gw.settings.cache.size, time.time)

    async def endpoint(self, gw: Gateway, ex: Exchange) -> None:
        token = gw.settings.admin_token
        if token is None:
            raise NotFound("no such route", reason="no_route")
        if ex.request.method != "POST":
            raise MethodNotAllowed("use POST", allowed=frozenset({"POST"}))
        given = ex.request.header(b"authorization") or b""
        if not (given[:7].lower() == b"bearer " and hmac.compare_digest(given[7:].strip(), token.encode())):
            audit.info(
                orjson.dumps(
                    {
                        "event": "admin_denied",
                        "path": "/_gateway/revoke",
                        "client": ex.origin.client_ip,
                        "request_id": ex.origin.request_id,
                    }
                ).decode()
            )
            raise Unauthenticated("admin token required", realm="gateway-admin", reason="admin_token")
        try:
            doc = orjson.loads(await ex.read_body(4096))
        except orjson.JSONDecodeError as exc:
            raise BadRequest("body must be JSON", reason="bad_revocation") from exc
        if not isinstance(doc, dict):
            raise BadRequest("body must be a JSON object", reason="bad_revocation")
        tenant, session_id, credential_hash = parse(doc)
        if tenant not in gw.authn:
            raise BadRequest(f"unknown tenant {tenant!r}", reason="bad_revocation")
        evicted = await self.apply(doc, "admin")
        audit.info(
            orjson.dumps(
                {
                    "event": "revocation",
                    "actor": "admin-token",
                    "tenant": tenant,
                    "session_id": session_id,
                    "credential_hash": credential_hash,
                    "client": ex.origin.client_ip,
                    "request_id": ex.origin.request_id,
                }
            ).decode()
        )
        receivers: int | None = None
        if self.client is not None:
            try:
                receivers = int(await self.client.publish(CHANNEL, message(tenant, session_id, credential_hash)))
            except Exception as exc:
                raise RedisUnavailable(
                    "evicted on this replica only: Redis is unavailable, other replicas were not told",
                    retry_after=1,
                    reason="redis_unavailable",
                ) from exc
        await ex.respond_json(200, {"evicted_here": evicted, "published_to": receivers})


class RedisUnavailable(ServiceUnavailable):
    code = "redis_unavailable"


def parse(doc: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    tenant, session_id, credential_hash = doc.get("tenant"), doc.get("session_id"), doc.get("credential_hash")
    if not isinstance(tenant, str) or not tenant:
        raise BadRequest("'tenant' is required", reason="bad_revocation")
    if (session_id is None) == (credential_hash is None):
        raise BadRequest("give exactly one of 'session_id' and 'credential_hash'", reason="bad_revocation")
    if session_id is not None and (not isinstance(session_id, str) or not 0 < len(session_id) <= 256):
        raise BadRequest("'session_id' must be a string", reason="bad_revocation")
    if credential_hash is not None and not (isinstance(credential_hash, str) and _HASH.fullmatch(credential_hash)):
        raise BadRequest("'credential_hash' must be 64 lower-case hex digits", reason="bad_revocation")
    return tenant, session_id, credential_hash


__all__ = ["RedisUnavailable", "Revocations"]
