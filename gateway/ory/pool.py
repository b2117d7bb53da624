"""`OryPool`: one tenant's way to its Ory - its own connection pool, a bound on its calls in
flight, and the health its calls report (`gateway.ory.health`).

Tenants share nothing here: one tenant's Ory frozen, slow or flooded with lookups holds only
that tenant's connections and slots. A call waits for a free slot at most the tenant's
`ORY_QUEUE_TIMEOUT`; past it the answer is 503 `ory_saturated` (the gateway's own bound:
counted, never reported as Ory timing out, never recorded as Ory down). The tenant's
`TIMEOUT` then bounds the call itself, not the wait. The slots are as many as the pool's
connections (`ORY_MAX_CONNECTIONS`), so a call holding a slot never waits for a connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gateway.config.settings import TenantSettings
from gateway.errors import OrySaturated
from gateway.ory.health import SERVICES, TenantHealth, services_of

#: Retry-After (seconds) of `ory_saturated`
SATURATED_RETRY_AFTER = 1

Hooks = Mapping[str, list[Callable[[Any], Any]]]


class OryPool:
    def __init__(
        self, tenant: str, http: httpx.AsyncClient, health: TenantHealth, slots: int, queue_timeout: float
    ) -> None:
        self.tenant = tenant
        self.http = http
        self.health = health
        self.queue_timeout = queue_timeout
        self._slots = asyncio.Semaphore(slots)
        #: calls refused for want of a slot (`gateway_ory_saturated_total`)
        self.saturated = 0

    @classmethod
    def for_tenant(cls, tenant: TenantSettings, hooks: Hooks | None = None) -> OryPool:
        size = tenant.ory_max_connections
        http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            follow_redirects=False,
            cookies=NoCookies(),
            event_hooks=dict(hooks or {}),
        )
        health = TenantHealth(tenant.name, services_of(tenant))
        return cls(tenant.name, http, health, size, tenant.ory_queue_timeout)

    @classmethod
    def over(cls, tenant: str, http: httpx.AsyncClient, slots: int = 64, queue_timeout: float = 0.25) -> OryPool:
        """A pool over a client made elsewhere (`gateway explain`'s in-process Ory)."""
        return cls(tenant, http, TenantHealth(tenant, SERVICES), slots, queue_timeout)

    async def acquire(self) -> None:
        """A slot for one call, or `OrySaturated` after the short wait."""
        slots = self._slots
        if not slots.locked():
            await slots.acquire()  # free: taken without waiting
            return
        try:
            async with asyncio.timeout(self.queue_timeout):
                await slots.acquire()
        except TimeoutError:
            self.saturated += 1
            raise OrySaturated(
                f"too many calls to tenant {self.tenant}'s identity service are in flight; retry later",
                retry_after=SATURATED_RETRY_AFTER,
            ) from None

    def release(self) -> None:
        self._slots.release()

    async def aclose(self) -> None:
        await self.http.aclose()


def build_pools(tenants: Mapping[str, TenantSettings], hooks: Hooks | None = None) -> dict[str, OryPool]:
    """One pool per tenant."""
    return {name: OryPool.for_tenant(tenant, hooks) for name, tenant in tenants.items()}


class NoCookies(httpx.Cookies):
    """An Ory client must never keep one caller's Set-Cookie for the next call."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None
