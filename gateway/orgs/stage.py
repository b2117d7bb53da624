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
from gateway.orgs.sources import REGISTRY, Resolve, organization_required
from gateway.ory.keto import RelationTuple
from gateway.permissions.cache import ORGANIZATION_NAMESPACE
from gateway.permissions.checker import TenantPermissions
from gateway.policy.model import Match
from gateway.principal import Membership, Principal


class OrgStage:
    """One tenant's organization stage (its membership source bound once)."""

    def __init__(self, tenant: TenantSettings, permissions: TenantPermissions) -> None:
        self.tenant = tenant
        self.permissions = permissions
        self.resolve: Resolve = REGISTRY[tenant.memberships].bind(self)

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
        built-in): a machine's client organization, a person's metadata memberships, or the
        organizations Keto lists for the person, each with the granted policy roles."""
        if principal.kind == "machine":
            org = principal.organization
            return (Membership(org, principal.roles),) if org else ()
        if principal.memberships is not None:
            return principal.memberships
        found = [await self.keto_membership(principal, org, roles) for org in await self._listed(principal, roles)]
        return tuple(m for m in found if m is not None)

    async def keto_membership(
        self, principal: Principal, choice: str | None, roles: frozenset[str]
    ) -> Membership | None:
        """The `keto` source: roles R with `Organization:<org>#R@<identity id>` allowed."""
        if choice is None:
            listed = await self._listed(principal, roles)
            if len(listed) > 1:
                raise organization_required()
            if not listed:
                return None
            choice = listed[0]
        names = sorted(roles)
        tuples = [RelationTuple(ORGANIZATION_NAMESPACE, choice, role, principal.subject) for role in names]
        answers = await self.permissions.check_many(principal, choice, tuples) if tuples else []
        granted = frozenset(role for role, allowed in zip(names, answers, strict=True) if allowed)
        return Membership(choice, granted) if granted else None

    async def _listed(self, principal: Principal, roles: frozenset[str]) -> tuple[str, ...]:
        """The organizations the person has a direct `Organization` tuple in, with a policy role."""
        keto = self.permissions.keto
        if keto is None:  # the settings refuse MEMBERSHIPS=keto without KETO_READ_URL; fail closed anyway
            raise Forbidden("this tenant has no permission service configured", reason="keto_not_configured")
        subject = principal.subject
        load = lambda: keto.objects(ORGANIZATION_NAMESPACE, subject, roles)  # noqa: E731
        return await self.permissions.cache.listed(self.tenant.name, subject, principal.expires_at, load)


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


def build_org_stages(
    tenants: Mapping[str, TenantSettings], permissions: Mapping[str, TenantPermissions]
) -> dict[str, OrgStage]:
    return {name: OrgStage(tenant, permissions[name]) for name, tenant in tenants.items()}
