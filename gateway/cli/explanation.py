"""What `gateway explain` is asked (`Caller`: the caller as its flags describe it) and what it
found (`Explanation`, step by step: its `--json`), and its text: one labelled line per step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.principal import Kind, Principal


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
    #: a person's session: its assurance level, and when they signed in (epoch seconds)
    aal: str = "aal1"
    authenticated_at: float = 0.0

    def principal(self, tenant: str) -> Principal:
        """The caller as authentication would hand it on, on a route of `tenant`."""
        human = self.kind == "human"
        return Principal(
            kind=self.kind,
            tenant=self.tenant or tenant,
            subject=self.subject or f"explain-{self.kind}",
            organization=self.organization,
            roles=self.roles,
            scopes=self.scopes,
            aal=self.aal if human else None,
            authenticated_at=self.authenticated_at if human else None,
        )


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
    #: the route's rate limit (`100 per 1m per principal`), and the window this request counts in
    rate_limit: str | None = None


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
    if p:  # (none when the request was refused before its organization was chosen)
        caller = f"{p['kind']} of tenant {p['tenant']}, org {p['organization'] or '<none>'}, "
        session = f", session {p['aal']}" if p.get("aal") else ""
        rows.append(("caller", caller + f"roles {_join(p['roles'])}, scopes {_join(p['scopes'])}{session}"))
        checked = [f"{'met' if c['met'] else 'MISSING'}: {c['requirement']}" for c in result.checks]
        rows.append(("checks", checked or ["none (anonymous)"]))
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
    if result.rate_limit is not None:
        rows.append(("limit", result.rate_limit))
    return rows


def _join(values: object) -> str:
    return "[" + ", ".join(map(str, values)) + "]" if isinstance(values, list) else str(values)


def _format(label: str, value: str | Sequence[str]) -> str:
    lines = [value] if isinstance(value, str) else list(value)
    pad = " " * 10
    return "\n".join(f"{label if i == 0 else '':<10}{line}" for i, line in enumerate(lines)) or pad
