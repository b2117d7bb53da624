"""`gateway explain`: the decision for a hypothetical request, and why. No network calls.

It runs the same steps as the pipeline - canonical path, tenant, route, organization,
authorization - on a principal described on the command line, then says what
would be forwarded: upstream, path and label rewrite. `--org ORG` is the organization
the request acts for (as `X-Organization-Id` would choose it; a route that names it in
its path is checked against it), and `--roles` the caller's roles there: the explanation
shows that membership (or, on a Keto-backed tenant, the `Organization` tuples the gateway
would check), the chosen organization, and the permission tuples the route would ask Keto
about. Keto's answer is assumed to be yes (`--keto-denies` shows the other outcome).
Exit 0 allow, 1 deny, 2 usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import orjson

from gateway.authz import Check, checks
from gateway.config.load import Settings
from gateway.errors import GatewayError
from gateway.front.paths import canonical_path, quote_path
from gateway.front.request import RequestView
from gateway.front.tenants import resolve_tenant
from gateway.labels.registry import HEADERS
from gateway.orgs.choice import chosen_organization
from gateway.ory.keto import RelationTuple
from gateway.permissions.cache import ORGANIZATION_NAMESPACE
from gateway.permissions.checker import permission_tuple
from gateway.policy.model import Builtin, Match
from gateway.policy.policy_set import PolicySet, match
from gateway.principal import KINDS, Kind, Principal

_METHOD = re.compile(r"[A-Z]{1,20}")


@dataclass(slots=True)
class Explanation:
    method: str
    target: str
    host: str | None
    decision: str = "deny"  # "allow" | "deny"
    status: int = 403
    reason: str = ""
    detail: str = ""
    canonical_path: str | None = None
    tenant: str | None = None
    tenant_by: str | None = None
    tenant_path: str | None = None
    principal: dict[str, object] = field(default_factory=dict)
    route: str | None = None
    route_source: str | None = None
    pattern: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    checks: list[dict[str, object]] = field(default_factory=list)
    upstream: str | None = None
    forwarded_url: str | None = None
    builtin: str | None = None
    labels: str | None = None
    label_rewrite: list[str] = field(default_factory=list)
    organization: str | None = None
    #: how it was chosen: "X-Organization-Id (--org)", "path parameter {org}", or the only membership
    organization_by: str | None = None
    membership: list[str] = field(default_factory=list)
    #: the relation tuples the route's permission check would ask Keto about
    permissions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Caller:
    kind: Kind
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    organization: str | None = None
    #: the principal's tenant; default: the tenant the request resolves to
    tenant: str | None = None
    #: the identity id or client id (what Keto is asked about)
    subject: str | None = None
    #: what Keto answers for the route's permission check
    keto_allows: bool = True


def explain(
    settings: Settings, policies: PolicySet, method: str, target: str, caller: Caller, host: str | None = None
) -> Explanation:
    """The gateway's decision for `method` `target` (path, optional query) from `caller`."""
    out = Explanation(method=method.upper(), target=target, host=host)
    try:
        out.canonical_path = canonical_path(target.partition("?")[0].encode("utf-8"))
        tenant = resolve_tenant(settings, out.canonical_path, host)
        out.tenant, out.tenant_by, out.tenant_path = tenant.tenant, tenant.by, tenant.rest
        found = match(policies, tenant.tenant, out.method, tenant.rest)
    except GatewayError as exc:
        return _refused(out, exc)
    _describe_route(out, found, settings)
    principal = _principal(caller, tenant.tenant)
    try:
        _organization(out, found, principal, settings, policies)
        principal = dataclasses.replace(principal, organization=out.organization)  # acting for the chosen one
        _permission(out, found, principal)
    except GatewayError as exc:
        return _refused(out, exc)
    _decide(out, found, principal, caller.keto_allows)
    profile = policies.label_profiles.get(out.labels or "")
    if out.label_rewrite and profile is not None:
        out.label_rewrite.append(list_recheck(out.labels or "", profile.recheck_lists))
    return out


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


def _principal(caller: Caller, tenant: str) -> Principal:
    return Principal(
        kind=caller.kind,
        tenant=caller.tenant or tenant,
        subject=caller.subject or f"explain-{caller.kind}",
        organization=caller.organization,
        roles=caller.roles,
        scopes=caller.scopes,
    )


def _organization(out: Explanation, found: Match, p: Principal, settings: Settings, policies: PolicySet) -> None:
    """The organization the pipeline would choose, checked as it checks it (400s included)."""
    header = [(b"x-organization-id", p.organization.encode("utf-8"))] if p.organization else []
    view = RequestView(method=out.method, path="", raw_query=b"", headers=header, client_ip="")
    chosen = chosen_organization(view, found)
    out.organization = chosen
    if chosen is None:
        return
    param = found.route.organization_param
    out.organization_by = f"path parameter {{{param}}}" if param else "X-Organization-Id (--org)"
    tenant = settings.tenants.get(p.tenant)
    if p.kind == "machine":
        out.membership = [f"the client's organization {chosen} (machines keep one)"]
    elif tenant is not None and tenant.memberships == "keto":
        roles = sorted(policies.tenant_roles(p.tenant))
        tuples = [str(RelationTuple(ORGANIZATION_NAMESPACE, chosen, r, p.subject)) for r in roles]
        out.membership = [f"Keto: member of {chosen} with each role R allowed, one batch check of:", *tuples]
    else:
        out.membership = [f"{chosen} with roles [{', '.join(sorted(p.roles))}] (identity metadata)"]


