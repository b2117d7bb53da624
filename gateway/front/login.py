"""Browsers: send an unauthenticated page load to the tenant's login, and back again; sign out.

Two ways in, one rule for where a browser may be sent afterwards (`return_to`):

- a `GET`/`HEAD` for a page (`Accept: text/html`) on a route humans may use, without
  any credential, is answered 303 to the tenant's login (`GATEWAY_TENANT_<T>_LOGIN_URL`,
  default Kratos' `/self-service/login/browser`) with `return_to` = the page;
- the `login` built-in (`GET /<tenant>/auth/login?return_to=...`) does the same for a
  `return_to` chosen by a link.

`return_to` is followed only when it is a plain absolute path on this site (not `//x`,
`/\\x`, no backslash or control character anywhere, even percent-encoded) or an
http(s) URL whose host is exactly one of the tenant's `RETURN_TO_HOSTS` (default its
`HOSTS`): no user-info, no look-alikes, no suffix matching. Anything else is refused.

The `logout` built-in (``POST /<tenant>/auth/logout?return_to=...``, a route for signed-in
humans, so the cross-origin stage guards it: a page elsewhere cannot sign a user out) runs
Kratos' browser logout flow with the caller's cookie (``GET /self-service/logout/browser``)
and sends the browser (303) to the flow's ``logout_url``; Kratos revokes the session,
clears the cookie and sends it on to ``return_to`` (default: the tenant's root page here).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlencode, urlsplit

from gateway.config.settings import Settings, TenantSettings, canonical_host
from gateway.errors import BadRequest, Unauthenticated
from gateway.front.exchange import Exchange
from gateway.ory.http import json_object, ory_request, unexpected
from gateway.ory.pool import OryPool

_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f]")
MAX_RETURN_TO = 2048


def safe_return_to(value: str, allowed_hosts: tuple[str, ...]) -> str | None:
    """`value` when it is a safe place to send a browser back to, else None."""
    if not value or len(value) > MAX_RETURN_TO:
        return None
    decoded = unquote(unquote(value))
    if _UNSAFE.search(value) or _UNSAFE.search(decoded):
        return None
    if value.startswith("/"):
        relative = not value.startswith("//") and not decoded.startswith("//")
        return value if relative else None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return value if canonical_host(parts.netloc) in allowed_hosts else None


def login_url(tenant: TenantSettings, return_to: str) -> str:
    base = tenant.login_url or f"{tenant.kratos_public_url}/self-service/login/browser"
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'return_to': return_to})}"


def wants_page(ex: Exchange) -> bool:
    accept = ex.request.header(b"accept") or b""
    return ex.request.method in ("GET", "HEAD") and b"text/html" in accept


def redirect_to_login(settings: Settings, ex: Exchange, error: Unauthenticated) -> str | None:
    """The login URL for a browser that came without credentials, or None (answer 401)."""
    tenant = settings.tenants.get(str(ex.log.get("tenant", "")))
    if tenant is None or error.reason != "no_credentials" or tenant.transport == "bearer" or not wants_page(ex):
        return None
    if "human" not in ex.kinds:
        return None
    here = f"{ex.origin.scheme}://{ex.origin.host}{ex.raw_path.decode('latin-1')}"
    if ex.request.raw_query:
        here += "?" + ex.request.raw_query.decode("latin-1")
    target = safe_return_to(here, tenant.return_to_hosts)
    return login_url(tenant, target) if target is not None else None


def _return_to(ex: Exchange, tenant: TenantSettings, default: str) -> str:
    """The request's checked `return_to` (given at most once), else `default`."""
    values = [
        unquote(v.partition(b"=")[2].decode("latin-1").replace("+", " "))
        for v in ex.request.raw_query.split(b"&")
        if v.partition(b"=")[0] == b"return_to"
    ]
    if len(values) > 1:
        raise BadRequest("return_to given more than once", reason="ambiguous_return_to")
    target = safe_return_to(values[0], tenant.return_to_hosts) if values else default
    if target is None:
        raise BadRequest("return_to is not an allowed destination", reason="return_to_refused")
    return target


async def login(ex: Exchange, tenant: TenantSettings) -> None:
    """The `login` built-in: 303 to the tenant's login, `return_to` checked."""
    target = _return_to(ex, tenant, "/")
    await ex.respond(303, b"", [(b"location", login_url(tenant, target).encode()), (b"cache-control", b"no-store")])


async def logout(ex: Exchange, tenant: TenantSettings, http: OryPool) -> None:
    """The `logout` built-in: Kratos' browser logout flow for this cookie, then 303 to its URL.
    A session Kratos no longer knows is simply sent on to `return_to`."""
    here = f"{ex.origin.scheme}://{ex.origin.host}"
    target = _return_to(ex, tenant, ex.request.path.removesuffix("/auth/logout") + "/")
    absolute = here + target if target.startswith("/") else target  # Kratos wants an absolute return_to
    resp = await ory_request(
        http,
        "GET",
        f"{tenant.kratos_public_url}/self-service/logout/browser",
        service="kratos",
        timeout=tenant.timeout,
        headers={"cookie": ex.request.cookie_header() or "", "accept": "application/json"},
        params={"return_to": absolute},
    )
    if resp.status_code == 200:
        location = json_object(resp, "kratos").get("logout_url")
        if not isinstance(location, str) or not location.startswith(("https://", "http://")):
            raise unexpected(resp, "kratos")
    elif resp.status_code in (401, 403):
        location = absolute
    else:
        raise unexpected(resp, "kratos")
    ex.log["decision"] = "allow"
    await ex.respond(303, b"", [(b"location", location.encode()), (b"cache-control", b"no-store")])
