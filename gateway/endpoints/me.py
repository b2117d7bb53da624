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

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gateway.errors import Forbidden

if TYPE_CHECKING:
    from gateway.front.exchange import Exchange
    from gateway.policy.model import Match
    from gateway.principal import Membership, Principal

#: (principal, tenant) -> every membership of the caller (`gateway.orgs.stage.OrgStage.memberships`)
ListMemberships = Callable[["Principal", str], Awaitable[tuple["Membership", ...]]]
NO_STORE = [(b"cache-control", b"no-store")]


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


def me_handler(list_memberships: ListMemberships) -> Callable[[Exchange, Match, Principal | None], Awaitable[None]]:
    async def me(ex: Exchange, match: Match, principal: Principal | None) -> None:
        if principal is None:  # the loader refuses an anonymous `me`; fail closed anyway
            raise Forbidden("this route has no caller", reason="no_principal")
        memberships = await list_memberships(principal, match.route.tenant)
        await ex.respond_json(200, describe(principal, memberships), NO_STORE)

    return me
