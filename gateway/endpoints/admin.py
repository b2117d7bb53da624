"""The gateway's admin endpoints: who may call them, and `POST /_gateway/revoke`.

An admin endpoint exists only when `GATEWAY_ADMIN_TOKEN` is set (404 otherwise, as any
unknown path); a method it does not answer is 405; then the caller must send the token as
`Authorization: Bearer <token>` (compared in constant time; a refusal is 401 and one audit
line). `POST /_gateway/revoke` takes a revocation (`gateway.replicas.channel`), applies it
here and in Redis, and tells the other replicas.
"""

from __future__ import annotations

import hmac
import logging

import orjson

from gateway.config.settings import Settings
from gateway.errors import BadRequest, MethodNotAllowed, NotFound, Unauthenticated
from gateway.front.exchange import Exchange
from gateway.replicas.channel import parse
from gateway.replicas.revocations import Revocations

audit = logging.getLogger("gateway.audit")


def require_admin(settings: Settings, ex: Exchange, path: str, methods: frozenset[str] | None) -> None:
    """Return when the caller may use the admin endpoint at `path`; else raise."""
    token = settings.admin_token
    if token is None:
        raise NotFound("no such route", reason="no_route")
    if methods is not None:
        allow_method(ex, methods)
    given = ex.request.header(b"authorization") or b""
    if not (given[:7].lower() == b"bearer " and hmac.compare_digest(given[7:].strip(), token.encode())):
        event = {"event": "admin_denied", "path": path, "client": ex.origin.client_ip}
        audit.info(orjson.dumps(event | {"request_id": ex.origin.request_id}).decode())
        raise Unauthenticated("admin token required", realm="gateway-admin", reason="admin_token")


def allow_method(ex: Exchange, methods: frozenset[str]) -> None:
    if ex.request.method not in methods:
        raise MethodNotAllowed(f"use {', '.join(sorted(methods))}", allowed=methods)


async def revoke(revocations: Revocations, ex: Exchange) -> None:
    try:
        doc = orjson.loads(await ex.read_body(4096))
    except orjson.JSONDecodeError as exc:
        raise BadRequest("body must be JSON", reason="bad_revocation") from exc
    if not isinstance(doc, dict):
        raise BadRequest("body must be a JSON object", reason="bad_revocation")
    tenant, form, value = parse(doc)
    if tenant not in revocations.authn:
        raise BadRequest(f"unknown tenant {tenant!r}", reason="bad_revocation")
    evicted = await revocations.apply(doc, "admin")
    event = {"event": "revocation", "actor": "admin-token", "tenant": tenant, form: value}
    event |= {"client": ex.origin.client_ip, "request_id": ex.origin.request_id}
    audit.info(orjson.dumps(event).decode())
    receivers = await revocations.publish(tenant, form, value)
    await ex.respond_json(200, {"evicted_here": evicted, "published_to": receivers})
