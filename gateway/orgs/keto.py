"""The `keto` membership source: memberships in Ory Permissions.

A person is a member of organization X with role R when Keto allows
`Organization:X#R@<identity id>`. The roles asked about are the role names the tenant's
policies use (`PolicySet.tenant_roles`, computed when the policies load), in one batch check
through the tenant's permission cache (its bounds, single flight and revocations). With no
choice, the person's organizations are listed from their direct `Organization` tuples: one
is the membership, several are 400 `organization_required`.
"""

from __future__ import annotations

from gateway.config.settings import TenantSettings
from gateway.errors import Forbidden
from gateway.orgs.memberships import organization_required
from gateway.ory.keto import RelationTuple
from gateway.permissions.cache import ORGANIZATION_NAMESPACE
from gateway.permissions.checker import TenantPermissions
from gateway.principal import Membership, Principal


def membership_tuples(organization: str, roles: frozenset[str], subject: str) -> list[RelationTuple]:
    """The tuples asked about for a membership in `organization`, one per role, sorted."""
    return [RelationTuple(ORGANIZATION_NAMESPACE, organization, role, subject) for role in sorted(roles)]


class KetoMemberships:
    """One tenant's resolver of Keto-backed memberships (the source's verb)."""

    def __init__(self, tenant: TenantSettings, permissions: TenantPermissions) -> None:
        self.tenant = tenant
        self.permissions = permissions

    async def __call__(self, principal: Principal, choice: str | None, roles: frozenset[str]) -> Membership | None:
        """The roles R with `Organization:<org>#R@<identity id>` allowed, in the chosen
        organization (or the only one listed)."""
        if choice is None:
            listed = await self._listed(principal, roles)
            if len(listed) > 1:
                raise organization_required()
            if not listed:
                return None
            choice = listed[0]
        tuples = membership_tuples(choice, roles, principal.subject)
        answers = await self.permissions.check_many(principal, choice, tuples) if tuples else []
        granted = frozenset(t.relation for t, allowed in zip(tuples, answers, strict=True) if allowed)
        return Membership(choice, granted) if granted else None

    async def every(self, principal: Principal, roles: frozenset[str]) -> tuple[Membership, ...]:
        """Every organization Keto lists for the person, with the policy roles granted there."""
        found = [await self(principal, org, roles) for org in await self._listed(principal, roles)]
        return tuple(m for m in found if m is not None)

    async def _listed(self, principal: Principal, roles: frozenset[str]) -> tuple[str, ...]:
        """The organizations the person has a direct `Organization` tuple in, with a policy role."""
        keto = self.permissions.keto
        if keto is None:  # the settings refuse MEMBERSHIPS=keto without KETO_READ_URL; fail closed anyway
            raise Forbidden("this tenant has no permission service configured", reason="keto_not_configured")
        subject = principal.subject

        async def load() -> tuple[str, ...]:
            return tuple(await keto.objects(ORGANIZATION_NAMESPACE, subject, roles))

        return await self.permissions.listings.get_or_load((self.tenant.name, subject), load, principal.expires_at)
