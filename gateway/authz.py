"""May this principal use this route? Tenant, kind, roles, scopes, second factor, recent
sign-in, organization.

Checks run in a fixed order and the first unmet one decides, with a fixed
reason id: ``wrong_tenant``, ``kind_not_allowed``, ``missing_role``,
``missing_scope``, ``aal2_required`` (the route's `aal: aal2`, a session without a second
factor), ``reauthentication_required`` (its `max_age`, a sign-in longer ago), ``no_organization``
(a route that injects labels needs the caller's organization); the two session checks raise
`StepUpRequired`, which sends a browser to sign in again (`gateway.front.login`). The session's
level and time travel with the principal, so a cached decision is checked again on every
request and an allow is never reused for a weaker session. For machines a scope doubles as a role. The principal is
the one the organization stage hands on (`gateway.orgs`): its roles are those of the
organization the request acts for. A route's Ory Permissions check comes after these,
with a network call (`gateway.permissions.checker`), and is never memoized here. A denial names
only what the route requires - never anything about another tenant or about
the caller. Every decision is logged (logger ``gateway.authz``): denials at
INFO, grants at DEBUG, with tenant, route id, principal id and reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from gateway.errors import Forbidden, StepUpRequired
from gateway.policy.model import Requirement, Route
from gateway.principal import Principal

log = logging.getLogger("gateway.authz")


@dataclass(frozen=True, slots=True)
class Check:
    #: what the route requires, e.g. "one of roles [viewer, member]"
    requirement: str
    met: bool
    #: the fixed reason id used when this check is not met
    reason: str


#: aal values that satisfy `aal: aal2`
STRONG = frozenset({"aal2", "aal3"})
STEP_UPS = {"aal2_required": "aal2", "reauthentication_required": "refresh"}


def checks(route: Route, principal: Principal, now: float) -> Iterator[Check]:
    """Every requirement of `route`, in decision order, evaluated for `principal` at `now`."""
    if route.anonymous:
        return
    yield Check(f"a principal of tenant {route.tenant}", principal.tenant == route.tenant, "wrong_tenant")
    requirement = route.requirement_for(principal.kind)
    kinds = ", ".join(route.kinds)
    yield Check(f"a principal of kind [{kinds}]", requirement is not None, "kind_not_allowed")
    if requirement is not None:
        yield from _requirement_checks(requirement, principal)
        yield from _session_checks(requirement, principal, now)
    if route.injects_labels:
        organization = f"an organization (label profile {route.labels})"
        yield Check(organization, principal.organization is not None, "no_organization")


def _requirement_checks(requirement: Requirement, principal: Principal) -> Iterator[Check]:
    roles, scopes = principal.effective_roles, principal.scopes
    if requirement.roles_all:
        yield _check("all of roles", requirement.roles_all, roles >= set(requirement.roles_all), "missing_role")
    if requirement.roles_any:
        yield _check("one of roles", requirement.roles_any, not roles.isdisjoint(requirement.roles_any), "missing_role")
    if requirement.scopes_all:
        met = scopes >= set(requirement.scopes_all)
        yield _check("all of scopes", requirement.scopes_all, met, "missing_scope")
    if requirement.scopes_any:
        met = not scopes.isdisjoint(requirement.scopes_any)
        yield _check("one of scopes", requirement.scopes_any, met, "missing_scope")


def _session_checks(requirement: Requirement, principal: Principal, now: float) -> Iterator[Check]:
    if requirement.aal is not None:
        yield Check("a session with a second factor (aal2)", principal.aal in STRONG, "aal2_required")
    if requirement.max_age is not None:
        when = principal.authenticated_at
        met = when is not None and now - when <= requirement.max_age
        yield Check(f"a sign-in within the last {requirement.max_age} s", met, "reauthentication_required")


def _check(what: str, names: tuple[str, ...], met: bool, reason: str) -> Check:
    return Check(f"{what} [{', '.join(names)}]", met, reason)


def authorize(route: Route, principal: Principal | None, now: float) -> None:
    """Return if `principal` may use `route` at `now`; else raise `Forbidden` naming the unmet
    requirement (`StepUpRequired` for a session too weak or too old)."""
    if route.anonymous:
        return
    if principal is None:
        raise _deny(route, None, Check("an authenticated principal", False, "kind_not_allowed"))
    # Allows are remembered on the principal by route object: routes live as long as their
    # policy set, and the entry holds the route, so its id is never reused while it is there;
    # the principal is one per organization it acts for (`Principal.scoped`) and carries its
    # session's level, so an allow in one organization, or for a stronger session, is never
    # reused in another, and the memo goes with the cached principal. What depends on the
    # request's parameters (permission checks) or on the time (`max_age`: a `timed` route) is
    # not decided here.
    allowed = principal.allowed
    if allowed.get(id(route)) is route:
        return  # the same route object allowed this same cached principal before
    for check in checks(route, principal, now):
        if not check.met:
            raise _deny(route, principal, check)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("allow", extra=_fields(route, principal, "allowed"))
    if not route.timed:
        allowed[id(route)] = route


def _deny(route: Route, principal: Principal | None, check: Check) -> Forbidden:
    description = f"route {route.id} requires {check.requirement}"
    log.info("deny: %s", description, extra=_fields(route, principal, check.reason))
    if check.reason in STEP_UPS:
        return StepUpRequired(description, need=STEP_UPS[check.reason], reason=check.reason)
    return Forbidden(description, reason=check.reason, extra={"reason": check.reason, "route": route.id})


def _fields(route: Route, principal: Principal | None, reason: str) -> dict[str, object]:
    subject = principal.subject if principal is not None else None
    return {"tenant": route.tenant, "route": route.id, "principal": subject, "reason": reason}
