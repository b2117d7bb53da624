"""`TenantPermissions`: one tenant's Keto client and caches (answers, listings), and the route check."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

from gateway.cache import Clock, Index, Shared
from gateway.config.settings import CacheSettings, Settings, TenantSettings
from gateway.errors import BadRequest, Forbidden
from gateway.observe import tracing
from gateway.ory.keto import KetoClient, RelationTuple
from gateway.ory.pool import OryPool
from gateway.permissions.cache import Answer, Key, answer_cache, listing_cache
from gateway.permissions.template import ORG, ValueRefused, render
from gateway.policy.model import Match, Permission, Route
from gateway.principal import Principal

#: the revocation forms that concern permission answers
EVICTED_BY = ("subject", "organization")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def permission_tuple(
    route: Route, permission: Permission, params: Mapping[str, str], caller: Principal
) -> RelationTuple:
    """The tuple Keto is asked about for `caller` on this request (no network call)."""
    if caller.kind == "machine" and _UUID.fullmatch(caller.subject):
        raise _deny(
            route, "machine_subject_refused", "a client id shaped like an identity id is not a permission subject"
        )
    try:
        obj = render(permission.parts, params, caller.organization)
    except ValueRefused as refused:
        if refused.name != ORG:
            reason = "bad_path_parameter"
            description = f"path parameter {refused.name!r} must be an id (letters, digits, . _ ~ -)"
            raise BadRequest(description, reason=reason, extra={"reason": reason, "route": route.id}) from None
        raise _deny(route, "no_organization", "this route's permission needs the caller's organization") from None
    return RelationTuple(permission.namespace, obj, permission.relation, caller.subject)


def _deny(route: Route, reason: str, description: str) -> Forbidden:
    return Forbidden(f"route {route.id}: {description}", reason=reason, extra={"reason": reason, "route": route.id})


class TenantPermissions:
    """One tenant's Keto client (None when the tenant has no KETO_READ_URL), its answers'
    cache and the organizations listed per subject (`gateway.permissions.cache`)."""

    def __init__(
        self,
        tenant: TenantSettings,
        cache: CacheSettings,
        http: OryPool,
        clock: Clock = time.time,
        shared: Shared[Key, Answer] | None = None,
    ) -> None:
        self.tenant = tenant
        self.keto = KetoClient(tenant, http) if tenant.keto_read_url else None
        self.answers = answer_cache(cache, clock, tenant.name, shared)
        self.listings = listing_cache(cache, clock, tenant.name)

    async def require(self, match: Match, principal: Principal) -> None:
        """Return when the route's permission (if any) holds for `principal`; else raise."""
        route = match.route
        requirement = route.requirement_for(principal.kind)
        permission = requirement.permission if requirement is not None else None
        if permission is None:
            return
        wanted = permission_tuple(route, permission, match.params, principal)
        key: Key = (self.tenant.name, principal.kind, *wanted)
        # a span per check (cache hit, or the Keto call under it); the object and subject are
        # ids of the caller's organization and identity: never exported
        with tracing.span("permission", {"keto.namespace": wanted.namespace, "keto.relation": wanted.relation}):
            answer = self.answers.cached(key)
            if tracing.recording():
                tracing.note("gateway.permission.cache", "hit" if answer is not None else "miss")
            if answer is None:
                organization = principal.organization
                load = lambda: self._check(wanted, organization)  # noqa: E731
                answer = await self.answers.get_or_load(key, load, principal.expires_at)
            allowed = answer.allowed
            if tracing.recording():
                tracing.note("gateway.permission.allowed", allowed)
        if not allowed:
            raise _deny(
                route, "permission_denied", f"requires permission {wanted.namespace}:{wanted.object}#{wanted.relation}"
            )

    async def _check(self, wanted: RelationTuple, organization: str | None) -> Answer:
        if self.keto is None:  # the loader refuses such routes; fail closed anyway
            raise _deny_unconfigured()
        return Answer(await self.keto.check(wanted), organization)

    async def check_many(self, principal: Principal, organization: str, tuples: list[RelationTuple]) -> list[bool]:
        """Answers for several tuples about `principal` (one Keto call for the missing ones)."""
        keys: list[Key] = [(self.tenant.name, principal.kind, *t) for t in tuples]
        by_key = dict(zip(keys, tuples, strict=True))
        load = lambda missing: self._batch(by_key, missing, organization)  # noqa: E731
        return [answer.allowed for answer in await self.answers.get_many(keys, load, principal.expires_at)]

    async def _batch(
        self, by_key: Mapping[Key, RelationTuple], missing: Sequence[Key], organization: str
    ) -> list[Answer]:
        if self.keto is None:
            raise _deny_unconfigured()
        return [Answer(allowed, organization) for allowed in await self.keto.batch_check([by_key[k] for k in missing])]

    def evict(self, form: str, value: str) -> int:
        """Forget the answers about a subject or an organization (what a revocation names), and
        the listings that name them, on this replica; how many answers. Answers are not about a
        session or a credential: other forms leave them alone."""
        if form not in EVICTED_BY:
            return 0
        index = Index(form, self.tenant.name, value)
        self.listings.evict(index)
        return self.answers.evict(index)

    async def evict_shared(self, form: str, value: str) -> None:
        """The same in the layer shared by replicas (answers only: listings are not shared)."""
        if form in EVICTED_BY:
            await self.answers.evict_shared(Index(form, self.tenant.name, value))

    def clear(self) -> None:
        """Forget every answer and listing (revocations may have been missed)."""
        self.answers.clear()
        self.listings.clear()


def _deny_unconfigured() -> Forbidden:
    return Forbidden("this tenant has no permission service configured", reason="keto_not_configured")


def build_permissions(
    settings: Settings,
    pools: Mapping[str, OryPool],
    clock: Clock = time.time,
    shared: Shared[Key, Answer] | None = None,
) -> dict[str, TenantPermissions]:
    """One per tenant, asking Keto through the tenant's own pool."""
    tenants = settings.tenants
    return {name: TenantPermissions(t, settings.cache, pools[name], clock, shared) for name, t in tenants.items()}
