"""Cross-origin protection: a page on another site must not act with the browser's cookie.

The pipeline stage between route lookup and authentication (`gateway.pipeline.decide`).
It looks only at headers - no token, no Ory call - and refuses with 403
``cross_origin_request`` (`gateway.errors.CrossOriginRequest`, audit-logged like every
denial) before anything is forwarded, when all of these hold:

1. the request changes state: any method but ``GET``, ``HEAD``, ``OPTIONS``, or it is a
   WebSocket handshake (a handshake is a ``GET`` that opens a read-write channel: CSWSH);
2. the tenant's session cookie is the credential it would be judged by
   (`gateway.authn.sources.cookie_decides`: bearer tokens and X-Session-Token are not
   ambient - a page cannot make a browser send them - so those requests pass untouched);
3. the browser does not vouch for it. As Go 1.25's ``net/http.CrossOriginProtection``:
   ``Sec-Fetch-Site: same-origin`` or ``none`` (typed by the user) passes. Any other value
   (``same-site``, ``cross-site``, several headers, an unknown token) passes only when
   ``Origin`` is one of the tenant's trusted origins: a sibling subdomain is same-site
   but not trusted. Without ``Sec-Fetch-Site`` (browsers before 2023), ``Origin`` must be
   the gateway's own origin - the scheme and ``Host`` it is reached at, believed from
   trusted proxies only - or a trusted one.
4. Neither header at all: refused, unlike Go (which lets such a request through as "not
   from a browser"). Every browser sends ``Origin`` on every request that is not
   ``GET``/``HEAD`` and on every WebSocket handshake, so a cookie request without both
   comes from a program replaying a cookie (which should send its session token instead)
   or from a browser too old to protect (Firefox before 70 sent no ``Origin`` on form
   posts: the very CSRF this stage exists for). OWASP's CSRF cheat sheet recommends
   blocking; a gateway that gives programs a non-ambient credential can afford to.

``Sec-Fetch-*`` and ``Origin`` are forbidden header names: a page's script cannot set
them, so a "lie" can only come from a non-browser client, which holds the cookie itself
and needs no forgery. The same stage adds the CORS headers of the answer
(`gateway.front.cors`): a ``GET`` costs one header look-up, a bearer request that
changes state two.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.authn.sources import cookie_decides
from gateway.config.origins import normalise_origin
from gateway.config.settings import Settings, TenantSettings
from gateway.errors import CrossOriginRequest
from gateway.front.cors import Cors
from gateway.front.exchange import Exchange
from gateway.policy import Route

#: methods that must not change state (RFC 9110 section 9.2.1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Sec-Fetch-Site values that vouch for the request: the page's own origin, or the user
VOUCHED = frozenset({b"same-origin", b"none"})
#: a WebSocket handshake's scheme, as the page's origin spells it
_PAGE_SCHEME = {"ws": "http", "wss": "https"}


class CrossOrigin:
    def __init__(self, settings: Settings, cors: Cors) -> None:
        self.tenants: Mapping[str, TenantSettings] = settings.tenants
        self.cors = cors

    def check(self, ex: Exchange, tenant: str, route: Route) -> None:
        """Add the answer's CORS headers; refuse a cookie request that changes state from a
        page that is not this site and not trusted (`CrossOriginRequest`)."""
        request = ex.request
        headers = request.first  # the header index: nothing built when a header is absent
        origin = headers.get(b"origin")
        trusted = origin is not None and self.cors.decorate(ex, tenant, request.header_values(b"origin"))
        if (request.method in SAFE_METHODS and not ex.handshake) or b"cookie" not in headers:
            return
        site = request.header(b"sec-fetch-site")
        if site is not None:
            if trusted or (site in VOUCHED and len(request.header_values(b"sec-fetch-site")) == 1):
                return
        elif trusted or (origin is not None and _is_own(ex)):
            return
        if not cookie_decides(request, route.kinds, self.tenants[tenant]):
            return
        ex.log["origin"] = origin.decode("latin-1")[:256] if origin is not None else None
        ex.log["sec_fetch_site"] = site.decode("latin-1")[:32] if site is not None else None
        raise CrossOriginRequest(_why(site is not None or origin is not None), reason="cross_origin_request")


def own_origin(ex: Exchange) -> str | None:
    """The origin the gateway is reached at: scheme and Host, as the trusted-proxy rules say."""
    where = ex.origin
    if not where.host:
        return None
    return normalise_origin(f"{_PAGE_SCHEME.get(where.scheme, where.scheme)}://{where.host}")


def _is_own(ex: Exchange) -> bool:
    """One `Origin`, and it is the gateway's own."""
    origins = ex.request.header_values(b"origin")
    own = own_origin(ex)
    return len(origins) == 1 and own is not None and normalise_origin(origins[0].decode("latin-1")) == own


def _why(had_headers: bool) -> str:
    if had_headers:
        return "a cookie-authenticated request that changes state must come from this site or a trusted origin"
    return (
        "a cookie-authenticated request that changes state must carry Origin (browsers always send it); "
        "programs should authenticate with a session token or a bearer token"
    )
