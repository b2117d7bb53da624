"""What a rendered edge configuration assumes about a route, as one short string.

nginx sends it with every decision it asks for (`X-Edge-Route`); `/decisions` answers 403
`edge_route_changed` when the route the gateway matched is not the one nginx rendered its
location from (policies reloaded since, or a path nginx placed differently), and nginx then
hands the request to the gateway itself. Everything the location was rendered from is in the
key: the route's id, pattern and methods, that nothing rewrites it, its target and timeout.
"""

from __future__ import annotations

import functools
import hashlib

from gateway.policy import Forward, Route

HEADER = b"x-edge-route"


@functools.lru_cache(maxsize=4096)  # a decision nginx has not cached asks for its route's key
def route_key(route: Route) -> str:
    """``<route id>@<12 hex digits>``: the id for people reading logs, the digest for the check."""
    target = route.target
    forward = (target.upstream, target.strip_tenant_prefix, target.path_prefix) if isinstance(target, Forward) else ()
    assumed = (
        route.id,
        route.pattern.text,
        sorted(route.methods),
        route.anonymous,
        route.labels,
        route.stream,
        route.websocket,
        route.timeout,
        forward,
    )
    digest = hashlib.sha256(repr(assumed).encode()).hexdigest()[:12]
    return f"{route.id}@{digest}"
