"""`RouteLimits`: a route's `rate_limit` (policies), checked after authorization.

Counted per route and per value of its key: the tenant, the caller's organization (a caller
acting for none counts alone), the principal, the OAuth2 client (a person counts as
themselves), or the client address (as believed through GATEWAY_TRUSTED_PROXIES; IPv6 by
its /64). A request past the limit is 429 `rate_limited` with `Retry-After` and the IETF
RateLimit fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "<route>";q=N;w=S`
and `RateLimit: "<route>";r=0;t=S`. Only routes with a limit come here (the pipeline asks
`route.rate_limit` first), so routes without one pay nothing. A refused request is not counted.
"""

from __future__ import annotations

from limits import RateLimitItem

from gateway.errors import TooManyRequests
from gateway.front.exchange import Exchange
from gateway.policy.model import RateLimit, Route
from gateway.principal import Principal
from gateway.quotas.attempts import client_key
from gateway.quotas.windows import Windows, quota, window_key


class RouteLimits:
    def __init__(self, windows: Windows) -> None:
        self.windows = windows
        self._items: dict[tuple[int, int], RateLimitItem] = {}

    async def check(self, ex: Exchange, route: Route, principal: Principal | None) -> None:
        """Count this request against the route's limit; 429 when the window is full."""
        limit = route.rate_limit
        assert limit is not None  # the pipeline asks only for routes with a limit
        item = self._item(limit)
        key = window_key("route", route.id, limit.key, counted_as(limit, ex, route, principal))
        if await self.windows.hit(item, key):
            return
        wait = await self.windows.retry_after(item, key)
        raise TooManyRequests(
            f"rate limit of route {route.id} reached ({limit}); retry later",
            retry_after=wait,
            reason="route_rate_limited",
            headers=fields(route, limit, wait),
        )

    def _item(self, limit: RateLimit) -> RateLimitItem:
        found = self._items.get((limit.requests, limit.seconds))
        if found is None:
            found = self._items[limit.requests, limit.seconds] = quota(limit.requests, limit.seconds)
        return found


def counted_as(limit: RateLimit, ex: Exchange, route: Route, principal: Principal | None) -> str:
    """The value of the limit's key for this request."""
    key = limit.key
    if key == "tenant":
        return route.tenant
    if key == "client_address" or principal is None:
        return client_key(ex.origin.client_ip)
    if key == "organization" and principal.organization:
        return "org:" + principal.organization
    if key == "client_id" and principal.client_id:
        return "client:" + principal.client_id
    return f"{principal.kind}:{principal.subject}"


def fields(route: Route, limit: RateLimit, wait: int) -> dict[str, str]:
    """The RateLimit fields of a refusal: the policy, and none left for `wait` seconds."""
    name = route.id.split(":", 1)[-1]  # [a-z0-9._-]: a valid sf-string as it is
    return {
        "ratelimit-policy": f'"{name}";q={limit.requests};w={limit.seconds}',
        "ratelimit": f'"{name}";r=0;t={wait}',
    }
