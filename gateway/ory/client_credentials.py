"""Client-credentials tokens from a tenant's Hydra, with the tenant's own OAuth2 client.

`TokenService.for_tenant("dealer", settings).client_credentials(["inventory:read"])`
returns `{access_token, token_type, expires_in, scope}`. Tokens are cached until
shortly before expiry; concurrent callers share one refresh.
"""

from __future__ import annotations

import asyncio
import base64
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from authlib.integrations.base_client import OAuthError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from gateway.config.settings import Settings, TenantSettings
from gateway.errors import GatewayError
from gateway.ory.http import check_status, transport_error

HYDRA = "hydra"

#: a token is renewed this many seconds before it expires (a tenth of its life if that is less)
REFRESH_MARGIN = 30.0


class TokenError(Exception):
    """A token could not be had; the message names the tenant and the OAuth2 error."""

    def __init__(self, tenant: str, error: str, description: str = "") -> None:
        super().__init__(f"tenant {tenant!r}: {error}" + (f": {description}" if description else ""))
        self.tenant = tenant
        self.error = error


class TokenService:
    _instances: ClassVar[dict[tuple[int, str], TokenService]] = {}

    def __init__(self, tenant: TenantSettings, clock: Callable[[], float] = time.time) -> None:
        if tenant.hydra_public_url is None:
            raise TokenError(tenant.name, "no_hydra", "GATEWAY_TENANT_<T>_HYDRA_PUBLIC_URL is not set")
        if tenant.client_id is None or tenant.client_secret is None:
            raise TokenError(tenant.name, "no_client", f"{tenant.env_prefix}CLIENT_ID/_CLIENT_SECRET are not set")
        self.tenant = tenant
        self.clock = clock
        self.token_url = tenant.hydra_public_url + "/oauth2/token"
        #: (scopes | audiences) -> (token, expires at, renew at)
        self._cache: dict[tuple[str, ...], tuple[dict[str, Any], float, float]] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}

    @classmethod
    def for_tenant(cls, name: str, settings: Settings) -> TokenService:
        if name not in settings.tenants:
            raise TokenError(name, "unknown_tenant", f"not in GATEWAY_TENANTS ({', '.join(settings.tenants)})")
        key = (id(settings), name)
        if key not in cls._instances:
            cls._instances[key] = cls(settings.tenants[name])
        return cls._instances[key]

    async def client_credentials(self, scopes: Sequence[str], audience: Sequence[str] = ()) -> dict[str, Any]:
        key = (*sorted(scopes), "|", *sorted(audience))
        cached = self._fresh(key)
        if cached is not None:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._fresh(key)  # another caller refreshed while we waited
            if cached is None:
                cached = await self._fetch(scopes, audience)
                lifetime = float(cached["expires_in"])
                renew_at = self.clock() + lifetime - min(REFRESH_MARGIN, lifetime / 10)
                self._cache[key] = (cached, self.clock() + lifetime, renew_at)
            return cached

    def _fresh(self, key: tuple[str, ...]) -> dict[str, Any] | None:
        hit = self._cache.get(key)
        now = self.clock()
        if hit is None or now >= hit[2]:
            return None
        token, expires, _ = hit
        return {**token, "expires_in": int(expires - now)}

    async def _fetch(self, scopes: Sequence[str], audience: Sequence[str]) -> dict[str, Any]:
        extra: dict[str, Any] = {"audience": " ".join(audience)} if audience else {}
        async with AsyncOAuth2Client(
            client_id=self.tenant.client_id,
            client_secret=self.tenant.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            timeout=self.tenant.timeout,
            event_hooks={"response": [_check]},
        ) as client:
            client.register_client_auth_method(("client_secret_basic", _basic_urlencoded))
            try:
                token = await client.fetch_token(
                    self.token_url, grant_type="client_credentials", scope=" ".join(scopes), **extra
                )
            except OAuthError as exc:
                raise TokenError(self.tenant.name, exc.error or "oauth_error", exc.description or "") from exc
            except GatewayError as exc:  # Ory's 429 or 5xx, seen by `_check` (gateway.ory.http)
                raise TokenError(self.tenant.name, "unavailable", exc.description) from exc
            except httpx.HTTPError as exc:
                raise TokenError(self.tenant.name, "unavailable", transport_error(exc, HYDRA).description) from exc
            except Exception as exc:  # a body authlib cannot read as a token
                raise TokenError(self.tenant.name, "unavailable", f"{type(exc).__name__}: {exc}") from exc
        return {
            "access_token": token["access_token"],
            "token_type": token.get("token_type", "bearer"),
            "expires_in": int(token.get("expires_in", 0)),
            "scope": token.get("scope", " ".join(scopes)),
        }


async def _check(response: httpx.Response) -> None:
    check_status(response, HYDRA)


def _basic_urlencoded(
    client: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """client_secret_basic as RFC 6749 2.3.1 has it: id and secret form-urlencoded first
    (Hydra decodes both; authlib's default sends them raw, breaking secrets with + or %)."""
    pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
    headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return uri, headers, body
