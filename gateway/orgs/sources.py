"""Membership sources, one registry: where a person's organizations and roles come from.

Each entry has an id (the value of `GATEWAY_TENANT_<T>_MEMBERSHIPS`), `validate(tenant)`
(the settings problems that make it unusable, checked when the settings load: one line per
problem, naming the variable; `gateway.load`), `bind(tenant, permissions)`: the tenant's
source, and what `gateway check` and `gateway explain` say of it. The source's `resolve` gets
the principal, the caller's choice (None: no choice) and the role names the tenant's policies
use, and answers the membership in the chosen organization (None: not a member), or with no
choice the only one (None: none; several: 400 `organization_required`); its `every` answers
all of the person's memberships with the roles held there (the `me` built-in).

- `metadata`: the memberships came with the session (`gateway.orgs.memberships`, read by
  the Kratos authenticator); nothing to fetch.
- `keto`: Ory Permissions, `Organization:<org>#<role>@<identity id>` (`gateway.orgs.keto`).

Adding a source is an entry here, its module, and its documentation (docs/organizations.md);
a setting it needs is a row of `gateway.config.tenant_fields`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from gateway.config.settings import TenantSettings
from gateway.orgs.keto import KetoMemberships, membership_tuples
from gateway.orgs.memberships import METADATA, every_from_metadata, from_metadata, metadata_problems
from gateway.permissions.checker import TenantPermissions
from gateway.principal import Membership, Principal

#: a source's verb for one tenant: (principal, choice or None, role names) -> the membership
Resolve = Callable[[Principal, str | None, frozenset[str]], Awaitable[Membership | None]]
#: (principal, role names) -> every membership, with the roles held there
Every = Callable[[Principal, frozenset[str]], Awaitable[tuple[Membership, ...]]]


class Bound(NamedTuple):
    """A membership source bound to one tenant."""

    resolve: Resolve
    every: Every


@dataclass(frozen=True, slots=True)
class MembershipSource:
    id: str
    #: (variable suffix, problem) for every setting that leaves the source unusable
    validate: Callable[[TenantSettings], list[tuple[str, str]]]
    #: the tenant's source (its verbs)
    bind: Callable[[TenantSettings, TenantPermissions], Bound]
    #: what `gateway check` adds to the tenant: the source's settings, given the policies' role names
    shown: Callable[[TenantSettings, frozenset[str]], dict[str, object]]
    #: what `gateway explain` says of `principal`'s membership in an organization, given the
    #: policies' role names
    explained: Callable[[Principal, str, frozenset[str]], list[str]]


def _keto(tenant: TenantSettings, permissions: TenantPermissions) -> Bound:
    source = KetoMemberships(tenant, permissions)
    return Bound(source, source.every)


def _keto_problems(tenant: TenantSettings) -> list[tuple[str, str]]:
    if tenant.keto_read_url is None:
        return [("KETO_READ_URL", "required when MEMBERSHIPS=keto (Ory Permissions read API)")]
    return []


def _metadata_shown(tenant: TenantSettings, roles: frozenset[str]) -> dict[str, object]:
    paths: dict[str, object] = {"memberships_path": tenant.memberships_path, "org_paths": list(tenant.org_paths)}
    return paths | {"roles_path": tenant.roles_path}


def _keto_explained(principal: Principal, organization: str, roles: frozenset[str]) -> list[str]:
    tuples = membership_tuples(organization, roles, principal.subject)
    return [f"Keto: member of {organization} with each role R allowed, one batch check of:", *map(str, tuples)]


REGISTRY: Mapping[str, MembershipSource] = {
    source.id: source
    for source in (
        MembershipSource(
            METADATA,
            metadata_problems,
            lambda tenant, permissions: Bound(from_metadata, every_from_metadata),
            _metadata_shown,
            lambda p, org, roles: [f"{org} with roles [{', '.join(sorted(p.roles))}] (identity metadata)"],
        ),
        MembershipSource(
            "keto",
            _keto_problems,
            _keto,
            lambda tenant, roles: {"keto_membership_roles": sorted(roles)},
            _keto_explained,
        ),
    )
}


def membership_problems(tenant: TenantSettings) -> list[tuple[str, str]]:
    """Why the tenant's membership source cannot work (checked when the settings load)."""
    source = REGISTRY.get(tenant.memberships)
    if source is None:
        known = list(REGISTRY)
        listed = f"{', '.join(known[:-1])} or {known[-1]}"
        return [("MEMBERSHIPS", f"unknown membership source {tenant.memberships!r} ({listed})")]
    return source.validate(tenant)
