"""Quotas: how much one caller may ask, counted in sliding windows (the `limits` library).

    windows.Windows      the library's sliding-window-counter strategy over this process's
                         bounded storage (`storage.LocalStorage`), or Redis when
                         GATEWAY_REDIS_URL is set (falling back to this process's while Redis is down)
    attempts.Attempts    GATEWAY_AUTH_FAILURES_PER_MINUTE: unknown credentials one client address
                         may have looked up at a tenant's Ory (`gateway.authn`, cache misses only)
    routes.RouteLimits   a route's `rate_limit` (policies), after authorization
    fields.rate_fields   the IETF RateLimit fields of a counted answer
The token relay (`gateway.endpoints.builtins`, GATEWAY_TOKEN_RATE_PER_MINUTE) counts each
client id's token requests in the same windows.

Every identifier is hashed before it is stored: no address, principal or organization in clear.
"""
