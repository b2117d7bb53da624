"""May this principal use this route? Tenant, kind, roles, scopes, organization.

Checks run in a fixed order and the first unmet one decides, with a fixed
reason id: ``wrong_tenant``, ``kind_not_allowed``, ``missing_role``,
``missing_scope``, ``no_organization`` (a route that injects labels needs the
caller's organization). For machines a scope doubles as a role. The principal is
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

from gateway.errors import Forbidden
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


def checks(route: Route, principal: Principal) -> Iterator[Check]:
    """Every requirement of `route`, in decision order, evaluated for `principal`."""
    if route.anonymous:
        return
    yield Check(f"a principal of tenant {route.tenant}", principal.tenant == route.tenant, "wrong_tenant")
    requirement = route.requirement_for(principal.kind)
    kinds = ", ".join(route.kinds)
    yield Check(f"a principal of kind [{kinds}]", requirement is not None, "kind_not_allowed")
    if requirement is not None:
        yield from _requirement_checks(requirement, principal)
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


def _check(what: str, names: tuple[str, ...], met: bool, reason: str) -> Check:
    return Check(f"{what} [{', '.join(names)}]", met, reason)


def authorize(route: Route, principal: Principal | None) -> None:
    """Return if `principal` may use `route`; else raise `Forbidden` naming the unmet requirement."""
    if route.anonymous:
        return
    if principal is None:
        raise _deny(route, None, Check("an authenticated principal", False, "kind_not_allowed"))
    # Allows are remembered on the principal by route object: routes live as long as their
    # policy set, and the entry holds the route, so its id is never reused while it is there;
    # the principal is one per organization it acts for (`Principal.scoped`), so an allow in one
    # organization is never reused in another, and the memo goes with the cached principal.
    # What depends on the request's parameters (permission checks) is not decided here.
    allowed = principal.allowed
    if allowed.get(id(route)) is route:
        return  # the same route object allowed this same cached principal before
    for check in checks(route, principal):
        if not check.met:
            raise _deny(route, principal, check)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("allow", extra=_fields(route, principal, "allowed"))
    allowed[id(route)] = route


def _deny(route: Route, principal: Principal | None, check: Check) -> Forbidden:
    description = f"route {route.id} requires {check.requirement}"
    log.info("deny: %s", description, extra=_fields(route, principal, check.reason))
    return Forbidden(description, reason=check.reason, extra={"reason": check.reason, "route": route.id})


def _fields(route: Route, principal: Principal | None, reason: str) -> dict[str, object]:
    subject = principal.subject if principal is not None else None
    return {"tenant": route.tenant, "route": route.id, "principal": subject, "reason": reason}
