"""The request pipeline: tenant -> rule -> authn -> authz -> labels -> forward.

Each stage is small and hands the next a frozen value. Any error raised here is a
denial rendered by the app; nothing is forwarded after an exception.
"""

from __future__ import annotations

from gateway.authz import authorize
from gateway.context import Gateway
from gateway.decision import Decision
from gateway.front.exchange import Exchange


async def decide(gw: Gateway, ex: Exchange) -> Decision:
    """Everything up to the forward: who is calling and whether this route lets them."""
    policies = gw.policies.current  # one policy set for the request's whole life
    where = gw.locator.locate(policies, ex.request, ex.raw_path)  # canonical path -> tenant -> route
    found = where.match
    route = found.route
    log = ex.log
    log["tenant"], log["rule"] = where.tenant, route.id
    ex.kinds = route.kinds
    principal = None
    if not route.anonymous:
        principal = await gw.authn[where.tenant].authenticate(ex.request, route.kinds)
        log["kind"], log["principal"], log["org"] = principal.kind, principal.subject, principal.organization
        log["credential_hash"] = principal.credential_hash  # sha256: for `gateway revoke --token-hash`
        authorize(route, principal)
    return Decision(where.tenant, found, principal, policies)


async def handle(gw: Gateway, ex: Exchange) -> None:
    decision = await decide(gw, ex)
    ex.log["decision"] = "allow"
    await gw.targets.dispatch(ex, decision)
