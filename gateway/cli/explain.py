"""`gateway explain`: the decision for a hypothetical request, and why. No network calls.

It runs the gateway's own `decide` (`gateway.pipeline`: canonical path, tenant, route,
cross-origin, authentication, organization, authorization, permissions) on the gateway built
with Ory's answers taken from the command line (`gateway.cli.explain_ory`), then says why
and what would be forwarded: upstream, path and label rewrite. `--org ORG` is the
organization the request acts for (as `X-Organization-Id` chooses it; a route that names it
in its path is checked against it), `--roles` the caller's roles there, and `--aal` and
`--signed-in-ago` a person's session (a route's `aal` and `max_age`): the explanation
shows that membership (or, on a Keto-backed tenant, the `Organization` tuples the gateway
would check), the chosen organization, and the permission tuples the route asks Keto about.
Keto's answer is yes unless `--keto-denies`. Exit 0 allow, 1 deny, 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import re
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import orjson

from gateway.authz import Check, checks
from gateway.cli.explanation import Caller, Explanation, render
from gateway.config.settings import Settings
from gateway.errors import GatewayError
from gateway.front.exchange import Exchange
from gateway.front.paths import quote_path
from gateway.front.request import RequestView
from gateway.front.tenants import resolve_tenant
from gateway.front.trusted_proxies import Origin
from gateway.labels.registry import HEADERS
from gateway.observe.tracing import Sampling, started
from gateway.orgs.sources import REGISTRY as MEMBERSHIP_SOURCES
from gateway.permissions.checker import permission_tuple
from gateway.policy.model import Builtin, Match
from gateway.policy.policy_set import PolicySet
from gateway.principal import KINDS, Principal

if TYPE_CHECKING:
    from gateway.context import Gateway

_METHOD = re.compile(r"[A-Z]{1,20}")


def explain(
    settings: Settings, policies: PolicySet, method: str, target: str, caller: Caller, host: str | None = None
) -> Explanation:
    """The gateway's decision for `method` `target` (path, optional query) from `caller`: its own
    `decide`, on the gateway built with Ory's answers taken from `caller`; then why, in words."""
    from gateway.cli.explain_ory import explaining_gateway  # the whole gateway, imported when used
    from gateway.pipeline import decide

    out = Explanation(method=method.upper(), target=target, host=host)
    gw = explaining_gateway(settings, policies, caller)
    ex = _exchange(out.method, target, host, caller)
    refusal: GatewayError | None = None
    try:
        asyncio.run(decide(gw, ex))
    except GatewayError as exc:
        refusal = exc
    found = _describe_request(out, gw, ex, policies)
    if found is not None:
        _describe_caller(out, found, ex, caller, settings, policies)
    if refusal is not None:
        return _refused(out, refusal)
    assert found is not None  # decided: the route was found
    _allowed(out, found, policies)
    return out


def _exchange(method: str, target: str, host: str | None, caller: Caller) -> Exchange:
    """The request as the gateway would see it: `--org` as X-Organization-Id, no credential."""
    path, _, query = target.partition("?")
    headers = [(b"x-organization-id", caller.organization.encode("utf-8"))] if caller.organization else []
    request = RequestView(method, "", query.encode("utf-8"), headers, client_ip="", host=host or "")
    origin = Origin("", "http", request.host, "explain", "")
    return Exchange({}, _nothing_received, _nothing_sent, request, origin, path.encode("utf-8"), started(Sampling()))


def _describe_request(out: Explanation, gw: Gateway, ex: Exchange, policies: PolicySet) -> Match | None:
    """Path, tenant and route, as the gateway found them (None: refused before a route)."""
    out.canonical_path = ex.request.path or None
    if out.canonical_path is None:
        return None
    try:
        tenant = resolve_tenant(gw.settings, out.canonical_path, out.host)
        out.tenant, out.tenant_by, out.tenant_path = tenant.tenant, tenant.by, tenant.rest
        found = gw.locator.locate(policies, ex.request, ex.raw_path).match
    except GatewayError:
        return None
    route = found.route
    out.route, out.route_source, out.pattern = route.id, route.source, route.pattern.text
    out.params = dict(found.params)
    if route.rate_limit is not None:  # (explain counts nothing: one request never reaches a limit)
        out.rate_limit = f"at most {route.rate_limit}, sliding window; past it 429 rate_limited"
    if isinstance(route.target, Builtin):
        options = "".join(f" {k}={v}" for k, v in sorted(route.target.options.items()))
        out.builtin = route.target.name + options
    else:
        out.upstream, out.labels = route.target.upstream, route.labels
        out.forwarded_url = gw.settings.upstreams.get(route.target.upstream, "") + quote_path(found.upstream_path)
    return found


def _describe_caller(
    out: Explanation, found: Match, ex: Exchange, caller: Caller, settings: Settings, policies: PolicySet
) -> None:
    """The caller as authorization saw it, the organization chosen, every requirement checked."""
    route = found.route
    if not route.anonymous and "org" not in ex.log:  # refused before the organization was chosen
        return
    principal = caller.principal(route.tenant)
    chosen = ex.log.get("org")  # set once the organization stage has chosen (None: no organization)
    if not route.anonymous:  # acting for the organization chosen, with --roles held there
        principal = dataclasses.replace(principal, organization=chosen if isinstance(chosen, str) else None)
    out.principal = {
        "kind": principal.kind,
        "tenant": principal.tenant,
        "organization": principal.organization,
        "roles": sorted(principal.roles),
        "scopes": sorted(principal.scopes),
    }
    if principal.kind == "human":
        out.principal["aal"] = principal.aal
    if isinstance(chosen, str):
        _organization(out, found, principal, chosen, settings, policies)
    results = list(checks(route, principal, time.time()))
    requirement = route.requirement_for(principal.kind)
    if requirement is not None and requirement.permission is not None and not route.anonymous:
        with contextlib.suppress(GatewayError):  # the gateway refused the request for it
            wanted = str(permission_tuple(route, requirement.permission, found.params, principal))
            out.permissions = [wanted]
            results.append(Check(f"permission {wanted} (Keto)", caller.keto_allows, "permission_denied"))
    out.checks = [{"requirement": c.requirement, "met": c.met, "reason": c.reason} for c in results]


