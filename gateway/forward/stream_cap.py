"""`StreamCap`: how many long-lived answers (SSE, streamed runs, WebSockets) may be open at
once - in the process (GATEWAY_MAX_STREAMS), per tenant (GATEWAY_MAX_STREAMS_PER_TENANT) and
per principal (GATEWAY_MAX_STREAMS_PER_PRINCIPAL) - so that one principal cannot hold another
tenant's slots, nor one tenant every slot.

The process's and the tenant's capacity are checked first: either full is 503
`too_many_streams`; then a principal over its own share is 429 `too_many_streams` (its own
doing: close one first); both with Retry-After. Anonymous streams count towards their tenant and the process only.
"""

from __future__ import annotations

from gateway.errors import StreamShareUsed, TooManyStreams
from gateway.principal import Principal

RETRY_AFTER = 5


class StreamCap:
    def __init__(self, limit: int, per_tenant: int | None = None, per_principal: int | None = None) -> None:
        self.limit = limit
        self.per_tenant = per_tenant or limit
        self.per_principal = per_principal or self.per_tenant
        #: long-lived answers open now (read by the metrics at scrape time)
        self.open = 0
        self.tenants: dict[str, int] = {}
        self._principals: dict[str, int] = {}

    def take(self, tenant: str, principal: Principal | None) -> str:
        """One more stream open for `principal` of `tenant` (its handle for `release`), or refused."""
        who = f"{tenant}\x00{principal.kind}\x00{principal.subject}" if principal is not None else ""
        if self.open >= self.limit:
            raise TooManyStreams(
                f"{self.limit} streams are open; try again later", retry_after=RETRY_AFTER, reason="too_many_streams"
            )
        if self.tenants.get(tenant, 0) >= self.per_tenant:
            raise TooManyStreams(
                f"{self.per_tenant} streams of this tenant are open; try again later",
                retry_after=RETRY_AFTER,
                reason="tenant_streams",
            )
        if who and self._principals.get(who, 0) >= self.per_principal:
            raise StreamShareUsed(
                f"{self.per_principal} streams of yours are open; close one first",
                retry_after=RETRY_AFTER,
                reason="principal_streams",
            )
        self.open += 1
        self.tenants[tenant] = self.tenants.get(tenant, 0) + 1
        if who:
            self._principals[who] = self._principals.get(who, 0) + 1
        return who

    def release(self, tenant: str, who: str) -> None:
        self.open -= 1
        _less(self.tenants, tenant)
        if who:
            _less(self._principals, who)


def _less(counts: dict[str, int], key: str) -> None:
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
