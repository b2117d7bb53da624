"""Revocations: applied locally and in Redis, fanned out on `gateway:revocations`, and
accepted at `POST /_gateway/revoke` (404 unless GATEWAY_ADMIN_TOKEN is set).

A revocation names a tenant and one of: a session, a credential hash, a subject (identity id
or client id) or an organization (`gateway.cli.revoke.FORMS`). A revoked session or token is
dropped from every replica's decision cache within a second; a subject or organization also
from the Ory Permissions answers (`gateway.permissions.cache`), so a removed membership or
relationship is honoured at once. Each cache evicts by its own indexes (`gateway.cache`),
here and in Redis; an answer from Ory in flight meanwhile is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from gateway.cli.revoke import CHANNEL, FORMS, message
from gateway.errors import BadRequest, MethodNotAllowed, NotFound, ServiceUnavailable, Unauthenticated

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

    def __init__(self, gw: Gateway, metrics: Metrics, client: aioredis.Redis | None = None) -> None:
        self.gw = gw
        self.metrics = metrics
        self.client = client
        self.subscribed = asyncio.Event()

    async def apply(self, doc: Mapping[str, Any], source: str) -> int:
        """Evict what `doc` names from this replica's caches, then from Redis; the local count."""
        tenant, form, value = parse(doc)
        authenticator, permissions = self.gw.authn.get(tenant), self.gw.permissions.get(tenant)
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
        for authenticator in self.gw.authn.values():
            authenticator.cache.clear()
        for permissions in self.gw.permissions.values():
            permissions.clear()

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
        tenant, form, value = parse(doc)
        if tenant not in gw.authn:
            raise BadRequest(f"unknown tenant {tenant!r}", reason="bad_revocation")
        evicted = await self.apply(doc, "admin")
        event = {"event": "revocation", "actor": "admin-token", "tenant": tenant, form: value}
        event |= {"client": ex.origin.client_ip, "request_id": ex.origin.request_id}
        audit.info(orjson.dumps(event).decode())
        receivers: int | None = None
        if self.client is not None:
            try:
                receivers = int(await self.client.publish(CHANNEL, message(tenant, form, value)))
            except Exception as exc:
                raise RedisUnavailable(
                    "evicted on this replica only: Redis is unavailable, other replicas were not told",
                    retry_after=1,
                    reason="redis_unavailable",
                ) from exc
        await ex.respond_json(200, {"evicted_here": evicted, "published_to": receivers})


class RedisUnavailable(ServiceUnavailable):
    code = "redis_unavailable"


class Revocation(NamedTuple):
    tenant: str
    #: one of `gateway.cli.revoke.FORMS`
    form: str
    value: str


def parse(doc: Mapping[str, Any]) -> Revocation:
    tenant = doc.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise BadRequest("'tenant' is required", reason="bad_revocation")
    given = [form for form in FORMS if doc.get(form) is not None]
    if len(given) != 1:
        raise BadRequest(f"give exactly one of {', '.join(repr(f) for f in FORMS)}", reason="bad_revocation")
    form = given[0]
    value = doc[form]
    if form == "credential_hash":
        if not (isinstance(value, str) and _HASH.fullmatch(value)):
            raise BadRequest("'credential_hash' must be 64 lower-case hex digits", reason="bad_revocation")
    elif not isinstance(value, str) or not 0 < len(value) <= 256:
        raise BadRequest(f"{form!r} must be a string of 1-256 characters", reason="bad_revocation")
    return Revocation(tenant, form, value)


__all__ = ["RedisUnavailable", "Revocation", "Revocations"]
