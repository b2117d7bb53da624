"""`/healthz`: the process answers. `/readyz`: policies loaded, not draining, and every
tenant's Ory reachable within a short timeout.

A readiness probe's result is shared for `PROBE_TTL` seconds (and concurrent probes join
one), so hammering /readyz cannot turn into a flood of calls to Ory.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from gateway.config.settings import Settings, TenantSettings
from gateway.errors import GatewayError
from gateway.front.exchange import Exchange
from gateway.ory.http import ory_request
from gateway.policy.reload import PolicyStore
from gateway.server.lifecycle import Drain

PROBE_TIMEOUT = 1.0
PROBE_TTL = 1.0


async def healthz(ex: Exchange) -> None:
    await ex.respond_json(200, {"status": "ok"})


class Readiness:
    def __init__(self, settings: Settings, policies: PolicyStore, ory: httpx.AsyncClient, drain: Drain) -> None:
        self.settings, self.policies, self.ory, self.drain = settings, policies, ory, drain
        #: the last probe: when it started, and its answer (tenant -> why it is not ready)
        self._last: tuple[float, asyncio.Future[dict[str, str]]] | None = None

    async def answer(self, ex: Exchange) -> None:
        if self.drain.draining:
            await ex.respond_json(503, {"status": "draining", "failing": {}}, [(b"retry-after", b"5")])
            return
        failing = await asyncio.shield(self._probe())
        ready = self.policies.current is not None and not failing
        doc = {"status": "ready" if ready else "not_ready", "failing": failing}
        await ex.respond_json(200 if ready else 503, doc, [] if ready else [(b"retry-after", b"5")])

    def _probe(self) -> asyncio.Future[dict[str, str]]:
        """The last probe while it is fresh (or still running), else a new one."""
        now = time.monotonic()
        last = self._last
        if (
            last is None
            or now - last[0] > PROBE_TTL
            or last[1].get_loop() is not asyncio.get_running_loop()
            or (last[1].done() and (last[1].cancelled() or last[1].exception() is not None))
        ):
            last = self._last = (now, asyncio.ensure_future(self._failing()))
        return last[1]

    async def _failing(self) -> dict[str, str]:
        tenants = list(self.settings.tenants.values())
        results = await asyncio.gather(*(_reachable(self.ory, t) for t in tenants))
        return {t.name: why for t, why in zip(tenants, results, strict=True) if why}


async def _reachable(client: httpx.AsyncClient, tenant: TenantSettings) -> str:
    """Kratos answers whoami without credentials with 401: that is "reachable"; an outage
    or a 429 (`gateway.ory.http`) is the reason the tenant is not ready."""
    url = tenant.kratos_public_url + "/sessions/whoami"
    try:
        await ory_request(client, "GET", url, service="kratos", timeout=PROBE_TIMEOUT, headers={})
    except GatewayError as error:
        return error.description
    return ""
