"""Who is calling: the frozen value authentication hands to authorization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["human", "machine"]
KINDS: tuple[Kind, ...] = ("human", "machine")


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Kind
    tenant: str
    #: identity id (human) or OAuth2 client id (machine)
    subject: str
    organization: str | None
    roles: frozenset[str]
    scopes: frozenset[str]
    session_id: str | None = None
    client_id: str | None = None
    aal: str | None = None
    #: epoch seconds when the session or token stops being valid
    expires_at: float | None = None
    #: sha256 of the credential: cache key, revocation handle, never the raw secret
    credential_hash: str = ""

    @property
    def effective_roles(self) -> frozenset[str]:
        """For machines a scope doubles as a role."""
        return self.roles | self.scopes if self.kind == "machine" else self.roles
