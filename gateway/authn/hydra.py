"""Machine principals: RFC 7662 introspection at the tenant's Hydra admin API, and the
organization of an OAuth2 client (`ext.organization_id`, else the client's
`metadata.organization_id` from `GET /admin/clients/{id}`, cached and bounded). A tenant that
lists its clients (`CLIENT_IDS`) refuses every other client's token, introspected or JWT.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gateway.authn.verdict import Verdict, dig, is_int, same_issuer
from gateway.cache import Cache, Clock
from gateway.config.settings import CacheSettings, TenantSettings
from gateway.errors import ServiceUnavailable
from gateway.ory.http import json_object, ory_request, unexpected, wrong_shape
from gateway.ory.pool import OryPool
from gateway.principal import Principal

SERVICE = "hydra"
CLIENT_ORG_TTL = 300.0
CLIENT_ORG_SIZE = 10_000
#: a client's organization (or none) is kept CLIENT_ORG_TTL seconds either way
CLIENT_ORGS = CacheSettings(max_ttl=CLIENT_ORG_TTL, negative_ttl=CLIENT_ORG_TTL, size=CLIENT_ORG_SIZE)
#: a client's organization is listed under the client id as subject
LISTED = {"subject": lambda client_id, org: (client_id,)}


def admin_headers(tenant: TenantSettings) -> dict[str, str]:
    headers = {"accept": "application/json"}
    if tenant.hydra_admin_token:
        headers["authorization"] = f"Bearer {tenant.hydra_admin_token}"
    return headers


class ClientOrganizations:
    """client id -> organization id (or None), from the tenant's Hydra admin API."""

    def __init__(self, tenant: TenantSettings, http: OryPool, clock: Clock) -> None:
        self._tenant = tenant
        self._http = http
        #: client id -> its organization, "" for none (the cache holds no None); evicted with the
        #: client's tokens when a revocation names the client as subject
        self.cache: Cache[str, str] = Cache(CLIENT_ORGS, clock, tenant.name, lambda org: (True, None), LISTED)

    async def organization(self, client_id: str) -> str | None:
        if self._tenant.hydra_admin_url is None:
            return None
        return await self.cache.get_or_load(client_id, lambda: self._fetch(client_id)) or None

    async def _fetch(self, client_id: str) -> str:
        assert self._tenant.hydra_admin_url is not None
        url = f"{self._tenant.hydra_admin_url.rstrip('/')}/admin/clients/{quote(client_id, safe='')}"
        response = await ory_request(
            self._http,
            "GET",
            url,
            service=SERVICE,
            timeout=self._tenant.timeout,
            headers=admin_headers(self._tenant),
        )
        if response.status_code == 404:
            return ""
        if response.status_code != 200:
            raise unexpected(response, SERVICE)
        value = dig(json_object(response, SERVICE), "metadata.organization_id")
        return value if isinstance(value, str) else ""


def ext_organization(claims: dict[str, Any]) -> str | None:
    value = dig(claims, "ext.organization_id")
    return value if isinstance(value, str) and value else None


def client_refused(tenant: TenantSettings, client: str) -> Verdict | None:
    """A token of a client this tenant does not list (`CLIENT_IDS`: tenants sharing one Hydra
    tell their partners apart by client), else None. The tenant's own client is always its."""
    if not tenant.client_ids or client in tenant.client_ids or client == tenant.client_id:
        return None
    return Verdict.reject("client_not_accepted", "this client's tokens are not accepted here")


def audience_ok(aud: object, expected: str | None) -> bool:
    if expected is None:
        return True
    return aud == expected or (isinstance(aud, list) and expected in aud)


class HydraIntrospector:
    def __init__(self, tenant: TenantSettings, http: OryPool, clock: Clock, orgs: ClientOrganizations) -> None:
        self._tenant = tenant
        self._http = http
        self._clock = clock
        self._orgs = orgs
        admin = tenant.hydra_admin_url
        self._url = admin.rstrip("/") + "/admin/oauth2/introspect" if admin else None

    async def introspect(self, token: str) -> Verdict:
        if self._url is None:
            return Verdict.reject("token_inactive", "this tenant cannot introspect tokens")
        response = await ory_request(
            self._http,
            "POST",
            self._url,
            service=SERVICE,
            timeout=self._tenant.timeout,
            headers=admin_headers(self._tenant),
            form={"token": token, "token_type_hint": "access_token"},
        )
        if response.status_code != 200:
            raise unexpected(response, SERVICE)
        return await self.token_decision(json_object(response, SERVICE))

    async def token_decision(self, doc: dict[str, Any]) -> Verdict:
        active = doc.get("active")
        if not isinstance(active, bool):
            raise unexpected_shape()
        if not active:
            return Verdict.reject("token_inactive", "the token is not active")
        rejected = self._check(doc)
        if rejected is not None:
            return rejected
        client = doc.get("client_id") or doc.get("sub")
        scope = doc.get("scope", "")
        if not isinstance(client, str) or not client or not isinstance(scope, str):
            raise unexpected_shape()
        if refused := client_refused(self._tenant, client):
            return refused
        org = ext_organization(doc) or await self._orgs.organization(client)
        return Verdict(machine(self._tenant.name, client, org, frozenset(scope.split()), doc["exp"]))

    def _check(self, doc: dict[str, Any]) -> Verdict | None:
        if not is_int(doc.get("exp")):
            raise unexpected_shape()
        if doc.get("token_use", "access_token") != "access_token":
            return Verdict.reject("token_not_access_token", "not an access token")
        issuer = self._tenant.hydra_issuer
        if issuer and "iss" in doc and not same_issuer(doc["iss"], issuer):
            return Verdict.reject("wrong_issuer", "the token was issued by another issuer")
        if not audience_ok(doc.get("aud"), self._tenant.jwt_audience):
            return Verdict.reject("wrong_audience", "the token is not meant for this audience")
        if doc["exp"] <= self._clock():
            return Verdict.reject("token_expired", "the token has expired")
        return None


def machine(tenant: str, client: str, org: str | None, scopes: frozenset[str], exp: float) -> Principal:
    return Principal(
        kind="machine",
        tenant=tenant,
        subject=client,
        organization=org,
        roles=frozenset(),
        scopes=scopes,
        client_id=client,
        expires_at=float(exp),
    )


def unexpected_shape() -> ServiceUnavailable:
    return wrong_shape(SERVICE, "an introspection result")
