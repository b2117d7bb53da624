"""The `metadata` membership source: a person's memberships, read from the identity's
admin-written metadata when the session is (`gateway.authn.kratos`).

Two forms, both under the identity (never `traits`, which users can edit):

- the list (`GATEWAY_TENANT_<T>_MEMBERSHIPS_PATH`, default `metadata_public.memberships`):
  ``[{"organization_id": "org-a", "roles": ["member"]}, ...]``;
- the single form (`_ORG_PATHS`, default `metadata_public.organization_id` then
  `organization_id`, and `_ROLES_PATH`, default `metadata_public.roles`): a list of one.
  Roles without an organization stay roles outside any organization (as before).

An identity gives one form or the other. Anything malformed - the list not a list, an entry
without a valid `organization_id`, roles that are not a list of role names, an organization
listed twice, both forms at once - is reported as a problem: the organization stage turns it
into a denial (403 `memberships_malformed`) instead of guessing what was meant.

Organization ids (here, in `X-Organization-Id` and in path parameters) are 1-128 characters
of `A-Z a-z 0-9 . _ ~ -` starting with a letter or digit, compared exactly (no case folding):
`ORG-ACME` is another organization than `org-acme`. Role names are 1-128 printable ASCII
characters without spaces or commas (they travel comma-joined in `X-Roles`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from gateway.config.settings import TenantSettings
from gateway.errors import BadRequest
from gateway.principal import Membership, Principal

#: the source's id (`GATEWAY_TENANT_<T>_MEMBERSHIPS`): the one whose memberships come with the session
METADATA = "metadata"
ORGANIZATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")
ROLE_NAME = re.compile(r"[\x21-\x2b\x2d-\x7e]{1,128}")
MAX_MEMBERSHIPS = 1000


class MalformedMemberships(ValueError):
    """The metadata does not say clearly which organizations the person belongs to."""


class Memberships(NamedTuple):
    items: tuple[Membership, ...]
    #: roles of the single form without an organization (roles outside any organization)
    loose_roles: frozenset[str] = frozenset()
    #: why the metadata could not be read ("" when it could)
    problem: str = ""

    @property
    def default(self) -> tuple[str | None, frozenset[str]]:
        """The organization and roles when the caller chooses none: the only membership's,
        else none (with the loose roles when there is no membership at all)."""
        if self.problem:
            return None, frozenset()
        if len(self.items) == 1:
            return self.items[0].organization, self.items[0].roles
        return None, self.loose_roles if not self.items else frozenset()


def is_organization_id(value: object) -> bool:
    return isinstance(value, str) and ORGANIZATION_ID.fullmatch(value) is not None


def read_memberships(
    identity: dict[str, object], list_path: str, org_paths: tuple[str, ...], roles_path: str
) -> Memberships:
    """The identity's memberships (list form, else single form), or the problem with them."""
    listed = _at(identity, list_path)
    org_path, org = next(((p, v) for p in org_paths if (v := _at(identity, p)) is not None), ("", None))
    roles = _at(identity, roles_path)
    try:
        if listed is not None:
            if org is not None or roles is not None:
                raise MalformedMemberships(
                    f"{list_path} and the single form ({org_path or roles_path}) are both set: give one"
                )
            return Memberships(tuple(_listed(listed, list_path)))
        role_set = _roles(roles, roles_path)
        if org is None:
            return Memberships((), loose_roles=role_set)
        if not is_organization_id(org):
            raise MalformedMemberships(f"{org_path} is not a valid organization id")
        return Memberships((Membership(str(org), role_set),))
    except MalformedMemberships as exc:
        return Memberships((), problem=f"identity metadata: {exc}")


def _listed(value: object, path: str) -> Iterator[Membership]:
    if not isinstance(value, list):
        raise MalformedMemberships(f"{path} is not a list")
    if len(value) > MAX_MEMBERSHIPS:
        raise MalformedMemberships(f"{path} has more than {MAX_MEMBERSHIPS} entries")
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise MalformedMemberships(f"{where} is not an object")
        org = item.get("organization_id")
        if not is_organization_id(org):
            raise MalformedMemberships(f"{where} has no valid organization_id")
        assert isinstance(org, str)
        if org in seen:
            raise MalformedMemberships(f"{where}: organization {org} is listed twice")
        seen.add(org)
        if "roles" not in item:
            raise MalformedMemberships(f"{where} has no roles (use [] for none)")
        yield Membership(org, _roles(item["roles"], f"{where}.roles"))


def _roles(value: object, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(r, str) and ROLE_NAME.fullmatch(r) for r in value):
        raise MalformedMemberships(f"{path} must be a list of role names")
    return frozenset(value)


def _at(doc: object, path: str) -> object:
    """The value at a dotted path, None when absent or null."""
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def organization_required() -> BadRequest:
    """No choice, on a route scoped to an organization, from a person of several."""
    reason = "organization_required"
    description = "you belong to several organizations: choose one with X-Organization-Id"
    return BadRequest(description, reason=reason, extra={"reason": reason})


async def from_metadata(principal: Principal, choice: str | None, roles: frozenset[str]) -> Membership | None:
    """The source's verb: the memberships came with the session, nothing to fetch."""
    if choice is not None:
        return principal.membership(choice)
    items = principal.memberships or ()
    if len(items) > 1:
        raise organization_required()
    return items[0] if items else None


async def every_from_metadata(principal: Principal, roles: frozenset[str]) -> tuple[Membership, ...]:
    """Every membership the session came with."""
    return principal.memberships or ()


def metadata_problems(tenant: TenantSettings) -> list[tuple[str, str]]:
    """Paths users can edit (`traits`) or empty ones: refused when the settings load."""
    paths = [("MEMBERSHIPS_PATH", tenant.memberships_path), ("ROLES_PATH", tenant.roles_path)]
    paths += [("ORG_PATHS", p) for p in tenant.org_paths]
    return [
        (name, f"{path!r} is user-editable or empty; use metadata_public (admin-written)")
        for name, path in paths
        if path.split(".")[0] in ("traits", "")
    ]
