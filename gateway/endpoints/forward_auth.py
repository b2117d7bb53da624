"""Forward-auth decisions for teams that already run nginx, Caddy, Traefik or Envoy.

The request a decision is about comes from exactly one source:

- `/decisions/<path>` (nginx `auth_request`, Envoy ext_authz with `path_prefix: /decisions`):
  the path and query after the prefix, byte for byte, and the decision request's own method;
- a bare `/decisions` from a trusted proxy (`GATEWAY_TRUSTED_PROXIES`): the two headers of
  the integration `GATEWAY_DECISIONS_HEADERS` names, `original` (nginx: `X-Original-URI`,
  `X-Original-Method`) or `forwarded` (Traefik, Caddy: `X-Forwarded-Uri`,
  `X-Forwarded-Method`); from anyone else, or with `none` (the default), it describes nothing.

Every other describing header present (`DESCRIBING`, in any spelling) must say the same (an
absolute URI, as ingress-nginx's X-Original-URL, also the host decided for): a
disagreement, a describing header sent twice, or a decision request that carries a body is 400
(and a body closes the connection), never a choice. The answer is 200 with every identity
header (`UpstreamHeaders.identity`, empty where it does not apply), or a denial a front proxy
passes on: 401 and 403 with their JSON body and `WWW-Authenticate`, 400, 429 and
503 with `Retry-After`; never 404, 405 or a login redirect. Routes that need the gateway itself
in the path (label profiles, built-ins) are refused: a forward-auth proxy cannot enforce them.
Proxy recipes and what a client sees through each: docs/forwarding.md, "Forward-auth".

Edge mode (`gateway edge nginx`, docs/edge.md): every answer says how long nginx may reuse it
(`X-Accel-Expires`: GATEWAY_EDGE_CACHE_TTL at most, never past the credential's expiry nor
the route's `max_age`, 0 for a denial and for an answer carrying a refreshed session cookie),
and a decision request naming the route nginx rendered its location from (`X-Edge-Route`,
`gateway.edge.route_key`) is refused (403 `edge_route_changed`) when the gateway matches
another one.
"""

from __future__ import annotations

import math
import re
import time

from gateway.config.settings import canonical_host
from gateway.context import Gateway
from gateway.decision import Decision
from gateway.edge.route_key import HEADER as EDGE_ROUTE
from gateway.edge.route_key import route_key
from gateway.errors import BadRequest, Forbidden, GatewayError, MethodNotAllowed, NotFound, StepUpRequired
from gateway.forward.headers import normalise
from gateway.front.exchange import Exchange
from gateway.front.login import step_up
from gateway.front.request import Spellings
from gateway.pipeline import decide
from gateway.policy import Forward
from gateway.principal import Principal

PREFIX = b"/decisions"
#: GATEWAY_DECISIONS_HEADERS -> the (target, method) headers that describe a bare /decisions
FAMILIES = {
    "original": ("x-original-uri", "x-original-method"),
    "forwarded": ("x-forwarded-uri", "x-forwarded-method"),
}
METHOD_HEADERS = frozenset({"x-original-method", "x-forwarded-method"})
#: every header a proxy may describe the request with (normalised: `_` and `.` read as `-`)
DESCRIBING = METHOD_HEADERS | {"x-original-uri", "x-forwarded-uri", "x-original-url", "x-rewrite-url"}

Target = tuple[bytes, bytes]  # raw path, raw query

#: nginx's cache control for a proxied answer: seconds it may reuse it (edge mode, docs/edge.md)
ACCEL_EXPIRES = b"x-accel-expires"
#: every denial: never reused, whatever the proxy's cache would do
NOT_REUSED = ((ACCEL_EXPIRES, b"0"),)

#: header name as sent -> the describing header it spells, or None
_SPELLS: Spellings[str | None] = Spellings(lambda name: n if (n := normalise(name)) in DESCRIBING else None)
#: RFC 9110 method token
_METHOD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: an absolute URI: its authority, then its path and query
_ABSOLUTE = re.compile(rb"[Hh][Tt][Tt][Pp][Ss]?://([^/?#]*)(.*)", re.DOTALL)
#: never in a request target: a space, a control character, a fragment
_TARGET_BAD = re.compile(rb"[\x00-\x20\x7f#]")


async def decisions(gw: Gateway, ex: Exchange) -> None:
    try:
        decision, upstream = await _decide(gw, ex)
    except GatewayError as error:
        await ex.respond_error(_for_front(gw, ex, error), NOT_REUSED)
        return
    headers = gw.upstream_headers.identity(ex, decision, upstream)  # what the upstream gets from us
    # a refreshed cookie is this answer's alone; a rate-limited route counts every request
    ttl = 0 if ex.session_cookie or decision.match.route.rate_limit else gw.settings.edge_cache_ttl
    headers.append(reuse_for(ttl, decision.principal, time.time(), fresh_until(decision)))
    ex.log["decision"] = "allow"
    await ex.respond(200, b"", headers)


async def _decide(gw: Gateway, ex: Exchange) -> tuple[Decision, str]:
    """The decision and the upstream its route forwards to."""
    ex.log["described_by"] = _describe(gw, ex)
    decision = await decide(gw, ex)
    route = decision.match.route
    assumed = ex.request.header(EDGE_ROUTE)
    if assumed is not None and assumed.decode("latin-1") != route_key(route):
        stale = f"the edge renders this path as another route than {route.id}: render it again"
        raise _deny(stale, "edge_route_changed")
    if not isinstance(route.target, Forward) or route.injects_labels:
        raise _deny(f"route {route.id} needs the gateway in the request path (labels or built-in)", "needs_proxy")
    return decision, route.target.upstream


