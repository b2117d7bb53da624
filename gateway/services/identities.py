"""Cross-tenant identity reads through a tenant's Kratos admin API.

Used by the `identity_lookup` built-in: staff authenticated in one tenant read
identities of another without ever holding its sessions. Credentials and
`metadata_admin` never leave this module.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from gateway.config import TenantSettings
from gateway.errors import NotFound, ServiceUnavailable, TooManyRequests

HIDDEN = ("credentials", "metadata_admin")


class IdentityService:
    def __init__(self, tenant: TenantSettings, http: httpx.AsyncClient) -> None:
        if tenant.kratos_admin_url is None or tenant.kratos_admin_token is None:
            raise NotFound(f"tenant {tenant.name!r} has no Kratos admin API configured", reason="no_admin_api")
        self.tenant = tenant
        self.http = http
        self.base = tenant.kratos_admin_url + "/admin/identities"
        self.headers = {"Authorization": f"Bearer {tenant.kratos_admin_token}", "Accept": "application/json"}

    @classmethod
    def for_tenant(cls, tenant: TenantSettings, http: httpx.AsyncClient) -> IdentityService:
        return cls(tenant, http)

    async def get(self, identity_id: str) -> dict[str, Any] | None:
        """The identity without credentials or admin metadata; None when it does not exist."""
        resp = await self._call("GET", f"{self.base}/{quote(identity_id, safe='')}")
        if resp.status_code in (400, 404):
            return None
        return _public(_json(resp))

    async def list(self, *, page_size: int = 250, page_token: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"page_size": page_size}
        if page_token:
            params["page_token"] = page_token
        resp = await self._call("GET", self.base, params=params)
        return [_public(item) for item in _json(resp)]

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = await self.http.request(method, url, headers=self.headers, timeout=self.tenant.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"tenant {self.tenant.name!r} Kratos is unreachable", retry_after=2) from exc
        if resp.status_code == 429:
            raise TooManyRequests("Kratos rate limit", retry_after=int(resp.headers.get("retry-after", "1") or 1))
        if resp.status_code >= 500 or resp.status_code in (401, 403):
            raise ServiceUnavailable(f"tenant {self.tenant.name!r} Kratos admin API failed", retry_after=2)
        return resp


def _public(identity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k not in HIDDEN}


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError as exc:
        raise ServiceUnavailable("Kratos answered with malformed JSON", retry_after=2) from exc
