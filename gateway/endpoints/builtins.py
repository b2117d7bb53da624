"""The built-in targets, one registry: what a route's ``builtin: {name: ...}`` may name.

Each `BuiltinKind` has an id, the options it takes, a `validate` the policy loader runs on
every route that names it (its problems are ``file:line`` lines of ``gateway check``,
never a 500 later), and its one verb, `bind`, which makes the request handler for the
running gateway (`gateway.endpoints.builtin_dispatch.BuiltinDispatch` calls it by id).

* `oauth2_token` relays `POST /<tenant>/oauth2/token` to the tenant's Hydra unchanged
  (client authentication, scope, audience; RFC 6749 errors come back as Hydra sent
  them), rate limited per client id. Never cached. Hydra down or answering garbage is
  a 503 with `Retry-After`, never a forwarded partial.
* `hydra_jwks` / `hydra_discovery` relay the tenant's public key set and discovery
  document; discovery's `token_endpoint` and `jwks_uri` point at the gateway so
  partners need only its address (`issuer` stays Hydra's: tokens carry it).
* `identity_lookup` reads one identity of another tenant through its Kratos admin
  API, without credentials or `metadata_admin`, and writes one JSON audit line.
* `login` answers a browser without a session with the tenant's login page.
* `logout` signs a browser out through the tenant's Kratos browser logout flow.
* `me` tells the caller who they are to the tenant: subject, kind, organization,
  memberships with roles, AAL; never a credential (`gateway.endpoints.me`).

Adding a built-in is one `BuiltinKind` in `REGISTRY` (and its documentation in
docs/policies.md); nothing else keeps a list of them.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, unquote_plus

import httpx
import orjson

from gateway.authn.credentials import session_cookie
from gateway.config.settings import Settings, TenantSettings
from gateway.endpoints.me import ListsMemberships, Policies, bind_me
from gateway.errors import NotFound, TooManyRequests
from gateway.front.login import login as browser_login
from gateway.front.login import logout as browser_logout
from gateway.ory.http import json_value, ory_request
from gateway.ory.identities import IdentityService
from gateway.ory.pool import OryPool
from gateway.quotas.fields import rate_fields
from gateway.quotas.windows import Windows, quota, window_key

if TYPE_CHECKING:  # the registry is read by the policy loader: it imports nothing of the request path
    from gateway.front.exchange import Exchange
    from gateway.policy.model import Match, Pattern
    from gateway.principal import Principal

audit = logging.getLogger("gateway.audit")

#: a built-in's request handler: the exchange, the matched route and the caller (None if anonymous)
Handler = Callable[["Exchange", "Match", "Principal | None"], Awaitable[None]]
#: where in the route a problem is (keys from the route's mapping) and what it is
Problem = tuple[tuple[str, ...], str]

PASSED_BACK = (b"content-type", b"cache-control", b"pragma", b"www-authenticate", b"retry-after")
TOKEN_PATH = "/oauth2/token"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
HYDRA = "hydra"


class Evicts(Protocol):
    def evict_credential(self, credential: str) -> int: ...


@dataclass(frozen=True, slots=True)
class BuiltinContext:
    """What a built-in reaches of the running gateway."""

    settings: Settings
    #: each tenant's way to its Ory (`gateway.ory.pool`)
    ory: Mapping[str, OryPool]
    #: each tenant's authenticator (a signed-out cookie is forgotten at once)
    authn: Mapping[str, Evicts]
    #: each tenant's organization stage (`me` lists the caller's memberships)
    orgs: Mapping[str, ListsMemberships]
    #: the policies (the role names a tenant's policies use)
    policies: Policies
    #: the rate windows (shared by replicas through Redis when configured): the token relay
    #: counts each client id's requests in them
    windows: Windows


@dataclass(frozen=True, slots=True)
class BuiltinUse:
    """One route's use of a built-in, as the policy loader sees it."""

    name: str
    options: Mapping[str, str]
    patterns: Sequence[Pattern]
    #: the tenants the route is served for
    tenants: Sequence[TenantSettings]
    settings: Settings


