"""Built-in targets: the tenant's OAuth2 endpoints for partners, and the identity lookup."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from urllib.parse import parse_qs, unquote_plus

import httpx

from gateway.context import Gateway
from gateway.errors import BadRequest, NotFound, ServiceUnavailable, TooManyRequests
from gateway.exchange import Exchange
from gateway.policy import Builtin, Match
from gateway.principal import Principal
from gateway.ratelimit import RateLimiter
from gateway.services.identities import IdentityService
from gateway.targets import Handler

audit = logging.getLogger("gateway.audit")

PASSED_BACK = (b"content-type", b"cache-control", b"pragma", b"www-authenticate", b"retry-after")


def build_builtins(gw: Gateway) -> Mapping[str, Handler]:
    limiter = RateLimiter(gw.settings.limits.token_rate_per_minute, 60.0)

    async def oauth2_token(ex: Exchange, match: Match, principal: Principal | None) -> None:
        tenant = gw.settings.tenants[match.route.tenant]
        if tenant.hydra_public_url is None:
            raise NotFound("this tenant has no OAuth2 server", reason="no_hydra")
        body = await ex.read_body(64 << 10)
        client_id = _client_id(ex.request.header(b"authorization"), body) or f"ip:{ex.origin.client_ip}"
        wait = limiter.hit(f"{tenant.name}:{client_id}")
        if wait:
            raise TooManyRequests("token requests are rate limited", retry_after=wait, reason="token_rate_limited")
        headers = {"content-type": (ex.request.header(b"content-type") or b"").decode("latin-1")}
        if (auth := ex.request.header(b"authorization")) is not None:
            headers["authorization"] = auth.decode("latin-1")
        await _relay(gw, ex, "POST", tenant.hydra_public_url + "/oauth2/token", headers, body, tenant.timeout)

    def public_get(path: str) -> Handler:
        async def handler(ex: Exchange, match: Match, principal: Principal | None) -> None:
            tenant = gw.settings.tenants[match.route.tenant]
            if tenant.hydra_public_url is None:
                raise NotFound("this tenant has no OAuth2 server", reason="no_hydra")
            await _relay(gw, ex, "GET", tenant.hydra_public_url + path, {}, None, tenant.timeout)

        return handler

    async def identity_lookup(ex: Exchange, match: Match, principal: Principal | None) -> None:
        target = match.route.target
        assert isinstance(target, Builtin)
        tenant = str(target.options["tenant"])
        identity_id = match.params[str(target.options.get("param", "id"))]
        service = IdentityService.for_tenant(gw.settings.tenants[tenant], gw.ory)
        identity = await service.get(identity_id)
        audit.info(
            "identity_read",
            extra={"actor": principal.subject if principal else None, "actor_tenant": match.route.tenant,
                   "target_tenant": tenant, "identity_id": identity_id, "request_id": ex.origin.request_id,
                   "found": identity is not None},
        )  # fmt: skip
        if identity is None:
            raise NotFound("identity not found", reason="identity_not_found")
        await ex.respond_json(200, identity)

    return {
        "oauth2_token": oauth2_token,
        "hydra_jwks": public_get("/.well-known/jwks.json"),
        "hydra_discovery": public_get("/.well-known/openid-configuration"),
        "identity_lookup": identity_lookup,
    }


async def _relay(
    gw: Gateway, ex: Exchange, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
) -> None:
    try:
        resp = await gw.ory.request(method, url, headers=headers, content=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("the OAuth2 server is unavailable", retry_after=2, reason="hydra_down") from exc
    if resp.status_code >= 500:
        raise ServiceUnavailable("the OAuth2 server is unavailable", retry_after=2, reason="hydra_error")
    kept = [(k.encode(), v.encode("latin-1")) for k, v in resp.headers.items() if k.encode() in PASSED_BACK]
    await ex.send_start(resp.status_code, [*kept, (b"x-request-id", ex.origin.request_id.encode())])
    await ex.send({"type": "http.response.body", "body": resp.content})


def _client_id(authorization: bytes | None, body: bytes) -> str | None:
    """The client id for rate limiting: from Basic auth, else the form (never trusted for auth)."""
    if authorization and authorization[:6].lower() == b"basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("malformed Basic authorization", reason="bad_basic_auth") from exc
        return unquote_plus(decoded.split(":", 1)[0])
    values = parse_qs(body.decode("latin-1")).get("client_id")
    return values[0] if values else None