def _organization(
    out: Explanation, found: Match, principal: Principal, chosen: str, settings: Settings, policies: PolicySet
) -> None:
    param = found.route.organization_param
    out.organization = chosen
    out.organization_by = f"path parameter {{{param}}}" if param else "X-Organization-Id (--org)"
    tenant = settings.tenants.get(principal.tenant)
    if principal.kind == "machine":
        out.membership = [f"the client's organization {chosen} (machines keep one)"]
    elif tenant is not None:
        source = MEMBERSHIP_SOURCES[tenant.memberships]
        out.membership = source.explained(principal, chosen, policies.tenant_roles(principal.tenant))


def _allowed(out: Explanation, found: Match, policies: PolicySet) -> None:
    route = found.route
    out.decision, out.status, out.reason = "allow", 200, "allowed"
    out.detail = "anonymous route" if route.anonymous else "every requirement is met"
    if out.permissions:
        out.detail += " (Keto's answer assumed: yes; --keto-denies for no)"
    if out.labels:
        organization = out.principal.get("organization")
        out.label_rewrite = label_rewrite(out.labels, organization if isinstance(organization, str) else None)
        profile = policies.label_profiles.get(out.labels)
        if profile is not None:
            out.label_rewrite.append(list_recheck(out.labels, profile.recheck_lists))


def list_recheck(name: str, on: bool) -> str:
    if on:
        return "list answers are re-checked: runs of other organizations are dropped"
    return (
        f"list answers are NOT re-checked (label profile {name!r}: recheck_lists: false): "
        "the forced label filter is the only line of defence"
    )


def _refused(out: Explanation, exc: GatewayError) -> Explanation:
    out.status, out.reason, out.detail = exc.status, exc.reason, exc.description
    allowed = getattr(exc, "allowed", None)
    if allowed:
        out.detail += f" (allowed: {', '.join(sorted(allowed))})"
    return out


async def _nothing_received() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _nothing_sent(message: dict[str, object]) -> None:
    return None


def label_rewrite(profile: str, organization: str | None) -> list[str]:
    """What the label profile would do for a caller acting for `organization`, in words."""
    org = organization or "<none>"
    lines = [
        "identity headers (X-Tenant, X-User-Id/X-Client-Id, X-Org-Id, X-Roles, X-Scopes, ...) set",
        f"X-Org-Id: {org}",
    ]
    if profile == "durably":
        lines += [
            f"label.organizationId={org} is forced on listings and subscriptions (client copies removed)",
            f"labels.organizationId={org} is stamped into trigger bodies (body re-serialised)",
            "runs of other organizations answer 404 (the same as a run that does not exist)",
        ]
    elif profile != HEADERS:
        lines.append(f"custom label profile {profile!r} (see label_profiles)")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", help="HTTP method, e.g. GET")
    parser.add_argument("path", help="request path as sent, e.g. /customer/api/durably/runs")
    parser.add_argument("--host", help="Host header (for host-routed tenants)")
    parser.add_argument("--as", dest="kind", required=True, choices=KINDS, help="principal kind")
    parser.add_argument("--roles", default="", help="comma list of roles, e.g. viewer,member")
    parser.add_argument("--scopes", default="", help='space list of scopes, e.g. "jobs:read jobs:write"')
    parser.add_argument(
        "--org", help="the organization the request acts for (as X-Organization-Id), with --roles held there"
    )
    parser.add_argument("--subject", help="identity id or client id shown in permission tuples")
    parser.add_argument("--keto-denies", action="store_true", help="show the decision when Keto says no")
    parser.add_argument(
        "--aal", choices=("aal1", "aal2"), default="aal1", help="a person's session level (aal2: with a second factor)"
    )
    parser.add_argument(
        "--signed-in-ago", type=float, default=0.0, metavar="SECONDS", help="how long ago the person signed in"
    )
    parser.add_argument("--principal-tenant", help="the principal's tenant (default: the request's tenant)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace, settings: Settings, policies: PolicySet) -> int:
    method = str(args.method).upper()
    if not _METHOD.fullmatch(method):
        print(f"gateway explain: not an HTTP method: {args.method!r}", file=sys.stderr)
        return 2
    if args.principal_tenant is not None and args.principal_tenant not in settings.tenants:
        print(f"gateway explain: unknown tenant {args.principal_tenant!r}", file=sys.stderr)
        return 2
    caller = Caller(
        kind=args.kind,
        roles=_names(args.roles),
        scopes=_names(args.scopes),
        organization=args.org or None,
        tenant=args.principal_tenant,
        subject=args.subject,
        keto_allows=not args.keto_denies,
        aal=args.aal,
        authenticated_at=time.time() - max(0.0, args.signed_in_ago),
    )
    result = explain(settings, policies, method, args.path, caller, host=args.host)
    print(orjson.dumps(asdict(result), option=orjson.OPT_INDENT_2).decode() if args.json else render(result))
    return 0 if result.decision == "allow" else 1


def _names(raw: str) -> frozenset[str]:
    return frozenset(raw.replace(",", " ").split())
