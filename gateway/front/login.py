"""Browsers: send an unauthenticated page load to the tenant's login, and back again; send a
session that is not strong or recent enough to its step-up; sign out.

Three ways in, one rule for where a browser may be sent afterwards (`return_to`):

- a `GET`/`HEAD` for a page (`Accept: text/html`) on a route humans may use, without
  any credential, is answered 303 to the tenant's login (`GATEWAY_TENANT_<T>_LOGIN_URL`,
  default Kratos' `/self-service/login/browser`) with `return_to` = the page;
- such a page load with the tenant's session cookie that needs a step-up (`StepUpRequired`:
  a route's `aal` or `max_age`, or whoami's 403) is answered 303 to the same login with
  `aal=aal2` (a second factor) or `refresh=true` (the password again), or to Kratos' settings
  flow when a second factor must be set up first, with `return_to` = the page; any other
  request gets the 403 JSON naming that place (`redirect_browser_to`, without `return_to`:
  a page's script adds its own);
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

from gateway.authn.credentials import session_cookie
from gateway.config.settings import Settings, TenantSettings, canonical_host
from gateway.errors import BadRequest, InvalidToken, StepUpRequired, Unauthenticated
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


def login_url(tenant: TenantSettings, return_to: str | None, **query: str) -> str:
    """The tenant's login with `query` (`aal`, `refresh`) and `return_to` (when given)."""
    base = tenant.login_url or f"{tenant.kratos_public_url}/self-service/login/browser"
    return _with_query(base, query, return_to)


def step_up_url(tenant: TenantSettings, need: str, return_to: str | None = None) -> str:
    """Where a person meets a step-up demand: the login asking for a second factor or the
    password again, or Kratos' settings flow to set up a second factor first."""
    if need == "enroll":
        return _with_query(f"{tenant.kratos_public_url}/self-service/settings/browser", {}, return_to)
    return login_url(tenant, return_to, **({"refresh": "true"} if need == "refresh" else {"aal": "aal2"}))


def _with_query(base: str, query: dict[str, str], return_to: str | None) -> str:
    query = {**query, "return_to": return_to} if return_to else query
    if not query:
        return base
    return f"{base}{'&' if '?' in base else '?'}{urlencode(query)}"


def wants_page(ex: Exchange) -> bool:
    accept = ex.request.header(b"accept") or b""
    return ex.request.method in ("GET", "HEAD") and b"text/html" in accept


def redirect_to_login(settings: Settings, ex: Exchange, error: Unauthenticated) -> str | None:
    """The login URL for a browser that came without credentials, or None (answer 401)."""
    tenant = _tenant(settings, ex)
    if tenant is None or error.reason != "no_credentials" or tenant.transport == "bearer" or not wants_page(ex):
        return None
    if "human" not in ex.kinds:
        return None
    target = _this_page(ex, tenant)
    return login_url(tenant, target) if target is not None else None


def step_up(settings: Settings, ex: Exchange, error: StepUpRequired) -> tuple[str | None, StepUpRequired]:
    """A step-up demand as this request is answered: (where a browser navigation is sent, or
    None; the demand naming the tenant's page that meets it)."""
    tenant = _tenant(settings, ex)
    if tenant is None:
        return None, error
    located = error.located(step_up_url(tenant, error.need))
    if tenant.transport == "bearer" or not wants_page(ex) or not _has_session_cookie(ex, tenant):
        return None, located
    target = _this_page(ex, tenant)
    return (step_up_url(tenant, error.need, target) if target is not None else None), located


def _has_session_cookie(ex: Exchange, tenant: TenantSettings) -> bool:
    """Whether the request carries the tenant's session cookie: a browser's own navigation."""
    try:
        return bool(session_cookie(ex.request.cookie_header() or "", tenant))
    except InvalidToken:  # two different values: no navigation to send anywhere
        return False


def _tenant(settings: Settings, ex: Exchange) -> TenantSettings | None:
    return settings.tenants.get(str(ex.log.get("tenant", "")))


def _this_page(ex: Exchange, tenant: TenantSettings) -> str | None:
    """The page asked for, as a `return_to` (None when it is not a safe one)."""
    here = f"{ex.origin.scheme}://{ex.origin.host}{ex.raw_path.decode('latin-1')}"
    if ex.request.raw_query:
        here += "?" + ex.request.raw_query.decode("latin-1")
    return safe_return_to(here, tenant.return_to_hosts)


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


def _session_cookie_only(ex: Exchange, tenant: TenantSettings) -> str:
    """The tenant's session cookie as the only cookie its Kratos gets ("" when there is none)."""
    value = session_cookie(ex.request.cookie_header() or "", tenant)
    return f"{tenant.session_cookie_name}={value}" if value else ""


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
        headers={"cookie": _session_cookie_only(ex, tenant), "accept": "application/json"},
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
