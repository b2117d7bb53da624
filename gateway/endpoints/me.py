"""`me`: who the caller is to this tenant, for a page to show and to offer its person's
organizations (`GET /<tenant>/me` in the shipped policies).

    {"subject": "<identity id or client id>", "kind": "human" | "machine",
     "organization": "<the organization this request acts for>" | null,
     "memberships": [{"organization_id": "org-acme", "roles": ["member"]}, ...],
     "aal": "aal1" | "aal2" | null}

`organization` is the organization stage's answer for this request: the only membership,
the one chosen with `X-Organization-Id` (verified), or null for a person of several who
chose none. The body is built from these fields only: never a token, cookie, session id
or credential hash (a page's script can read it). `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from gateway.errors import Forbidden

if TYPE_CHECKING:
    from gateway.front.exchange import Exchange
    from gateway.policy.model import Match
    from gateway.principal import Membership, Principal

NO_STORE = [(b"cache-control", b"no-store")]


class ListsMemberships(Protocol):
    """A tenant's organization stage (`gateway.orgs.stage.OrgStage`)."""

    async def memberships(self, principal: Principal, roles: frozenset[str]) -> tuple[Membership, ...]: ...


class KnowsRoles(Protocol):
    def tenant_roles(self, tenant: str) -> frozenset[str]: ...


class Policies(Protocol):
    @property
    def current(self) -> KnowsRoles: ...


class MeGateway(Protocol):
    """What `me` reaches of the running gateway."""

    @property
    def orgs(self) -> Mapping[str, ListsMemberships]: ...

    @property
    def policies(self) -> Policies: ...


def describe(principal: Principal, memberships: tuple[Membership, ...]) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "kind": principal.kind,
        "organization": principal.organization,
        "memberships": [
            {"organization_id": m.organization, "roles": sorted(m.roles)}
            for m in sorted(memberships, key=lambda m: m.organization)
        ],
        "aal": principal.aal,
    }


def bind_me(gw: MeGateway) -> Callable[[Exchange, Match, Principal | None], Awaitable[None]]:
    async def me(ex: Exchange, match: Match, principal: Principal | None) -> None:
        if principal is None:  # the loader refuses an anonymous `me`; fail closed anyway
            raise Forbidden("this route has no caller", reason="no_principal")
        tenant = match.route.tenant
        roles = gw.policies.current.tenant_roles(tenant)  # what a Keto membership source asks about
        memberships = await gw.orgs[tenant].memberships(principal, roles)
        await ex.respond_json(200, describe(principal, memberships), NO_STORE)

    return me
