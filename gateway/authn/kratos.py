"""Human principals: the tenant's Kratos `GET /sessions/whoami`.

Only the tenant's own session cookie goes to its Kratos, as `Cookie: <name>=<value>` (the
browser's other cookies - other tenants' sessions, the applications' own - never leave); a
token is sent as X-Session-Token. Memberships (organizations, roles in each) come from the
identity's admin-controlled fields (`metadata_public`, `organization_id`;
`gateway.orgs.memberships`); traits are user-editable and never used. On a tenant whose
memberships live in Keto (`MEMBERSHIPS=keto`) the principal leaves here with none: the
organization stage asks Keto.

What whoami says besides the session (`docs/sessions.md`):

- 403 (`session_aal2_required`, `session_aal2_enrollment_required`,
  `session_credential_required`) raises `StepUpRequired`: never cached, so a person back from
  the second factor is let in at once;
- `Ory-Session-Cache-For` bounds how long the answer is cached (`Verdict.cache_until`);
- a `Set-Cookie` for the tenant's session cookie (a refreshed session) is handed on for the
  browser that asked (`Verdict.set_cookie`), never cached.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx

from gateway.authn.verdict import Verdict, parse_rfc3339
from gateway.cache import Clock
from gateway.config.problems import ConfigError
from gateway.config.settings import TenantSettings
from gateway.errors import StepUpRequired
from gateway.orgs.memberships import METADATA, Memberships, read_memberships
from gateway.ory.http import json_object, json_value, ory_request, unexpected, wrong_shape
from gateway.ory.pool import OryPool
from gateway.principal import Principal

SERVICE = "kratos"
CACHE_FOR = "ory-session-cache-for"
#: whoami's 403 `error.id` -> what the person must do (`StepUpRequired.need`) and why, in words
STEP_UPS = {
    "session_aal2_required": ("aal2", "the session needs a second factor"),
    "session_aal2_enrollment_required": ("enroll", "a second factor must be set up first"),
    "session_credential_required": ("refresh", "the session must be signed in again"),
}
_SECONDS = re.compile(r"\d{1,9}")


class KratosAuthenticator:
    def __init__(self, tenant: TenantSettings, http: OryPool, clock: Clock) -> None:
        _check_paths(tenant)
        self._tenant = tenant
        self._http = http
        self._clock = clock
        self._url = tenant.kratos_public_url.rstrip("/") + "/sessions/whoami"
        self._cookie = tenant.session_cookie_name + "="

    async def with_cookie(self, cookie: str) -> Verdict:
        """whoami for the value of the tenant's session cookie, sent as the only cookie."""
        return await self._whoami({"cookie": self._cookie + cookie, "accept": "application/json"}, True)

    async def with_token(self, token: str) -> Verdict:
        return await self._whoami({"x-session-token": token, "accept": "application/json"}, False)

    async def _whoami(self, headers: dict[str, str], cookie: bool) -> Verdict:
        response = await ory_request(
            self._http, "GET", self._url, service=SERVICE, timeout=self._tenant.timeout, headers=headers
        )
        if response.status_code == 401:
            return Verdict.reject("session_invalid", "no valid session for these credentials")
        if response.status_code == 403:
            raise step_up(response)
        if response.status_code != 200:
            raise unexpected(response, SERVICE)
        verdict = self.session_decision(json_object(response, SERVICE))
        until = _cache_until(response, self._clock())
        refreshed = self._refreshed_cookie(response) if cookie and verdict.principal is not None else ""
        if until is None and not refreshed:
            return verdict
        return dataclasses.replace(verdict, cache_until=until, set_cookie=refreshed)

    def session_decision(self, session: dict[str, Any]) -> Verdict:
        identity = session.get("identity")
        session_id = session.get("id")
        expires_at = parse_rfc3339(session.get("expires_at"))
        if not isinstance(identity, dict) or not isinstance(session_id, str) or expires_at is None:
            raise wrong_shape(SERVICE, "a session")
        identity_id = identity.get("id")
        if not isinstance(identity_id, str) or not identity_id:
            raise wrong_shape(SERVICE, "an identity")
        refused = self._refused(session, identity, expires_at)
        if refused is not None:
            return refused
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
                authenticated_at=authenticated_at(session),
                expires_at=expires_at,
                memberships=memberships.items if self._tenant.memberships == METADATA else None,
                memberships_problem=memberships.problem,
            )
        )

    def _refused(self, session: dict[str, Any], identity: dict[str, Any], expires_at: float) -> Verdict | None:
        if session.get("active") is not True:
            return Verdict.reject("session_inactive", "the session is not active")
        if identity.get("state", "active") != "active":
            return Verdict.reject("identity_inactive", "the identity is not active")
        if expires_at <= self._clock():
            return Verdict.reject("session_expired", "the session has expired")
        return schema_refused(self._tenant, identity.get("schema_id"))

    def _memberships(self, identity: dict[str, Any]) -> Memberships:
        t = self._tenant
        if t.memberships != METADATA:
            return Memberships(())  # the organization stage asks the tenant's source
        return read_memberships(identity, t.memberships_path, t.org_paths, t.roles_path)

    def _refreshed_cookie(self, response: httpx.Response) -> str:
        """The `Set-Cookie` of the tenant's session cookie, attributes and all ("" when none)."""
        for value in response.headers.get_list("set-cookie"):
            if value.startswith(self._cookie):
                return value
        return ""


def schema_refused(tenant: TenantSettings, schema_id: object) -> Verdict | None:
    """A person of an identity schema this tenant does not take (`IDENTITY_SCHEMAS`: tenants
    sharing one Kratos tell their people apart by schema), else None."""
    if not tenant.identity_schemas or schema_id in tenant.identity_schemas:
        return None
    return Verdict.reject("identity_schema_not_accepted", "this identity does not belong to this tenant")


def authenticated_at(session: dict[str, Any]) -> float | None:
    """When the person last proved who they are: `authenticated_at`, or a later method's `completed_at`."""
    times = [parse_rfc3339(session.get("authenticated_at"))]
    methods = session.get("authentication_methods")
    if isinstance(methods, list):
        times += [parse_rfc3339(m.get("completed_at")) for m in methods if isinstance(m, dict)]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def step_up(response: httpx.Response) -> StepUpRequired:
    """whoami's 403: what the person must do before this session may be used."""
    doc = json_value(response, SERVICE)
    error = doc.get("error") if isinstance(doc, dict) else None
    error_id = error.get("id") if isinstance(error, dict) else None
    kratos_id = error_id if isinstance(error_id, str) and error_id in STEP_UPS else "session_aal2_required"
    need, description = STEP_UPS[kratos_id]
    return StepUpRequired(description, need=need, reason=kratos_id)


def _cache_until(response: httpx.Response, now: float) -> float | None:
    """`Ory-Session-Cache-For: <seconds>` as an epoch bound (None when absent or malformed)."""
    value = response.headers.get(CACHE_FOR)
    if value is None or not _SECONDS.fullmatch(value.strip()):
        return None
    return now + int(value.strip())


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
