"""The gateway's own endpoints, answered before any tenant routing, and the built-ins routes name.

`ENDPOINTS` is the one list of the paths the gateway serves itself (`gateway.app` binds a
handler to each at start-up); their first segments are `RESERVED_NAMES`, which no tenant
may be called, so a tenant prefix can never shadow them. Built-in targets of routes live in
`gateway.endpoints.builtins` (one registry: id, options, validate, handler).
"""

HEALTHZ = "/healthz"
READYZ = "/readyz"
#: the gateway's identity-assertion signing keys (upstreams verify X-Identity-Assertion)
ASSERTION_JWKS = "/.well-known/jwks.json"
#: forward-auth: ``/decisions`` and ``/decisions/<path>`` (`gateway.endpoints.forward_auth`)
DECISIONS = "/decisions"
DECISIONS_PREFIX = DECISIONS + "/"
REVOKE = "/_gateway/revoke"
#: served here unless GATEWAY_METRICS_LISTEN puts metrics on their own listener
METRICS = "/metrics"
ENDPOINTS = (HEALTHZ, READYZ, ASSERTION_JWKS, DECISIONS, REVOKE, METRICS)

#: first path segments the gateway serves itself: no tenant may be named so
RESERVED_NAMES = frozenset(path.split("/")[1] for path in ENDPOINTS)