@dataclass(frozen=True, slots=True)
class BuiltinKind:
    id: str
    #: the handler for the running gateway (the verb)
    bind: Callable[[BuiltinContext], Handler]
    #: options the route must give (``builtin: {name: ..., <option>: ...}``); no others are accepted
    options: frozenset[str] = frozenset()
    #: whether a route may serve it to anonymous callers
    anonymous: bool = True
    #: problems with a route's use of it, once its options are the right ones
    validate: Callable[[BuiltinUse], Iterator[Problem]] = lambda use: iter(())


# --- the OAuth2 relay ---------------------------------------------------------------


def _needs_hydra(use: BuiltinUse) -> Iterator[Problem]:
    for tenant in use.tenants:
        if tenant.hydra_public_url is None:
            variable = f"{tenant.env_prefix}HYDRA_PUBLIC_URL"
            yield ("builtin",), f"builtin {use.name} needs tenant {tenant.name!r} to set {variable}"


def _oauth2_token(ctx: BuiltinContext) -> Handler:
    rate = ctx.settings.limits.token_rate_per_minute
    per_minute, windows = quota(rate, 60), ctx.windows

    async def oauth2_token(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = _hydra_tenant(ctx, match)
        body = await ex.read_body(64 << 10)
        client_id = _client_id(ex.request.header(b"authorization"), body)
        ex.log["client_id"] = client_id
        key = window_key("token", tenant.name, client_id or "ip:" + ex.origin.client_ip)
        if not await windows.hit(per_minute, key):
            wait = await windows.retry_after(per_minute, key)
            raise TooManyRequests(
                "token requests are rate limited",
                retry_after=wait,
                reason="token_rate_limited",
                headers=rate_fields("oauth2-token", rate, 60, 0, wait),
            )
        headers = {}
        for name in (b"content-type", b"authorization"):
            if (value := ex.request.header(name)) is not None:
                headers[name.decode()] = value.decode("latin-1")
        resp = await _call(ctx.ory[tenant.name], "POST", _hydra(tenant) + TOKEN_PATH, headers, body, tenant.timeout)
        await _relay(ex, resp, resp.content)

    return oauth2_token


def _hydra_jwks(ctx: BuiltinContext) -> Handler:
    async def jwks(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = _hydra_tenant(ctx, match)
        resp = await _call(ctx.ory[tenant.name], "GET", _hydra(tenant) + JWKS_PATH, {}, None, tenant.timeout)
        await _relay(ex, resp, resp.content)

    return jwks


def _hydra_discovery(ctx: BuiltinContext) -> Handler:
    async def discovery(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = _hydra_tenant(ctx, match)
        resp = await _call(ctx.ory[tenant.name], "GET", _hydra(tenant) + DISCOVERY_PATH, {}, None, tenant.timeout)
        doc = json_value(resp, HYDRA)
        if resp.status_code == 200 and isinstance(doc, dict):
            base = _gateway_base(ctx, ex, tenant, DISCOVERY_PATH)
            doc = {**doc, "token_endpoint": base + TOKEN_PATH, "jwks_uri": base + JWKS_PATH}
        await _relay(ex, resp, orjson.dumps(doc))

    return discovery


# --- the cross-tenant identity lookup ------------------------------------------------


def _check_identity_lookup(use: BuiltinUse) -> Iterator[Problem]:
    tenant = use.settings.tenants.get(use.options["tenant"])
    if tenant is None:
        yield ("builtin", "tenant"), f"identity_lookup: unknown tenant {use.options['tenant']!r}"
    elif tenant.kratos_admin_url is None:
        yield (
            ("builtin", "tenant"),
            f"identity_lookup: tenant {tenant.name!r} has no Kratos admin URL ({tenant.env_prefix}KRATOS_ADMIN_URL)",
        )
    for pattern in use.patterns:
        if use.options["param"] not in pattern.params:
            yield ("builtin", "param"), f"identity_lookup: pattern {pattern.text!r} has no {{{use.options['param']}}}"


def _identity_lookup(ctx: BuiltinContext) -> Handler:
    async def identity_lookup(ex: Exchange, match: Match, principal: Principal | None) -> None:
        options: Mapping[str, object] = getattr(match.route.target, "options", {})
        tenant = str(options["tenant"])
        identity_id = match.params[str(options.get("param", "id"))]
        service = IdentityService.for_tenant(ctx.settings.tenants[tenant], ctx.ory[tenant])
        identity = await service.get(identity_id)
        audit.info(
            orjson.dumps(
                {
                    "event": "identity_read",
                    "ts": round(time.time(), 3),
                    "timestamp": _now(),
                    "actor": principal.subject if principal else None,
                    "actor_kind": principal.kind if principal else None,
                    "actor_tenant": match.route.tenant,
                    "target_tenant": tenant,
                    "identity_id": identity_id,
                    "request_id": ex.origin.request_id,
                    "found": identity is not None,
                }
            ).decode()
        )
        if identity is None:
            raise NotFound("identity not found", reason="identity_not_found")
        await ex.respond_json(200, identity, [(b"cache-control", b"no-store")])

    return identity_lookup


# --- the browser login page ----------------------------------------------------------


def _login(ctx: BuiltinContext) -> Handler:
    async def login(ex: Exchange, match: Match, principal: Principal | None) -> None:
        await browser_login(ex, ctx.settings.tenants[match.route.tenant])

    return login


def _logout(ctx: BuiltinContext) -> Handler:
    async def logout(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = ctx.settings.tenants[match.route.tenant]
        cookie = session_cookie(ex.request.cookie_header() or "", tenant)
        if cookie and tenant.name in ctx.authn:  # this replica forgets it now, not within the cache TTL
            ctx.authn[tenant.name].evict_credential(cookie)
        await browser_logout(ex, tenant, ctx.ory[tenant.name])

    return logout


REGISTRY: Mapping[str, BuiltinKind] = {
    kind.id: kind
    for kind in (
        BuiltinKind("oauth2_token", _oauth2_token, validate=_needs_hydra),
        BuiltinKind("hydra_jwks", _hydra_jwks, validate=_needs_hydra),
        BuiltinKind("hydra_discovery", _hydra_discovery, validate=_needs_hydra),
        BuiltinKind("identity_lookup", _identity_lookup, frozenset({"tenant", "param"}), False, _check_identity_lookup),
        BuiltinKind("login", _login),
        BuiltinKind("logout", _logout, anonymous=False),
        BuiltinKind("me", bind_me, anonymous=False),
    )
}


def bind_builtins(ctx: BuiltinContext) -> dict[str, Handler]:
    """Every built-in's handler for the running gateway, by id."""
    return {name: kind.bind(ctx) for name, kind in REGISTRY.items()}


def _hydra_tenant(ctx: BuiltinContext, match: Match) -> TenantSettings:
    tenant = ctx.settings.tenants[match.route.tenant]
    if tenant.hydra_public_url is None:
        raise NotFound("this tenant has no OAuth2 server", reason="no_hydra")
    return tenant


def _hydra(tenant: TenantSettings) -> str:
    assert tenant.hydra_public_url is not None
    return tenant.hydra_public_url.rstrip("/")


def _gateway_base(ctx: BuiltinContext, ex: Exchange, tenant: TenantSettings, suffix: str) -> str:
    """Where partners reach this tenant's OAuth2 endpoints on the gateway: the configured
    public URL (or, for a host-routed tenant, the host it was reached at) plus the path
    prefix the request used (`/<tenant>` unless the tenant was chosen by host)."""
    path = ex.request.path
    prefix = path[: -len(suffix)] if path.endswith(suffix) else ""
    if ex.origin.host and ex.origin.host.split(":")[0] in tenant.hosts:
        return f"{ex.origin.scheme}://{ex.origin.host}{prefix}"
    return ctx.settings.public_url.rstrip("/") + prefix


async def _call(
    pool: OryPool, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
) -> httpx.Response:
    """Hydra's complete answer (its 4xx and 429 included, to relay); an outage or a body
    that is not JSON is a 503 instead (`gateway.ory.http`)."""
    resp = await ory_request(
        pool,
        method,
        url,
        service=HYDRA,
        timeout=timeout,
        headers=headers,
        content=body,
        relay_rate_limit=True,
    )
    json_value(resp, HYDRA)
    return resp


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
