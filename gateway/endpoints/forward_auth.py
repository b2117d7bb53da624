"""Forward-auth decisions for teams that already run nginx, Traefik or Envoy.

`/decisions/<path>` (Oathkeeper style, Envoy ext_authz with `path_prefix: /decisions`)
or `/decisions` with the described request in headers:

- nginx `auth_request`: `X-Original-Method`, `X-Original-URI`
- Traefik ForwardAuth: `X-Forwarded-Method`, `X-Forwarded-Uri`, `X-Forwarded-Host`

Those headers describe the request only when the caller is a trusted proxy;
otherwise the decision is for the path after `/decisions`, and a bare `/decisions`
describes no request at all (404 `no_request_described`, never a decision about `/`). The answer is 200 with
the identity headers to inject (copy them upstream: the identity part of
`gateway.forward.headers.UpstreamHeaders`, exactly what the gateway's own forwarding
adds, `traceparent` included: the proxy forwards it so the upstream's span is a child of
the gateway's decision span, in the caller's trace), or the denial with its usual status,
JSON body and `WWW-Authenticate`. Routes
that need the gateway itself to rewrite the request (label profiles, built-ins) are
refused here: a forward-auth proxy cannot enforce them.
"""

from __future__ import annotations

from gateway.context import Gateway
from gateway.errors import Forbidden, NotFound
from gateway.front.exchange import Exchange
from gateway.pipeline import decide
from gateway.policy import Forward

PREFIX = b"/decisions"


async def decisions(gw: Gateway, ex: Exchange) -> None:
    _describe(gw, ex)
    decision = await decide(gw, ex)
    route = decision.match.route
    if not isinstance(route.target, Forward) or route.injects_labels:
        raise Forbidden(
            f"route {route.id} needs the gateway in the request path (labels or built-in)", reason="needs_proxy"
        )
    headers = gw.upstream_headers.identity(ex, decision, route.target.upstream)  # what the upstream gets from us
    ex.log["decision"] = "allow"
    await ex.respond(200, b"", headers)


def _describe(gw: Gateway, ex: Exchange) -> None:
    """Point the exchange at the request being decided."""
    request = ex.request
    method = uri = None
    if _peer_trusted(gw, ex):
        method = request.header(b"x-forwarded-method") or request.header(b"x-original-method")
        uri = request.header(b"x-forwarded-uri") or request.header(b"x-original-uri")
    if uri is None:
        rest = ex.raw_path[len(PREFIX) :]
        if not rest:
            raise NotFound("no request to decide: send its path after /decisions", reason="no_request_described")
        ex.raw_path = rest
    else:
        path, _, query = uri.partition(b"?")
        ex.raw_path, request.raw_query = path, query
    if method is not None:
        request.method = method.decode("latin-1").upper()


def _peer_trusted(gw: Gateway, ex: Exchange) -> bool:
    client = ex.scope.get("client")
    return client is not None and gw.proxies.trusts(client[0])
