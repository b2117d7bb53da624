"""Authentication per tenant: who is calling, decided against that tenant's Ory only.

    TenantAuthenticator.authenticate(request, kinds, refreshed) -> Principal
        credentials.extract   cookie / X-Session-Token / Authorization: Bearer (ambiguity -> 401)
        sources.plan          which credential source sees which credential, in the route's order
        cache                 the decision cache (`gateway.cache`): hashed keys, bounded TTL,
                              negative caching, single flight (on the `authenticate` span:
                              `gateway.authn.cache` hit, miss, join or shared, and
                              `gateway.credential_source`)
        on a miss only        a credential of a shape Ory never issues is refused without a call
                              (`credentials.impossible`); a source that asks Ory does so only
                              within the client address's budget (`gateway.quotas.attempts`)
        kratos / session_jwt / hydra / jwt
                              whoami, local session JWT verification, RFC 7662
                              introspection, local JWT verification

Errors: no credential -> Unauthenticated (401); a credential presented and rejected, or of an
impossible shape -> InvalidToken (401, error="invalid_token"); a session that needs a second
factor or a new sign-in -> StepUpRequired (403, never cached); too many unknown credentials
from one address -> TooManyAttempts (429); Ory down or misbehaving -> ServiceUnavailable
(503), its pool full -> OrySaturated (503); Ory 429 -> TooManyRequests. Each carries a fixed
`reason` id. A refreshed session cookie from whoami is handed to `refreshed` (the request's
answer carries it), never cached.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

from gateway.authn.cache import credential_key, decision_cache, stamped
from gateway.authn.credentials import extract, impossible
from gateway.authn.hydra import ClientOrganizations, HydraIntrospector
from gateway.authn.identities import People
from gateway.authn.jwks import JwksCache
from gateway.authn.jwt import JwtVerifier
from gateway.authn.kratos import KratosAuthenticator
from gateway.authn.session_jwt import SessionJwtVerifier
from gateway.authn.sources import AUTHENTICATORS, REGISTRY, Attempt, AuthenticatorId, Verify, plan
from gateway.authn.verdict import Verdict
from gateway.cache import CacheStats, Clock, Index, Shared
from gateway.config.settings import CacheSettings, Settings, TenantSettings
from gateway.errors import InvalidToken, Unauthenticated
from gateway.front.request import RequestView
from gateway.observe import tracing
from gateway.ory.pool import OryPool
from gateway.principal import Kind, Principal
from gateway.quotas.attempts import Attempts

__all__ = ["Refreshed", "TenantAuthenticator", "build_authenticators", "credential_key"]

#: takes whoami's `Set-Cookie` of a refreshed session cookie, for the answer to this request
Refreshed = Callable[[str], None]


class TenantAuthenticator:
    def __init__(
        self,
        tenant: TenantSettings,
        cache: CacheSettings,
        http: OryPool,
        clock: Clock = time.time,
        *,
        shared: Shared[str, Verdict] | None = None,
        attempts: Attempts | None = None,
    ) -> None:
        self.tenant = tenant
        #: the budget of unknown credentials per client address (None: unbounded)
        self.attempts = attempts
        self.cache = decision_cache(cache, clock, tenant.name, shared)
        self.kratos: KratosAuthenticator = KratosAuthenticator(tenant, http, clock)
        self.people = People(tenant, cache, http, clock)
        self.session_jwt: SessionJwtVerifier = SessionJwtVerifier(
            tenant, JwksCache.sessions(tenant, http, clock), self.people, clock
        )
        self.client_orgs = ClientOrganizations(tenant, http, clock)
        self.hydra: HydraIntrospector = HydraIntrospector(tenant, http, clock, self.client_orgs)
        self.jwks = JwksCache.hydra(tenant, http, clock)
        self.jwt: JwtVerifier = JwtVerifier(tenant, self.jwks, self.client_orgs, clock)
        #: each credential source's verifier for this tenant (`gateway.authn.sources.REGISTRY`)
        self.sources: dict[AuthenticatorId, Verify] = {name: kind.bind(self) for name, kind in REGISTRY.items()}

    @property
    def stats(self) -> CacheStats:
        return self.cache.stats

    @property
    def refused(self) -> int:
        """Unknown credentials refused past an address's budget."""
        return self.attempts.refused.get(self.tenant.name, 0) if self.attempts is not None else 0

    async def authenticate(
        self, request: RequestView, kinds: Sequence[Kind], refreshed: Refreshed | None = None
    ) -> Principal:
        creds = extract(request, self.tenant)
        attempts = plan(creds, kinds, self.tenant)
        for attempt in attempts:
            decision = self._cached(attempt)  # a hit needs no await (no coroutine built for it)
            if decision is None:
                decision = await self._load(attempt, request.client_ip, refreshed)
            if decision.principal is not None:
                return decision.principal
            if attempt.final:
                raise InvalidToken(decision.description, realm=self.tenant.name, reason=decision.reason)
        if attempts:
            raise InvalidToken("the credentials were not accepted", realm=self.tenant.name, reason="token_unknown")
        if creds.bearer or creds.session_token:
            raise InvalidToken(
                "this kind of credential is not accepted here",
                realm=self.tenant.name,
                reason="credential_kind_not_accepted",
            )
        raise Unauthenticated("authentication required", realm=self.tenant.name, reason="no_credentials")

    def _cached(self, attempt: Attempt) -> Verdict | None:
        hit = self.cache.cached(credential_key(self.tenant.name, attempt.authenticator, attempt.credential))
        if tracing.recording():  # on the `authenticate` span: which source, and whether Ory is asked
            tracing.note("gateway.credential_source", attempt.authenticator)
            tracing.note("gateway.authn.cache", "hit" if hit is not None else "miss")
        return hit

    async def _load(self, attempt: Attempt, address: str, refreshed: Refreshed | None) -> Verdict:
        """A credential not in the cache: refused on its shape, or within the address's budget
        looked up (once for every concurrent caller) and cached."""
        tenant = self.tenant
        key = credential_key(tenant.name, attempt.authenticator, attempt.credential)
        attempts, pending = None, None
        if REGISTRY[attempt.authenticator].asks_ory:
            if why := impossible(attempt.authenticator, attempt.credential, tenant):
                return Verdict.reject("malformed_credential", why)  # never sent to Ory, never cached
            attempts = self.attempts
            if attempts is not None and not attempts.known(key):  # past the budget: 429, no Ory call
                pending = await attempts.begin(tenant.name, address, key)
        verify = self.sources[attempt.authenticator]

        async def load() -> Verdict:  # run by this request only: a joiner's `refreshed` is never called
            verdict = await verify(attempt)
            if attempts is not None:
                if verdict.principal is None:
                    await attempts.failed(tenant.name, address)
                else:
                    attempts.vouch(key, verdict.principal.expires_at)
            if verdict.set_cookie:  # for this request's browser, never for the cache
                if refreshed is not None:
                    refreshed(verdict.set_cookie)
                verdict = dataclasses.replace(verdict, set_cookie="")
            return stamped(key, verdict)

        try:
            return await self.cache.get_or_load(key, load)
        finally:
            if attempts is not None and pending is not None:  # a joiner of the same lookup counted nothing
                attempts.end(pending)

    async def forget(self, principal: Principal) -> None:
        """Forget the cached decision `principal` came from, here and in the shared layer: the
        next request asks Ory again (a session just stepped up or signed in again)."""
        if principal.credential_hash:
            self.cache.evict_key(principal.credential_hash)
            await self.cache.evict_shared_key(principal.credential_hash)

    def evict(self, form: str, value: str) -> int:
        """Forget what a revocation names, on this replica: a Kratos session's decisions, one
        credential hash, every session and token of a subject (and, for a client, its
        organization), or every principal speaking for an organization
        (`gateway.replicas.revocations`); how many decisions."""
        if form == "credential_hash":
            return self.cache.evict_key(value)
        index = Index(form, self.tenant.name, value)
        self.client_orgs.cache.evict(index)
        self.people.cache.evict(index)
        return self.cache.evict(index)

    async def evict_shared(self, form: str, value: str) -> None:
        """The same in the layer shared by replicas."""
        if form == "credential_hash":
            await self.cache.evict_shared_key(value)
        else:
            await self.cache.evict_shared(Index(form, self.tenant.name, value))

    def evict_credential(self, credential: str) -> int:
        """Forget every cached decision for a revoked token or cookie value."""
        return sum(self.cache.evict_key(credential_key(self.tenant.name, a, credential)) for a in AUTHENTICATORS)


def build_authenticators(
    settings: Settings,
    pools: Mapping[str, OryPool],
    clock: Clock = time.time,
    *,
    shared: Shared[str, Verdict] | None = None,
    attempts: Attempts | None = None,
) -> dict[str, TenantAuthenticator]:
    """One authenticator per tenant, asking Ory through the tenant's own pool; `shared` is the
    decision cache's layer shared by replicas, `attempts` the budget of unknown credentials."""
    tenants: Mapping[str, TenantSettings] = settings.tenants
    return {
        name: TenantAuthenticator(t, settings.cache, pools[name], clock, shared=shared, attempts=attempts)
        for name, t in tenants.items()
    }
