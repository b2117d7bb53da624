"""Membership sources, one registry: where a person's organizations and roles come from.

Each entry has an id (the value of `GATEWAY_TENANT_<T>_MEMBERSHIPS`), `validate(tenant)`
(the settings problems that make it unusable, read once when the settings load: one line
per problem, naming the variable) and one verb, `bind(stage)`: the tenant's resolver of a
membership. The resolver gets the principal, the caller's choice (None: no choice) and the
role names the tenant's policies use, and answers the membership in the chosen organization
(None: not a member), or with no choice the only one (None: none; several: 400
`organization_required`).

- `metadata`: the memberships came with the session (`gateway.orgs.memberships`, read by
  the Kratos authenticator); nothing to fetch.
- `keto`: Ory Permissions. A person is a member of X with role R when Keto allows
  `Organization:X#R@<identity id>`; the roles asked about are the role names the tenant's
  policies use (`PolicySet.roles`, computed when the policies load). With no choice, the
  organizations are listed from the person's direct `Organization` tuples.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.config.settings import MembershipSource, TenantSettings
from gateway.errors import BadRequest
from gateway.principal import Membership, Principal

if TYPE_CHECKING:
    from gateway.orgs.stage import OrgStage

#: a source's verb for one tenant: (principal, choice or None, role names) -> the membership
Resolve = Callable[[Principal, str | None, frozenset[str]], Awaitable[Membership | None]]


@dataclass(frozen=True, slots=True)
class SourceKind:
    id: MembershipSource
    #: (variable suffix, problem) for every setting that leaves the source unusable
    validate: Callable[[TenantSettings], list[tuple[str, str]]]
    #: the tenant's resolver (the verb), from the tenant's organization stage
    bind: Callable[[OrgStage], Resolve]


def organization_required() -> BadRequest:
    reason = "organization_required"
    description = "you belong to several organizations: choose one with X-Organization-Id"
    return BadRequest(description, reason=reason, extra={"reason": reason})


async def from_metadata(principal: Principal, choice: str | None, roles: frozenset[str]) -> Membership | None:
    if choice is not None:
        return principal.membership(choice)
    items = principal.memberships or ()
    if len(items) > 1:
        raise organization_required()
    return items[0] if items else None


def _metadata_problems(tenant: TenantSettings) -> list[tuple[str, str]]:
    paths = [("MEMBERSHIPS_PATH", tenant.memberships_path), ("ROLES_PATH", tenant.roles_path)]
    paths += [("ORG_PATHS", p) for p in tenant.org_paths]
    return [
        (name, f"{path!r} is user-editable or empty; use metadata_public (admin-written)")
        for name, path in paths
        if path.split(".")[0] in ("traits", "")
    ]


def _keto_problems(tenant: TenantSettings) -> list[tuple[str, str]]:
    if tenant.keto_read_url is None:
        return [("KETO_READ_URL", "required when MEMBERSHIPS=keto (Ory Permissions read API)")]
    return []


REGISTRY: Mapping[MembershipSource, SourceKind] = {
    kind.id: kind
    for kind in (
        SourceKind("metadata", _metadata_problems, lambda stage: from_metadata),
        SourceKind("keto", _keto_problems, lambda stage: stage.keto_membership),
    )
}


def membership_problems(tenant: TenantSettings) -> list[tuple[str, str]]:
    """Why the tenant's membership source cannot work (checked when the settings load)."""
    return REGISTRY[tenant.memberships].validate(tenant)
