"""`TenantProbe`: between real calls, asks each tenant's Ory services whether they answer.

A low-rate background task, never on a request's path: every `INTERVAL` seconds (jittered,
so replicas and tenants do not probe in step) each service of each tenant that no real call
has been heard from for that long gets one `GET <service URL>/health/alive` through the
tenant's own pool (`gateway.ory.http`, which records the outcome in the tenant's health).
Any answer but a 5xx or a 429 means the service answers (Ory Network documents no
`/health/*`: its 404 still says the project answers). A pool with no free slot is left alone:
its calls are being heard already. The lifespan cancels it on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping

from gateway.config.settings import TenantSettings
from gateway.errors import GatewayError
from gateway.ory.health import services_of
from gateway.ory.http import ory_request
from gateway.ory.pool import OryPool

#: seconds between probes of a quiet service, before jitter
INTERVAL = 15.0
JITTER = 0.2
PATH = "/health/alive"


class TenantProbe:
    def __init__(
        self,
        tenants: Mapping[str, TenantSettings],
        pools: Mapping[str, OryPool],
        interval: float = INTERVAL,
        rng: random.Random | None = None,
    ) -> None:
        self.tenants, self.pools, self.interval = tenants, pools, interval
        self._rng = rng or random.Random()

    async def run(self) -> None:
        """Probe for ever (until cancelled): once soon after start, then every interval."""
        await asyncio.sleep(self._rng.uniform(0.0, 1.0))
        while True:
            await asyncio.gather(*(self._tenant(t) for t in self.tenants.values()))
            await asyncio.sleep(self.interval * self._rng.uniform(1 - JITTER, 1 + JITTER))

    async def _tenant(self, tenant: TenantSettings) -> None:
        pool = self.pools[tenant.name]
        quiet = [
            (service, url)
            for service, url in services_of(tenant).items()
            if pool.health.quiet_since(service) >= self.interval
        ]
        await asyncio.gather(*(self.probe(pool, tenant, service, url) for service, url in quiet))

    @staticmethod
    async def probe(pool: OryPool, tenant: TenantSettings, service: str, url: str) -> None:
        """One probe; its outcome is recorded by the Ory boundary (a saturated pool: nothing)."""
        with contextlib.suppress(GatewayError):
            await ory_request(pool, "GET", url.rstrip("/") + PATH, service=service, timeout=tenant.timeout, headers={})
