"""`TenantPermissions`: one tenant's Keto client and answer cache, and the route check."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

import httpx

from gateway.config.settings import CacheSettings, Settings, TenantSettings
from gateway.errors import BadRequest, Forbidden
from gateway.observe import tracing
from gateway.ory.keto import KetoClient, RelationTuple
from gateway.permissions.cache import Clock, Key, PermissionCache, SharedPermissions
from gateway.permissions.template import ORG, ValueRefused, render
from gateway.policy.model import Match, Permission, Route
from gateway.principal import Principal

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
    """One tenant's Keto client (None when the tenant has no KETO_READ_URL) and answer cache."""

    def __init__(
        self,
        tenant: TenantSettings,
        cache: CacheSettings,
        http: httpx.AsyncClient,
        clock: Clock = time.time,
        shared: SharedPermissions | None = None,
    ) -> None:
        self.tenant = tenant
        self.keto = KetoClient(tenant, http) if tenant.keto_read_url else None
        self.cache = PermissionCache(cache, clock, shared)

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
            allowed = self.cache.cached(key)
            if tracing.recording:
                tracing.note("gateway.permission.cache", "hit" if allowed is not None else "miss")
            if allowed is None:
                until = principal.expires_at
                allowed = await self.cache.allowed(key, principal.organization, until, lambda: self._check(wanted))
            if tracing.recording:
                tracing.note("gateway.permission.allowed", allowed)
        if not allowed:
            raise _deny(
                route, "permission_denied", f"requires permission {wanted.namespace}:{wanted.object}#{wanted.relation}"
            )

    async def _check(self, wanted: RelationTuple) -> bool:
        if self.keto is None:  # the loader refuses such routes; fail closed anyway
            raise _deny_unconfigured()
        return await self.keto.check(wanted)

    async def check_many(self, principal: Principal, organization: str, tuples: list[RelationTuple]) -> list[bool]:
        """Answers for several tuples about `principal` (one Keto call for the missing ones)."""
        keys: list[Key] = [(self.tenant.name, principal.kind, *t) for t in tuples]
        by_key = dict(zip(keys, tuples, strict=True))
        until = principal.expires_at
        return await self.cache.allowed_many(keys, organization, until, lambda missing: self._batch(by_key, missing))

    async def _batch(self, by_key: Mapping[Key, RelationTuple], missing: Sequence[Key]) -> list[bool]:
        if self.keto is None:
            raise _deny_unconfigured()
        return await self.keto.batch_check([by_key[k] for k in missing])

    def evict_subject(self, subject: str) -> int:
        return self.cache.evict_subject(self.tenant.name, subject)

    def evict_organization(self, organization: str) -> int:
        return self.cache.evict_organization(self.tenant.name, organization)


def _deny_unconfigured() -> Forbidden:
    return Forbidden("this tenant has no permission service configured", reason="keto_not_configured")


def build_permissions(
    settings: Settings, http: httpx.AsyncClient, clock: Clock = time.time, shared: SharedPermissions | None = None
) -> dict[str, TenantPermissions]:
    return {name: TenantPermissions(t, settings.cache, http, clock, shared) for name, t in settings.tenants.items()}
