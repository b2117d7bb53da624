"""Built-in targets: the tenant's OAuth2 endpoints for partners, and the identity lookup.

* `oauth2_token` relays `POST /<tenant>/oauth2/token` to the tenant's Hydra unchanged
  (client authentication, scope, audience; RFC 6749 errors come back as Hydra sent
  them), rate limited per client id. Never cached. Hydra down or answering garbage is
  a 503 with `Retry-After`, never a forwarded partial.
* `hydra_jwks` / `hydra_discovery` relay the tenant's public key set and discovery
  document; discovery's `token_endpoint` and `jwks_uri` point at the gateway so
  partners need only its address (`issuer` stays Hydra's: tokens carry it).
* `identity_lookup` reads one identity of another tenant through its Kratos admin
  API, without credentials or `metadata_admin`, and writes one JSON audit line.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx
import orjson

from gateway.config.load import TenantSettings
from gateway.context import Gateway
from gateway.endpoints.rate_limit import RateLimiter
from gateway.errors import NotFound, ServiceUnavailable, TooManyRequests
from gateway.forward.dispatch import Handler
from gateway.front.exchange import Exchange
from gateway.front.login import login as browser_login
from gateway.ory.identities import IdentityService
from gateway.policy import Builtin, Match
from gateway.principal import Principal

audit = logging.getLogger("gateway.audit")

PASSED_BACK = (b"content-type", b"cache-control", b"pragma", b"www-authenticate", b"retry-after")
TOKEN_PATH = "/oauth2/token"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


def build_builtins(gw: Gateway) -> Mapping[str, Handler]:
    limiter = RateLimiter(gw.settings.limits.token_rate_per_minute, 60.0)

    async def oauth2_token(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = _hydra_tenant(gw, match)
        body = await ex.read_body(64 << 10)
        client_id = _client_id(ex.request.header(b"authorization"), body)
        ex.log["client_id"] = client_id
        wait = limiter.hit(f"{tenant.name}:{client_id or 'ip:' + ex.origin.client_ip}")
        if wait:
            raise TooManyRequests("token requests are rate limited", retry_after=wait, reason="token_rate_limited")
        headers = {}
        for name in (b"content-type", b"authorization"):
            if (value := ex.request.header(name)) is not None:
                headers[name.decode()] = value.decode("latin-1")
        resp = await _call(gw, "POST", _hydra(tenant) + TOKEN_PATH, headers, body, tenant.timeout)
        await _relay(ex, resp, resp.content)

    async def jwks(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = _hydra_tenant(gw, match)
        resp = await _call(gw, "GET", _hydra(tenant) + JWKS_PATH, {}, None, tenant.timeout)
        await _relay(ex, resp, resp.content)

    async def discovery(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = _hydra_tenant(gw, match)
        resp = await _call(gw, "GET", _hydra(tenant) + DISCOVERY_PATH, {}, None, tenant.timeout)
        doc = _json(resp)
        if resp.status_code == 200 and isinstance(doc, dict):
            base = _gateway_base(gw, ex, tenant, DISCOVERY_PATH)
            doc = {**doc, "token_endpoint": base + TOKEN_PATH, "jwks_uri": base + JWKS_PATH}
        await _relay(ex, resp, orjson.dumps(doc))

    async def identity_lookup(ex: Exchange, match: Match, principal: Principal | None) -> None:
        target = match.route.target
        assert isinstance(target, Builtin)
        tenant = str(target.options["tenant"])
        identity_id = match.params[str(target.options.get("param", "id"))]
        service = IdentityService.for_tenant(gw.settings.tenants[tenant], gw.ory)
        identity = await service.get(identity_id)
        audit.info(orjson.dumps({
            "event": "identity_read", "ts": round(time.time(), 3), "timestamp": _now(),
            "actor": principal.subject if principal else None,
            "actor_kind": principal.kind if principal else None, "actor_tenant": match.route.tenant,
            "target_tenant": tenant, "identity_id": identity_id, "request_id": ex.origin.request_id,
            "found": identity is not None,
        }).decode())  # fmt: skip
        if identity is None:
            raise NotFound("identity not found", reason="identity_not_found")
        await ex.respond_json(200, identity, [(b"cache-control", b"no-store")])

    async def login(ex: Exchange, match: Match, principal: Principal | None) -> None:
        await browser_login(ex, gw.settings.tenants[match.route.tenant])

    return {
        "login": login,
        "oauth2_token": oauth2_token,
        "hydra_jwks": jwks,
        "hydra_discovery": discovery,
        "identity_lookup": identity_lookup,
    }


def _hydra_tenant(gw: Gateway, match: Match) -> TenantSettings:
    tenant = gw.settings.tenants[match.route.tenant]
    if tenant.hydra_public_url is None:
        raise NotFound("this tenant has no OAuth2 server", reason="no_hydra")
    return tenant


def _hydra(tenant: TenantSettings) -> str:
    assert tenant.hydra_public_url is not None
    return tenant.hydra_public_url.rstrip("/")


def _gateway_base(gw: Gateway, ex: Exchange, tenant: TenantSettings, suffix: str) -> str:
    """Where partners reach this tenant's OAuth2 endpoints on the gateway: the configured
    public URL (or, for a host-routed tenant, the host it was reached at) plus the path
    prefix the request used (`/<tenant>` unless the tenant was chosen by host)."""
    path = ex.request.path
    prefix = path[: -len(suffix)] if path.endswith(suffix) else ""
    if ex.origin.host and ex.origin.host.split(":")[0] in tenant.hosts:
        return f"{ex.origin.scheme}://{ex.origin.host}{prefix}"
    return gw.settings.public_url.rstrip("/") + prefix


async def _call(
    gw: Gateway, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
) -> httpx.Response:
    """Hydra's complete answer; a transport error, 5xx or non-JSON body is a 503 instead."""
    try:
        resp = await gw.ory.request(method, url, headers=headers, content=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("the OAuth2 server is unavailable", retry_after=2, reason="hydra_down") from exc
    if resp.status_code >= 500:
        raise ServiceUnavailable("the OAuth2 server is unavailable", retry_after=2, reason="hydra_error")
    _json(resp)
    return resp


def _json(resp: httpx.Response) -> Any:
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError as exc:
        malformed = "the OAuth2 server sent a malformed answer"
        raise ServiceUnavailable(malformed, retry_after=2, reason="hydra_garbage") from exc


async def _relay(ex: Exchange, resp: httpx.Response, body: bytes) -> None:
    kept = [(k.encode(), v.encode("latin-1")) for k, v in resp.headers.items() if k.encode() in PASSED_BACK]
    await ex.send_start(resp.status_code, [*kept, (b"x-request-id", ex.origin.request_id.encode())])
    await ex.send({"type": "http.response.body", "body": body})


def _client_id(authorization: bytes | None, body: bytes) -> str | None:
    """The client id for rate limiting: from Basic auth, else the form (never trusted for auth).

    A malformed header yields None (the caller is then limited by address) and is
    still relayed, so Hydra gives the RFC 6749 answer, not the gateway."""
    if authorization and authorization[:6].lower() == b"basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote_plus(decoded.split(":", 1)[0]) or None
    values = parse_qs(body.decode("latin-1")).get("client_id")
    return values[0] if values else None


def _now() -> str:
    """UTC, RFC 3339 with milliseconds."""
    epoch = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"
