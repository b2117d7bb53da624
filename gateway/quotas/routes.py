"""`RouteLimits`: a route's `rate_limit` (policies), checked after authorization.

Counted per route and per value of its key: the tenant, the caller's organization (a caller
acting for none counts alone), the principal, the OAuth2 client (a person counts as
themselves), or the client address (as believed through GATEWAY_TRUSTED_PROXIES; IPv6 by
its /64). A request past the limit is 429 `rate_limited` with `Retry-After` and the IETF
RateLimit fields (`gateway.quotas.fields`): `RateLimit-Policy: "<route>";q=N;w=S` and
`RateLimit: "<route>";r=0;t=S`; an allowed request's answer carries them too, with what is
left (`r`) and the seconds until there is more (`t`). Only routes with a limit come here (the pipeline asks
`route.rate_limit` first), so routes without one pay nothing. A refused request is not counted.
"""

from __future__ import annotations

from limits import RateLimitItem

from gateway.errors import TooManyRequests
from gateway.front.exchange import Exchange
from gateway.policy.model import RateLimit, Route
from gateway.principal import Principal
from gateway.quotas.attempts import client_key
from gateway.quotas.fields import rate_fields
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
        name = route.id.split(":", 1)[-1]  # [a-z0-9._-]: a valid sf-string as it is
        if await self.windows.hit(item, key):
            remaining, reset = await self.windows.left(item, key)
            fields = rate_fields(name, limit.requests, limit.seconds, remaining, reset)
            ex.quota = tuple((k.encode(), v.encode()) for k, v in fields.items())
            return
        wait = await self.windows.retry_after(item, key)
        raise TooManyRequests(
            f"rate limit of route {route.id} reached ({limit}); retry later",
            retry_after=wait,
            reason="route_rate_limited",
            headers=rate_fields(name, limit.requests, limit.seconds, 0, wait),
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
