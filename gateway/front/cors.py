"""CORS, owned by the gateway: preflights answered before any authentication, and the
`Access-Control-*` headers of every answer, per tenant (``GATEWAY_TENANT_<T>_TRUSTED_ORIGINS``).

- A **preflight** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is
  answered here, never authenticated and never forwarded: 204 with
  ``Access-Control-Allow-Origin: <that origin>``, ``-Allow-Credentials: true``, the methods
  of the route the actual request would take, the requested headers (each must be in
  `ALLOWED_REQUEST_HEADERS`), ``-Max-Age`` and ``Vary``, when the origin is one of the
  tenant's trusted origins and a route matches; otherwise 403 without any
  ``Access-Control-*`` header. Never ``*``.
- **Every other answer** to a request with an ``Origin`` (the upstream's, a built-in's,
  the gateway's own errors) carries ``Vary: Origin``, and for a trusted origin
  ``Access-Control-Allow-Origin``, ``-Allow-Credentials`` and ``-Expose-Headers``. The
  upstream's own ``Access-Control-*`` headers never reach the client
  (`gateway.forward.headers.downstream_response_headers` drops them): one place decides.

Origins are compared in the normal form of `gateway.config.origins`, exactly. The tables
are built once at start-up; a request from a trusted origin costs one dictionary look-up
(the headers go on `Exchange.cors`, added by whoever sends the response start); a request
without ``Origin`` costs nothing here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.config.origins import normalise_origin
from gateway.config.settings import Settings
from gateway.errors import BadRequest, Forbidden, GatewayError
from gateway.front.exchange import Exchange
from gateway.front.locate import Locator
from gateway.front.request import RequestView
from gateway.front.tenants import resolve_tenant
from gateway.policy import PolicySet
from gateway.policy.model import ANY_METHOD

Header = tuple[bytes, bytes]

#: request headers a cross-origin page may send: the CORS-safelisted ones (with any value),
#: and those the gateway itself reads (credentials, organization choice, tracing, request id,
#: SSE resumption); anything else is refused at the preflight
ALLOWED_REQUEST_HEADERS = frozenset(
    {
        "accept",
        "accept-language",
        "content-language",
        "content-type",
        "range",
        "authorization",
        "x-session-token",
        "x-organization-id",
        "x-request-id",
        "traceparent",
        "tracestate",
        "last-event-id",
        "cache-control",
    }
)
#: response headers a trusted page may read besides the safelisted ones
EXPOSED = b"X-Request-Id, Retry-After, WWW-Authenticate"
#: seconds a browser may reuse a preflight answer (Chromium caps it at 7200)
MAX_AGE = b"600"
VARY_ORIGIN: tuple[Header, ...] = ((b"vary", b"Origin"),)
PREFLIGHT_VARY = (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers")


def allow_headers(origin: str) -> tuple[Header, ...]:
    """What an actual answer to a request from trusted `origin` carries."""
    return (
        (b"access-control-allow-origin", origin.encode("ascii")),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", EXPOSED),
        (b"vary", b"Origin"),
    )


def is_preflight(request: RequestView) -> bool:
    return (
        request.method == "OPTIONS"
        and request.header(b"origin") is not None
        and request.header(b"access-control-request-method") is not None
    )


class Cors:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: tenant -> normalised origin (bytes, as browsers send it) -> headers of an answer
        self.tables: Mapping[str, Mapping[bytes, tuple[Header, ...]]] = {
            name: {o.encode("ascii"): allow_headers(o) for o in tenant.trusted_origins}
            for name, tenant in settings.tenants.items()
        }

    def trusted(self, tenant: str, origin: bytes) -> tuple[Header, ...] | None:
        """The CORS headers for `origin` when it is one of `tenant`'s trusted origins."""
        table = self.tables.get(tenant)
        if not table:
            return None
        found = table.get(origin)
        if found is None:  # not in normal form (a program's spelling): normalise, then look again
            normal = normalise_origin(origin.decode("latin-1"))
            found = table.get(normal.encode("ascii")) if normal else None
        return found

    def decorate(self, ex: Exchange, tenant: str, origins: list[bytes]) -> bool:
        """Add the CORS headers to whatever answers `ex`; True when the origin is trusted.
        Two `Origin` headers are no origin at all."""
        headers = self.trusted(tenant, origins[0]) if len(origins) == 1 else None
        ex.cors = headers or VARY_ORIGIN  # added by whoever sends the response start
        return headers is not None

    def decorate_unrouted(self, ex: Exchange) -> None:
        """CORS headers on a refusal raised before the route was known (404, 405), so a
        trusted page sees the gateway's error rather than a CORS failure."""
        origins = ex.request.header_values(b"origin")
        if not origins or "rule" in ex.log or not ex.request.path or is_preflight(ex.request):
            return
        try:
            tenant = resolve_tenant(self.settings, ex.request.path, ex.request.host).tenant
        except GatewayError:
            return
        self.decorate(ex, tenant, origins)

    async def preflight(self, ex: Exchange, policies: PolicySet, locator: Locator) -> None:
        """Answer a CORS preflight: no credential is looked at, nothing is forwarded."""
        try:
            headers = self._preflight_headers(ex, policies, locator)
        except GatewayError as error:  # rendered here: a refused preflight carries no CORS header
            await ex.respond_error(error)
            return
        ex.log.update(decision="allow", reason="cors_preflight")
        await ex.send_start(204, headers)
        await ex.send({"type": "http.response.body", "body": b""})

    def _preflight_headers(self, ex: Exchange, policies: PolicySet, locator: Locator) -> list[Header]:
        request = ex.request
        origins = request.header_values(b"origin")
        wanted = request.header_values(b"access-control-request-method")
        if len(origins) != 1 or len(wanted) != 1:
            raise _refused("a preflight carries exactly one Origin and one Access-Control-Request-Method")
        method = wanted[0].decode("latin-1")
        # the route the actual request would take (refusals of the path itself stay 400)
        try:
            where = locator.locate(policies, dataclasses.replace(request, method=method), ex.raw_path)
        except BadRequest:
            raise
        except GatewayError:
            raise _refused("no route takes this method here") from None
        request.path = where.path
        ex.log["tenant"], ex.log["rule"] = where.tenant, where.match.route.id
        trusted = self.trusted(where.tenant, origins[0])
        if trusted is None:
            raise _refused("the origin is not trusted by this tenant")
        asked = _requested_headers(request)
        if not asked <= ALLOWED_REQUEST_HEADERS:
            raise _refused("a requested header is not allowed")
        methods = where.match.route.methods
        methods = methods - {ANY_METHOD} | {method} if ANY_METHOD in methods else methods
        return [
            trusted[0],
            trusted[1],
            (b"access-control-allow-methods", ", ".join(sorted(methods)).encode("latin-1")),
            *([(b"access-control-allow-headers", ", ".join(sorted(asked)).encode("latin-1"))] if asked else []),
            (b"access-control-max-age", MAX_AGE),
            PREFLIGHT_VARY,
            (b"content-length", b"0"),
            (b"cache-control", b"no-store"),
        ]


def _requested_headers(request: RequestView) -> set[str]:
    names: set[str] = set()
    for value in request.header_values(b"access-control-request-headers"):
        names.update(n.strip().lower() for n in value.decode("latin-1").split(",") if n.strip())
    return names


def _refused(why: str) -> Forbidden:
    return Forbidden(f"CORS preflight refused: {why}", reason="cors_preflight_refused")
