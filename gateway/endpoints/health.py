"""`/readyz`: policies loaded and every tenant's Ory reachable within a short timeout.

The probe result is shared for `PROBE_TTL` seconds (and concurrent probes join one), so
hammering /readyz cannot turn into a flood of calls to Ory.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from gateway.config.settings import TenantSettings
from gateway.context import Gateway
from gateway.errors import GatewayError
from gateway.front.exchange import Exchange
from gateway.ory.http import ory_request

PROBE_TIMEOUT = 1.0
PROBE_TTL = 1.0
#: per gateway: (its Gateway, when probed, the probe)
_probes: dict[int, tuple[Gateway, float, asyncio.Future[dict[str, str]]]] = {}


async def readiness(gw: Gateway, ex: Exchange) -> None:
    now = time.monotonic()
    last = _probes.get(id(gw))
    if (
        last is None
        or last[0] is not gw
        or now - last[1] > PROBE_TTL
        or last[2].get_loop() is not asyncio.get_running_loop()
        or (last[2].done() and (last[2].cancelled() or last[2].exception() is not None))
    ):
        last = _probes[id(gw)] = (gw, now, asyncio.ensure_future(_failing(gw)))
    failing = await asyncio.shield(last[2])
    ready = gw.policies.current is not None and not failing
    doc = {"status": "ready" if ready else "not_ready", "failing": failing}
    await ex.respond_json(200 if ready else 503, doc, [] if ready else [(b"retry-after", b"5")])


async def _failing(gw: Gateway) -> dict[str, str]:
    tenants = list(gw.settings.tenants.values())
    results = await asyncio.gather(*(_probe(gw.ory, t) for t in tenants))
    return {t.name: why for t, why in zip(tenants, results, strict=True) if why}


async def _probe(client: httpx.AsyncClient, tenant: TenantSettings) -> str:
    """Kratos answers whoami without credentials with 401: that is "reachable"; an outage
    or a 429 (`gateway.ory.http`) is the reason the tenant is not ready."""
    url = tenant.kratos_public_url + "/sessions/whoami"
    try:
        await ory_request(client, "GET", url, service="kratos", timeout=PROBE_TIMEOUT, headers={})
    except GatewayError as error:
        return error.description
    return ""
