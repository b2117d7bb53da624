"""`Authenticator`: what the pipeline asks of one tenant's authentication (`TenantAuthenticator`
is one; `gateway explain` has one that answers from its flags)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.front.request import RequestView
from gateway.principal import Kind, Principal


class Authenticator(Protocol):
    async def authenticate(self, request: RequestView, kinds: Sequence[Kind]) -> Principal:
        """The caller, or `Unauthenticated` / `InvalidToken` (401), or 503 when Ory is unusable."""
        ...

    def evict_credential(self, credential: str) -> int:
        """Forget a signed-out cookie or revoked token at once; how many decisions were dropped."""
        ...