def reuse_for(ttl: int, principal: Principal | None, now: float, until: float | None = None) -> tuple[bytes, bytes]:
    """`X-Accel-Expires`: how long nginx may reuse an allow, GATEWAY_EDGE_CACHE_TTL at most and
    never past the credential's expiry, nor past `until` (whole seconds, rounded down)."""
    if principal is not None and principal.expires_at is not None:
        ttl = max(0, min(ttl, math.floor(principal.expires_at - now)))
    if until is not None:
        ttl = max(0, min(ttl, math.floor(until - now)))
    return ACCEL_EXPIRES, b"%d" % ttl


def fresh_until(decision: Decision) -> float | None:
    """When the route's `max_age` stops holding for this sign-in (None: no such bound)."""
    principal = decision.principal
    requirement = None if principal is None else decision.match.route.requirement_for(principal.kind)
    if requirement is None or requirement.max_age is None or principal is None:
        return None
    return (principal.authenticated_at or 0.0) + requirement.max_age


def _for_front(gw: Gateway, ex: Exchange, error: GatewayError) -> GatewayError:
    """A refusal as a front proxy passes it on: no route, or a method the route does not take,
    is a 403 denial (nginx answers 500 to anything but 2xx, 401 and 403; the recipe maps 400,
    429 and 503 itself); a step-up is its 403 naming where the browser goes (never a redirect)."""
    if isinstance(error, NotFound | MethodNotAllowed):
        return _deny(error.description, error.reason)
    if isinstance(error, StepUpRequired):
        return step_up(gw.settings, ex, error)[1]
    return error


def _describe(gw: Gateway, ex: Exchange) -> str:
    """Point the exchange at the request being decided; returns its source (`path` or the family)."""
    request = ex.request
    if ex.has_body():  # a proxy that announces a body it does not send desynchronises the connection
        raise _bad("a decision request carries no body", "decision_with_body", close=True)
    said = _described(request.headers)
    rest = ex.raw_path[len(PREFIX) :]
    if rest:
        source, method, target = "path", request.method.encode("latin-1"), (rest, request.raw_query)
    else:
        source = gw.settings.decisions_headers
        method, target = _from_headers(gw, ex, said, source)
    if said:
        _check_agreement(said, method, target, ex.origin.host)
    ex.raw_path, request.raw_query, request.method = target[0], target[1], method.decode("latin-1")
    return source


def _described(headers: list[tuple[bytes, bytes]]) -> dict[str, list[bytes]]:
    """The describing headers sent, by normalised name, every copy in every spelling."""
    found: dict[str, list[bytes]] = {}
    for name, value in headers:
        key = _SPELLS[name]
        if key is not None:
            found.setdefault(key, []).append(value.strip())
    return found


def _from_headers(gw: Gateway, ex: Exchange, said: dict[str, list[bytes]], family: str) -> tuple[bytes, Target]:
    """A bare /decisions: the method and target the configured family describes."""
    if family not in FAMILIES or not _peer_trusted(gw, ex):
        raise _bad("no request to decide: send its path after /decisions", "no_request_described")
    uri_name, method_name = FAMILIES[family]
    uri, method = said.get(uri_name), said.get(method_name)
    if not uri or not method:
        raise _bad(f"{uri_name} and {method_name} describe the request: both are required", "no_request_described")
    target = _split(uri[0])
    if not _METHOD.fullmatch(method[0]):
        raise _bad("the described method is not an HTTP method", "bad_described_request")
    if _TARGET_BAD.search(target[1]):  # the path goes through the canonical path's checks
        raise _bad("the described query contains a space, a control character or '#'", "bad_described_request")
    request = ex.request
    if request.raw_query not in (b"", target[1]) or request.method not in ("GET", method[0].decode("latin-1")):
        raise _conflict("the decision request's own method or query is not the one described")
    return method[0], target


def _check_agreement(said: dict[str, list[bytes]], method: bytes, target: Target, host: str) -> None:
    """Every describing header present says what the decision is about, once."""
    for name, values in said.items():
        if len(values) > 1:
            raise _conflict(f"{name} is sent {len(values)} times")
        agrees = values[0] == method if name in METHOD_HEADERS else _target_of(values[0], host) == target
        if not agrees:
            raise _conflict(f"{name} describes another request than the one decided")


def _target_of(uri: bytes, host: str) -> Target | None:
    """The target a describing header names; an absolute URI (ingress-nginx's X-Original-URL) must
    name the host the request is decided for (else None: it agrees with nothing)."""
    absolute = _ABSOLUTE.fullmatch(uri)
    if absolute is None:
        return _split(uri)
    if canonical_host(absolute.group(1).decode("latin-1")) != canonical_host(host):
        return None
    return _split(absolute.group(2) or b"/")


def _split(uri: bytes) -> Target:
    path, _, query = uri.partition(b"?")
    return path, query


def _peer_trusted(gw: Gateway, ex: Exchange) -> bool:
    client = ex.scope.get("client")
    return client is not None and gw.proxies.trusts(client[0])


def _deny(description: str, reason: str) -> Forbidden:
    return Forbidden(description, reason=reason, extra={"reason": reason})


def _conflict(description: str) -> BadRequest:
    return _bad(description, "conflicting_request_description")


def _bad(description: str, reason: str, *, close: bool = False) -> BadRequest:
    headers = {"connection": "close"} if close else None
    return BadRequest(description, reason=reason, headers=headers, extra={"reason": reason})
