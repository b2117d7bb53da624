"""Replica-shared state on Redis (GATEWAY_REDIS_URL): decision cache, revocations, rate limits.

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
import contextlib
import hashlib
import hmac
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.authn.cache import Entry, MemoryBackend
from gateway.authn.decision import Decision
from gateway.errors import BadRequest, MethodNotAllowed, NotFound, ServiceUnavailable, Unauthenticated
from gateway.principal import KINDS, Principal
from gateway.revoke import CHANNEL, message

if TYPE_CHECKING:
    from gateway.context import Gateway
    from gateway.exchange import Exchange
    from gateway.metrics import Metrics

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
        url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0),
        health_check_interval=10,
    )  # fmt: skip


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
            "kind": p.kind, "tenant": p.tenant, "subject": p.subject, "organization": p.organization,
            "roles": sorted(p.roles), "scopes": sorted(p.scopes), "session_id": p.session_id,
            "client_id": p.client_id, "aal": p.aal, "expires_at": p.expires_at, "credential_hash": p.credential_hash,
        }  # fmt: skip
    return orjson.dumps({"v": 1, "expires": entry.expires, "reason": d.reason, "description": d.description,
                         "principal": principal})  # fmt: skip


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
                kind=p["kind"], tenant=p["tenant"], subject=p["subject"], organization=_opt(p["organization"]),
                roles=_strings(p["roles"]), scopes=_strings(p["scopes"]), session_id=_opt(p["session_id"]),
                client_id=_opt(p["client_id"]), aal=_opt(p["aal"]),
                expires_at=float(p["expires_at"]) if p["expires_at"] is not None else None,
                credential_hash=str(p["credential_hash"]),
            )  # fmt: skip
        return Entry(Decision(principal, str(doc["reason"]), str(doc["description"])), float(doc["expires"]))
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


# -- revocations -------------------------------------------------------------------------------


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
        log.info(orjson.dumps({"event": "revocation_applied", "source": source, "tenant": tenant,
                               "session_id": session_id, "credential_hash": credential_hash,
                               "evicted": evicted}).decode())  # fmt: skip
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
            audit.info(orjson.dumps({"event": "admin_denied", "path": "/_gateway/revoke", "client": ex.origin.client_ip,
                                     "request_id": ex.origin.request_id}).decode())  # fmt: skip
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
        audit.info(orjson.dumps({
            "event": "revocation", "actor": "admin-token", "tenant": tenant, "session_id": session_id,
            "credential_hash": credential_hash, "client": ex.origin.client_ip, "request_id": ex.origin.request_id,
        }).decode())  # fmt: skip
        receivers: int | None = None
        if self.client is not None:
            try:
                receivers = int(await self.client.publish(CHANNEL, message(tenant, session_id, credential_hash)))
            except Exception as exc:
                raise RedisUnavailable(
                    "evicted on this replica only: Redis is unavailable, other replicas were not told",
                    retry_after=1, reason="redis_unavailable",
                ) from exc  # fmt: skip
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


__all__ = ["Guard", "RedisShared", "RedisUnavailable", "RedisWindows", "Revocations", "connect"]
