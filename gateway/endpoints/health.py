"""`/healthz`: the process answers. `/readyz`: this process can serve - its policies are
loaded and it is not draining - whatever any tenant's Ory does.

A tenant's Ory being down, frozen or rate limiting is that tenant's trouble: it fails that
tenant's requests (503 with Retry-After), never readiness, or one tenant's incident would take
every replica out of the Service and every tenant with it. Tenant health is reported apart
(`GET /_gateway/tenants`, `gateway_tenant_up`: `gateway.endpoints.tenants`).
"""

from __future__ import annotations

from gateway.front.exchange import Exchange
from gateway.policy.reload import PolicyStore
from gateway.server.lifecycle import Drain


async def healthz(ex: Exchange) -> None:
    await ex.respond_json(200, {"status": "ok"})


class Readiness:
    def __init__(self, policies: PolicyStore, drain: Drain) -> None:
        self.policies, self.drain = policies, drain

    async def answer(self, ex: Exchange) -> None:
        if self.drain.draining:
            await ex.respond_json(503, {"status": "draining"}, [(b"retry-after", b"5")])
        elif self.policies.current is None:
            await ex.respond_json(503, {"status": "not_ready"}, [(b"retry-after", b"5")])
        else:
            await ex.respond_json(200, {"status": "ready"})