def _permission(out: Explanation, found: Match, p: Principal) -> None:
    requirement = found.route.requirement_for(p.kind)
    permission = requirement.permission if requirement is not None else None
    if permission is not None:
        out.permissions = [str(permission_tuple(found.route, permission, found.params, p))]


def _describe_route(out: Explanation, found: Match, settings: Settings) -> None:
    route = found.route
    out.route, out.route_source, out.pattern = route.id, route.source, route.pattern.text
    out.params = dict(found.params)
    if isinstance(route.target, Builtin):
        options = "".join(f" {k}={v}" for k, v in sorted(route.target.options.items()))
        out.builtin = route.target.name + options
        return
    out.upstream, out.labels = route.target.upstream, route.labels
    out.forwarded_url = settings.upstreams.get(route.target.upstream, "") + quote_path(found.upstream_path)


def _decide(out: Explanation, found: Match, principal: Principal, keto_allows: bool) -> None:
    route = found.route
    out.principal = {
        "kind": principal.kind,
        "tenant": principal.tenant,
        "organization": principal.organization,
        "roles": sorted(principal.roles),
        "scopes": sorted(principal.scopes),
    }
    results: list[Check] = list(checks(route, principal))
    for tuple_ in out.permissions:  # checked after the rest, by Keto
        results.append(Check(f"permission {tuple_} (Keto)", keto_allows, "permission_denied"))
    out.checks = [{"requirement": c.requirement, "met": c.met, "reason": c.reason} for c in results]
    failed = next((c for c in results if not c.met), None)
    if failed is None:
        out.decision, out.status, out.reason = "allow", 200, "allowed"
        out.detail = "anonymous route" if route.anonymous else "every requirement is met"
        if out.permissions:
            out.detail += " (Keto's answer assumed: yes; --keto-denies for no)"
        out.label_rewrite = label_rewrite(route.labels, principal) if out.labels else []
        return
    out.reason, out.detail = failed.reason, f"route {route.id} requires {failed.requirement}"


def label_rewrite(profile: str, principal: Principal) -> list[str]:
    """What the label profile would do for `principal`, in words."""
    org = principal.organization or "<none>"
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
    )
    result = explain(settings, policies, method, args.path, caller, host=args.host)
    print(orjson.dumps(asdict(result), option=orjson.OPT_INDENT_2).decode() if args.json else render(result))
    return 0 if result.decision == "allow" else 1


def _names(raw: str) -> frozenset[str]:
    return frozenset(raw.replace(",", " ").split())


def render(result: Explanation) -> str:
    """Human-readable text: one labelled line per step."""
    rows: list[tuple[str, str | Sequence[str]]] = [("request", f"{result.method} {result.target}")]
    if result.host:
        rows.append(("host", result.host))
    if result.canonical_path is not None:
        rows.append(("path", result.canonical_path))
    if result.tenant is not None:
        rows.append(("tenant", f"{result.tenant} (by {result.tenant_by}; path in tenant {result.tenant_path})"))
    rows.extend(_route_rows(result))
    verdict = "ALLOW" if result.decision == "allow" else f"DENY {result.status} {result.reason}"
    rows.append(("decision", f"{verdict}: {result.detail}"))
    return "\n".join(_format(label, value) for label, value in rows)


def _route_rows(result: Explanation) -> list[tuple[str, str | Sequence[str]]]:
    if result.route is None:
        return []
    params = "".join(f" {k}={v}" for k, v in result.params.items())
    p = result.principal
    rows: list[tuple[str, str | Sequence[str]]] = [
        ("route", f"{result.route} ({result.pattern}{params}) at {result.route_source}"),
        *_organization_rows(result),
    ]
    if not p:  # refused while choosing the organization (e.g. --org and the path disagree)
        return rows
    rows += [
        (
            "caller",
            f"{p['kind']} of tenant {p['tenant']}, org {p['organization'] or '<none>'}, "
            f"roles {_join(p['roles'])}, scopes {_join(p['scopes'])}",
        ),
        (
            "checks",
            [f"{'met' if c['met'] else 'MISSING'}: {c['requirement']}" for c in result.checks] or ["none (anonymous)"],
        ),
    ]
    if result.builtin is not None:
        rows.append(("target", f"builtin {result.builtin}"))
    else:
        rows.append(("target", f"upstream {result.upstream} -> {result.forwarded_url}"))
        rows.append(("labels", [f"profile {result.labels}", *result.label_rewrite]))
    return rows


def _organization_rows(result: Explanation) -> list[tuple[str, str | Sequence[str]]]:
    rows: list[tuple[str, str | Sequence[str]]] = []
    if result.organization is not None:
        rows += [("org", f"{result.organization} (by {result.organization_by})"), ("member", result.membership)]
    if result.permissions:
        rows.append(("keto", [f"would check {t}" for t in result.permissions]))
    return rows


def _join(values: object) -> str:
    return "[" + ", ".join(map(str, values)) + "]" if isinstance(values, list) else str(values)


def _format(label: str, value: str | Sequence[str]) -> str:
    lines = [value] if isinstance(value, str) else list(value)
    pad = " " * 10
    return "\n".join(f"{label if i == 0 else '':<10}{line}" for i, line in enumerate(lines)) or pad
