"""Cross-tenant identity reads through a tenant's Kratos admin API.

Used by the `identity_lookup` built-in: staff authenticated in one tenant read
identities of another without ever holding its sessions. Only the fields in
`PUBLIC_FIELDS` leave this module: credentials, `metadata_admin` and anything a
future Kratos adds are dropped (an allow-list fails closed).

    service = IdentityService.for_tenant(settings.tenants["customer"], http)
    await service.get(identity_id)            # dict, or None when there is no such identity
    await service.list(page_size=100)         # one page
    await service.page(page_token=token)      # one page and the next page's token
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from gateway.config.settings import TenantSettings
from gateway.errors import NotFound
from gateway.ory.http import json_value, ory_request, unexpected, wrong_shape
from gateway.ory.pool import OryPool

#: Kratos `Identity` fields that may be shown to staff of another tenant
PUBLIC_FIELDS = frozenset(
    {
        "id",
        "schema_id",
        "schema_url",
        "state",
        "state_changed_at",
        "traits",
        "verifiable_addresses",
        "recovery_addresses",
        "metadata_public",
        "created_at",
        "updated_at",
        "organization_id",
        "external_id",
    }
)
MAX_PAGE_SIZE = 500
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True, slots=True)
class IdentityPage:
    identities: list[dict[str, Any]]
    #: pass as `page_token` for the next page; None on the last page
    next_page_token: str | None


class IdentityService:
    def __init__(self, tenant: TenantSettings, http: OryPool) -> None:
        if tenant.kratos_admin_url is None or tenant.kratos_admin_token is None:
            raise NotFound(f"tenant {tenant.name!r} has no Kratos admin API configured", reason="no_admin_api")
        self.tenant = tenant
        self.http = http
        self.base = tenant.kratos_admin_url.rstrip("/") + "/admin/identities"
        self.headers = {"Authorization": f"Bearer {tenant.kratos_admin_token}", "Accept": "application/json"}
        #: how errors name the service (`gateway.ory.http`)
        self.service = f"kratos admin of tenant {tenant.name}"

    @classmethod
    def for_tenant(cls, tenant: TenantSettings, http: OryPool) -> IdentityService:
        return cls(tenant, http)

    async def get(self, identity_id: str) -> dict[str, Any] | None:
        """The identity without credentials or admin metadata; None when it does not exist.
        Kratos' identity ids are UUIDs: anything else is not looked up (Kratos would answer 404)."""
        if not UUID.fullmatch(identity_id):
            return None
        resp = await self._call(f"{self.base}/{quote(identity_id, safe='')}")
        if resp.status_code in (400, 404):  # Kratos: unknown or malformed id
            return None
        doc = self._ok_json(resp)
        if not isinstance(doc, dict):
            raise wrong_shape(self.service, "an identity")
        return _public(doc)

    async def list(self, *, page_size: int = 250, page_token: str | None = None) -> list[dict[str, Any]]:
        """One page of identities (see `page` for the token of the next one)."""
        return (await self.page(page_size=page_size, page_token=page_token)).identities

    async def page(self, *, page_size: int = 250, page_token: str | None = None) -> IdentityPage:
        params: dict[str, str | int] = {"page_size": max(1, min(page_size, MAX_PAGE_SIZE))}
        if page_token:
            params["page_token"] = page_token
        resp = await self._call(self.base, params=params)
        doc = self._ok_json(resp)
        if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
            raise wrong_shape(self.service, "an identity list")
        return IdentityPage([_public(item) for item in doc], _next_token(resp))

    async def _call(self, url: str, params: dict[str, str | int] | None = None) -> httpx.Response:
        resp = await ory_request(
            self.http,
            "GET",
            url,
            service=self.service,
            timeout=self.tenant.timeout,
            headers=self.headers,
            params=params,
        )
        if resp.status_code in (401, 403):  # the gateway's admin token is refused: an outage, not the caller's fault
            raise unexpected(resp, self.service)
        return resp

    def _ok_json(self, resp: httpx.Response) -> Any:
        if resp.status_code != 200:
            raise unexpected(resp, self.service)
        return json_value(resp, self.service)


def _public(identity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k in PUBLIC_FIELDS}


def _next_token(resp: httpx.Response) -> str | None:
    link = resp.links.get("next", {}).get("url")
    if not link:
        return None
    tokens = parse_qs(urlsplit(link).query).get("page_token")
    return tokens[0] if tokens else None
