"""`OrgStage.choose`: the principal as seen in the organization this request acts for.

    choice  = X-Organization-Id or the route's path parameter (`gateway.orgs.choice`)
    machine : its client's one organization; a choice naming another is 403 `not_a_member`
    person  : malformed metadata is 403 `memberships_malformed`;
              no choice -> the only membership (several, on an organization-scoped route:
              400 `organization_required`; none: no organization);
              a choice -> that membership, or 403 `not_a_member`
    result  = the principal with `organization` and `roles` of the chosen membership

The scoped principal is made once per (principal, organization) and kept on the principal
(`Principal.scoped`), so a cached session yields the same object on every request and the
caches keyed by principal (authorization memo, identity headers, assertions) hold. A
Keto-backed membership is re-read from the permission cache on every request (its own
bounds and revocations); the scoped principal is reused only while its roles are the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.config.settings import TenantSettings
from gateway.errors import Forbidden
from gateway.front.request import RequestView
from gateway.orgs.choice import chosen_organization
from gateway.orgs.sources import REGISTRY, Every, Resolve
from gateway.permissions.checker import TenantPermissions
from gateway.policy.model import Match
from gateway.principal import Membership, Principal


class OrgStage:
    """One tenant's organization stage, its membership source bound (`resolve`, `every`)."""

    def __init__(self, tenant: TenantSettings, resolve: Resolve, every: Every) -> None:
        self.tenant = tenant
        self.resolve = resolve
        self.every = every

    async def choose(
        self, request: RequestView, match: Match, principal: Principal, roles: frozenset[str]
    ) -> Principal:
        """`roles`: the role names the tenant's policies use (what a Keto source asks about)."""
        choice = chosen_organization(request, match)
        if principal.kind == "machine":
            if choice is not None and choice != principal.organization:
                raise not_a_member(choice)
            return principal
        if principal.memberships_problem:
            reason = "memberships_malformed"
            raise Forbidden(principal.memberships_problem, reason=reason, extra={"reason": reason})
        if choice is None and (principal.organization is not None or not match.route.org_scoped):
            return principal  # the only membership (or none needed): nothing to choose
        membership = await self.resolve(principal, choice, roles)
        if membership is None:
            if choice is not None:
                raise not_a_member(choice)
            return principal
        return scoped(principal, membership)

    async def memberships(self, principal: Principal, roles: frozenset[str]) -> tuple[Membership, ...]:
        """Every organization the caller belongs to, with the roles held there (the `me`
        built-in): a machine's client organization, else what the person's source lists."""
        if principal.kind == "machine":
            org = principal.organization
            return (Membership(org, principal.roles),) if org else ()
        return await self.every(principal, roles)


def scoped(principal: Principal, membership: Membership) -> Principal:
    """`principal` acting for `membership`'s organization with its roles (made once)."""
    if principal.organization == membership.organization and principal.roles == membership.roles:
        return principal
    hit = principal.scoped.get(membership.organization)
    if hit is not None and hit.roles == membership.roles:
        return hit
    view = dataclasses.replace(principal, organization=membership.organization, roles=membership.roles)
    principal.scoped[membership.organization] = view
    return view


def not_a_member(choice: str) -> Forbidden:
    reason = "not_a_member"
    return Forbidden(f"you are not a member of organization {choice}", reason=reason, extra={"reason": reason})


def org_stage(tenant: TenantSettings, permissions: TenantPermissions) -> OrgStage:
    """The tenant's stage with its membership source (`gateway.orgs.sources`) bound."""
    source = REGISTRY[tenant.memberships].bind(tenant, permissions)
    return OrgStage(tenant, source.resolve, source.every)


def build_org_stages(
    tenants: Mapping[str, TenantSettings], permissions: Mapping[str, TenantPermissions]
) -> dict[str, OrgStage]:
    return {name: org_stage(tenant, permissions[name]) for name, tenant in tenants.items()}
