"""The request pipeline: tenant -> route -> cross-origin -> authn -> org -> authz -> limit -> labels -> forward.

Each stage is small and hands the next a frozen value (`Decision`, `Prepared`,
`ForwardPlan`); every stage is a part of the `Gateway`, built whole (`gateway.build`). Any
error raised here is a denial rendered by the app; nothing is forwarded after an exception.
WebSocket handshakes (`gateway.forward.websocket`), forward-auth
(`gateway.endpoints.forward_auth`) and `gateway explain` run the same `decide`.
"""

from __future__ import annotations

from gateway.authz import authorize
from gateway.context import Gateway
from gateway.decision import Decision
from gateway.errors import StepUpRequired
from gateway.forward.plan import forward_plan
from gateway.front.cors import is_preflight
from gateway.front.exchange import Exchange
from gateway.observe import tracing
from gateway.policy import Builtin


async def decide(gw: Gateway, ex: Exchange) -> Decision:
    """Everything up to the forward: who is calling and whether this route lets them."""
    policies = gw.policies.current  # one policy set for the request's whole life
    where = gw.locator.locate(policies, ex.request, ex.raw_path)  # canonical path -> tenant -> route
    found = where.match
    route = found.route
    log = ex.log
    log["tenant"], log["rule"] = where.tenant, route.id
    if ex.trace.span is not None:  # spans are exported: the request span's route
        tracing.note("http.route", route.pattern.text)
    ex.kinds = route.kinds
    gw.cross_origin.check(ex, where.tenant, route)  # the cookie from a foreign page: before any credential
    principal = None
    if not route.anonymous:
        tenant = where.tenant
        authn = gw.authn[tenant]
        with tracing.span("authenticate"):  # cache hit, or the Ory call under it
            principal = await authn.authenticate(ex.request, route.kinds, ex.refreshed)
        log["kind"], log["principal"] = principal.kind, principal.subject
        log["credential_hash"] = principal.credential_hash  # sha256: for `gateway revoke --token-hash`
        # the organization this request acts for, and the roles held there (gateway.orgs)
        principal = await gw.orgs[tenant].choose(ex.request, found, principal, policies.tenant_roles(tenant))
        log["org"] = principal.organization
        try:
            authorize(route, principal, gw.clock())  # kind, roles, scopes, session, organization: no network
        except StepUpRequired:
            await authn.forget(principal)  # once the person has stepped up, the next request asks Ory
            raise
        await gw.permissions[tenant].require(found, principal)  # the route's Keto permission, if any
    if route.rate_limit is not None:  # routes without a limit pay nothing
        await gw.route_limits.check(ex, route, principal)
    return Decision(where.tenant, found, principal, policies)


async def handle(gw: Gateway, ex: Exchange) -> None:
    """One HTTP request through to its answer: a built-in's, or the upstream's."""
    # CORS preflight: answered by the gateway, never authenticated
    if ex.request.method == "OPTIONS" and is_preflight(ex.request):
        await gw.cors.preflight(ex, gw.policies.current, gw.locator)
        return
    decision = await decide(gw, ex)
    ex.log["decision"] = "allow"
    match = decision.match
    target = match.route.target
    if isinstance(target, Builtin):  # the gateway answers itself (login, token relay, identity lookup)
        await gw.builtins.answer(ex, decision, target)
        return
    body = await gw.body.take(ex, match.route)  # in memory (bounded) or streamed
    prepared = await gw.labels.prepare(ex, match, decision.principal, body, decision.policies)
    upstream = target.upstream
    with tracing.upstream_span(upstream, ex.request.method):  # the upstream's traceparent names this span
        headers = gw.upstream_headers.request(ex, decision, upstream, prepared.drop_headers, prepared.content_type)
        plan = forward_plan(ex.request.method, match, target, prepared, headers)
        await gw.relay.forward(ex, decision, plan)  # a long-lived answer: capped, its principal re-checked
