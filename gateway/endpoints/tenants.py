"""`GET /_gateway/tenants`: each tenant's Ory services, up or down since when and why.

From the outcomes of the gateway's real calls and of the background probe
(`gateway.ory.health`, `gateway.ory.probe`). Served to the admin on the main listener, and on
the metrics listener (`GATEWAY_METRICS_LISTEN`) beside `/metrics`; never to anonymous callers.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from gateway.front.exchange import Exchange
from gateway.ory.pool import OryPool

PATH = "/_gateway/tenants"


def tenants_body(pools: Mapping[str, OryPool]) -> bytes:
    """`{"tenants": {<name>: {<service>: {"up", "since", "reason"}}}}`."""
    return orjson.dumps({"tenants": {name: pool.health.view() for name, pool in list(pools.items())}})


async def tenants(pools: Mapping[str, OryPool], ex: Exchange) -> None:
    await ex.respond(200, tenants_body(pools), [(b"cache-control", b"no-store")])
