"""Human principals: the tenant's Kratos `GET /sessions/whoami`.

A cookie is forwarded as the browser's whole Cookie header; a token is sent as
X-Session-Token. Memberships (organizations, roles in each) come from the identity's
admin-controlled fields (`metadata_public`, `organization_id`; `gateway.orgs.memberships`);
traits are user-editable and never used. On a tenant whose memberships live in Keto
(`MEMBERSHIPS=keto`) the principal leaves here with none: the organization stage asks Keto.
"""

from __future__ import annotations

from typing import Any

from gateway.authn.verdict import Verdict, parse_rfc3339
from gateway.cache import Clock
from gateway.config.problems import ConfigError
from gateway.config.settings import TenantSettings
from gateway.orgs.memberships import METADATA, Memberships, read_memberships
from gateway.ory.http import json_object, ory_request, unexpected, wrong_shape
from gateway.ory.pool import OryPool
from gateway.principal import Principal

SERVICE = "kratos"


class KratosAuthenticator:
    def __init__(self, tenant: TenantSettings, http: OryPool, clock: Clock) -> None:
        _check_paths(tenant)
        self._tenant = tenant
        self._http = http
        self._clock = clock
        self._url = tenant.kratos_public_url.rstrip("/") + "/sessions/whoami"

    async def with_cookie(self, cookie_header: str) -> Verdict:
        return await self._whoami({"cookie": cookie_header, "accept": "application/json"})

    async def with_token(self, token: str) -> Verdict:
        return await self._whoami({"x-session-token": token, "accept": "application/json"})

    async def _whoami(self, headers: dict[str, str]) -> Verdict:
        response = await ory_request(
            self._http, "GET", self._url, service=SERVICE, timeout=self._tenant.timeout, headers=headers
        )
        if response.status_code == 401:
            return Verdict.reject("session_invalid", "no valid session for these credentials")
        if response.status_code == 403:
            return Verdict.reject("session_aal_insufficient", "the session needs a second factor")
        if response.status_code != 200:
            raise unexpected(response, SERVICE)
        return self.session_decision(json_object(response, SERVICE))

    def session_decision(self, session: dict[str, Any]) -> Verdict:
        identity = session.get("identity")
        session_id = session.get("id")
        expires_at = parse_rfc3339(session.get("expires_at"))
        if not isinstance(identity, dict) or not isinstance(session_id, str) or expires_at is None:
            raise wrong_shape(SERVICE, "a session")
        identity_id = identity.get("id")
        if not isinstance(identity_id, str) or not identity_id:
            raise wrong_shape(SERVICE, "an identity")
        if session.get("active") is not True:
            return Verdict.reject("session_inactive", "the session is not active")
        if identity.get("state", "active") != "active":
            return Verdict.reject("identity_inactive", "the identity is not active")
        if expires_at <= self._clock():
            return Verdict.reject("session_expired", "the session has expired")
        aal = session.get("authenticator_assurance_level")
        memberships = self._memberships(identity)
        organization, roles = memberships.default
        return Verdict(
            Principal(
                kind="human",
                tenant=self._tenant.name,
                subject=identity_id,
                organization=organization,
                roles=roles,
                scopes=frozenset(),
                session_id=session_id,
                aal=aal if isinstance(aal, str) else None,
                expires_at=expires_at,
                memberships=memberships.items if self._tenant.memberships == METADATA else None,
                memberships_problem=memberships.problem,
            )
        )

    def _memberships(self, identity: dict[str, Any]) -> Memberships:
        t = self._tenant
        if t.memberships != METADATA:
            return Memberships(())  # the organization stage asks the tenant's source
        return read_memberships(identity, t.memberships_path, t.org_paths, t.roles_path)


def _check_paths(tenant: TenantSettings) -> None:
    paths = (*tenant.org_paths, tenant.roles_path, tenant.memberships_path)
    bad = [p for p in paths if p.split(".")[0] in ("traits", "")]
    if bad:
        raise ConfigError(
            [
                f"{tenant.env_prefix}ORG_PATHS/ROLES_PATH/MEMBERSHIPS_PATH: {p!r} is user-editable or empty; "
                "use metadata_public or organization_id"
                for p in bad
            ]
        )
