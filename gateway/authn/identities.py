"""A person as the tenant's Kratos admin API describes them, for credentials that carry no
identity: a session JWT whose template maps no memberships (`gateway.authn.session_jwt`).

`GET /admin/identities/{id}` (`gateway.ory.identities`), read through a `gateway.cache.Cache`
per tenant: kept GATEWAY_CACHE_MAX_TTL (an unknown identity GATEWAY_CACHE_NEGATIVE_TTL),
single flight, listed under the identity (`gateway revoke --subject`) and its organizations
(`--organization`), so a revocation forgets it with the person's sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.cache import Cache, Clock
from gateway.config.settings import CacheSettings, TenantSettings
from gateway.orgs.memberships import METADATA, Memberships, read_memberships
from gateway.ory.identities import IdentityService
from gateway.ory.pool import OryPool

NO_MEMBERSHIPS = Memberships(())


@dataclass(frozen=True, slots=True)
class Person:
    """What authentication needs of an identity: whether it is there and active, its schema,
    its memberships (as `gateway.orgs.memberships` reads them)."""

    found: bool
    active: bool = False
    schema_id: str = ""
    memberships: Memberships = NO_MEMBERSHIPS


NOBODY = Person(False)


def _lifetime(person: Person) -> tuple[bool, float | None]:
    return person.found, None


def _subject(identity_id: str, person: Person) -> tuple[str, ...]:
    return (identity_id,)


def _organizations(identity_id: str, person: Person) -> set[str]:
    return {m.organization for m in person.memberships.items}


class People:
    """identity id -> `Person`, from the tenant's Kratos admin API, cached."""

    def __init__(self, tenant: TenantSettings, cache: CacheSettings, http: OryPool, clock: Clock) -> None:
        self._tenant = tenant
        self._service = IdentityService(tenant, http) if tenant.kratos_admin_url and tenant.kratos_admin_token else None
        listed = {"subject": _subject, "organization": _organizations}
        self.cache: Cache[str, Person] = Cache(cache, clock, tenant.name, _lifetime, listed)

    @property
    def readable(self) -> bool:
        """Whether the tenant has a Kratos admin API to read people from."""
        return self._service is not None

    async def person(self, identity_id: str) -> Person:
        return await self.cache.get_or_load(identity_id, lambda: self._read(identity_id))

    async def _read(self, identity_id: str) -> Person:
        assert self._service is not None
        identity = await self._service.get(identity_id)
        if identity is None:
            return NOBODY
        t = self._tenant
        memberships = Memberships(())
        if t.memberships == METADATA:
            memberships = read_memberships(identity, t.memberships_path, t.org_paths, t.roles_path)
        schema = identity.get("schema_id")
        return Person(True, identity.get("state") == "active", schema if isinstance(schema, str) else "", memberships)
