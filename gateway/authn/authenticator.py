"""`Authenticator`: what the pipeline asks of one tenant's authentication (`TenantAuthenticator`
is one; `gateway explain` has one that answers from its flags)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.front.request import RequestView
from gateway.principal import Kind, Principal


class Authenticator(Protocol):
    async def authenticate(
        self, request: RequestView, kinds: Sequence[Kind], refreshed: Callable[[str], None] | None = None
    ) -> Principal:
        """The caller, or `Unauthenticated` / `InvalidToken` (401), `StepUpRequired` (403), or
        503 when Ory is unusable; a refreshed session cookie's `Set-Cookie` goes to `refreshed`."""
        ...

    async def forget(self, principal: Principal) -> None:
        """Forget the cached decision `principal` came from (the next request asks Ory again)."""
        ...

    def evict_credential(self, credential: str) -> int:
        """Forget a signed-out cookie or revoked token at once; how many decisions were dropped."""
        ...
