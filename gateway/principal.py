"""Who is calling: the frozen value authentication hands to the organization stage and
authorization."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["human", "machine"]
KINDS: tuple[Kind, ...] = ("human", "machine")


@dataclass(frozen=True, slots=True)
class Membership:
    """A person's place in one organization: its id and the roles held there."""

    organization: str
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Kind
    tenant: str
    #: identity id (human) or OAuth2 client id (machine)
    subject: str
    #: the organization this request acts for (after the organization stage: the chosen one)
    organization: str | None
    #: the roles that hold for this request (after the organization stage: the chosen membership's)
    roles: frozenset[str]
    scopes: frozenset[str]
    session_id: str | None = None
    client_id: str | None = None
    #: the session's authenticator assurance level (`aal1`, `aal2`, ...); None for machines
    aal: str | None = None
    #: epoch seconds when the person last proved who they are: the session's `authenticated_at`
    #: or its latest authentication method's `completed_at`, whichever is later (a route's `max_age`)
    authenticated_at: float | None = None
    #: epoch seconds when the session or token stops being valid
    expires_at: float | None = None
    #: sha256 of the credential: cache key, revocation handle, never the raw secret
    credential_hash: str = ""
    #: every organization a person belongs to, read from identity metadata (`gateway.orgs.memberships`);
    #: None when the credential does not say (machines, tenants whose memberships live in Keto)
    memberships: tuple[Membership, ...] | None = None
    #: why the identity's memberships could not be read ("" when they could): a denial, never a guess
    memberships_problem: str = ""
    #: this principal as seen in one chosen organization, made once per organization
    #: (`gateway.orgs.stage`): the same object for every request, so per-principal caches hold
    scoped: dict[str, Principal] = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)
    #: what was worked out once for this principal, kept on it so that it lives exactly as long
    #: as the principal does (the decision cache holds it): the route objects that allowed it
    #: by id (`gateway.authz`), its identity headers per audience (`gateway.forward.identity`)
    allowed: dict[int, object] = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)
    headers: dict[str, object] = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)

    @property
    def effective_roles(self) -> frozenset[str]:
        """For machines a scope doubles as a role."""
        return self.roles | self.scopes if self.kind == "machine" else self.roles

    def membership(self, organization: str) -> Membership | None:
        """The metadata membership in `organization` (exact id), if any."""
        for membership in self.memberships or ():
            if membership.organization == organization:
                return membership
        return None
