"""`/readyz`: policies loaded and every tenant's Ory reachable within a short timeout."""

from __future__ import annotations

import asyncio

import httpx

from gateway.config import TenantSettings
from gateway.context import Gateway
from gateway.exchange import Exchange

PROBE_TIMEOUT = 1.0


async def readiness(gw: Gateway, ex: Exchange) -> None:
    tenants = list(gw.settings.tenants.values())
    results = await asyncio.gather(*(_probe(gw.ory, t) for t in tenants))
    failing = {t.name: why for t, why in zip(tenants, results, strict=True) if why}
    ready = gw.policies.current is not None and not failing
    doc = {"status": "ready" if ready else "not_ready", "failing": failing}
    await ex.respond_json(200 if ready else 503, doc, [] if ready else [(b"retry-after", b"5")])


async def _probe(client: httpx.AsyncClient, tenant: TenantSettings) -> str:
    """Kratos answers whoami without credentials with 401: that is "reachable"."""
    try:
        resp = await client.get(tenant.kratos_public_url + "/sessions/whoami", timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"kratos unreachable: {type(exc).__name__}"
    if resp.status_code >= 500 or resp.status_code == 429:
        return f"kratos answered {resp.status_code}"
    return ""
