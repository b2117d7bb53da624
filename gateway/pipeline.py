"""The request pipeline: tenant -> rule -> authn -> authz -> labels -> forward.

Each stage is small and hands the next a frozen value. Any error raised here is a
denial rendered by the app; nothing is forwarded after an exception.
"""

from __future__ import annotations

from gateway.authz import authorize
from gateway.context import Gateway
from gateway.decision import Decision
from gateway.exchange import Exchange
from gateway.paths import canonical_path
from gateway.policy import match
from gateway.tenants import resolve_tenant


async def decide(gw: Gateway, ex: Exchange) -> Decision:
    """Everything up to the forward: who is calling and whether this route lets them."""
    path = canonical_path(ex.raw_path)
    ex.request.path = path
    tenant = resolve_tenant(gw.settings, path, ex.request.host)
    policies = gw.policies.current  # one policy set for the request's whole life
    found = match(policies, tenant.tenant, ex.request.method, tenant.rest)
    ex.log.update(tenant=tenant.tenant, rule=found.route.id)
    route = found.route
    ex.kinds = route.kinds
    principal = None
    if not route.anonymous:
        principal = await gw.authn[tenant.tenant].authenticate(ex.request, route.kinds)
        ex.log.update(
            kind=principal.kind, principal=principal.subject, org=principal.organization,
            credential_hash=principal.credential_hash,  # sha256: for `gateway revoke --token-hash`
        )  # fmt: skip
        authorize(route, principal)
    return Decision(tenant.tenant, found, principal, policies)


async def handle(gw: Gateway, ex: Exchange) -> None:
    decision = await decide(gw, ex)
    ex.log["decision"] = "allow"
    await gw.targets.dispatch(ex, decision)
