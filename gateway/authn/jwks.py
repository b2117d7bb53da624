"""A tenant's key set - its Hydra's JWKS (access tokens) or its tokenizer template's (session
JWTs) - fetched from the URL its settings name only (never from a token header).

Keys are kept for `MAX_AGE` seconds; an unknown `kid` triggers a refetch at most every
`MIN_REFETCH` seconds; concurrent refetches share one request. Symmetric (`oct`) and private
keys are dropped so that a public key can never be used as an HMAC secret.
"""

from __future__ import annotations

from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey, import_key

from gateway.cache import Clock, SingleFlight
from gateway.config.settings import TenantSettings
from gateway.ory.http import json_object, ory_request, unexpected, wrong_shape
from gateway.ory.pool import OryPool

PublicKey = RSAKey | ECKey | OKPKey
MAX_AGE = 300.0
MIN_REFETCH = 30.0


class JwksCache:
    def __init__(self, url: str, service: str, timeout: float, http: OryPool, clock: Clock) -> None:
        self._url = url
        self._service = service
        self._timeout = timeout
        self._http = http
        self._clock = clock
        self._keys: dict[str, PublicKey] = {}
        self._fetched_at: float | None = None
        self._refresh: SingleFlight[None, None] = SingleFlight()

    async def key(self, kid: str) -> PublicKey | None:
        now = self._clock()
        fresh = self._fetched_at is not None and now - self._fetched_at < MAX_AGE
        if fresh and kid in self._keys:
            return self._keys[kid]
        if fresh and self._fetched_at is not None and now - self._fetched_at < MIN_REFETCH:
            return None  # unknown kid, fetched a moment ago: do not let tokens drive our traffic
        await self._refresh.run(None, self._fetch)
        return self._keys.get(kid)

    @classmethod
    def hydra(cls, tenant: TenantSettings, http: OryPool, clock: Clock) -> JwksCache:
        """The keys of the tenant's Hydra access tokens, at its public `/.well-known/jwks.json`."""
        url = (tenant.hydra_public_url or "").rstrip("/") + "/.well-known/jwks.json"
        return cls(url, "hydra", tenant.timeout, http, clock)

    @classmethod
    def sessions(cls, tenant: TenantSettings, http: OryPool, clock: Clock) -> JwksCache:
        """The keys of the tenant's session JWTs, at `SESSION_JWKS_URL`."""
        return cls(tenant.session_jwks_url or "", "kratos", tenant.timeout, http, clock)

    async def _fetch(self) -> None:
        service = self._service
        response = await ory_request(
            self._http, "GET", self._url, service=service, timeout=self._timeout, headers={"accept": "application/json"}
        )
        if response.status_code != 200:
            raise unexpected(response, service)
        keys = json_object(response, service).get("keys")
        if not isinstance(keys, list):
            raise wrong_shape(service, "a JWKS")
        self._keys = {kid: key for kid, key in map(_public_key, keys) if key is not None}
        self._fetched_at = self._clock()


def _public_key(jwk: Any) -> tuple[str, PublicKey | None]:
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
        return "", None
    if jwk.get("kty") not in ("RSA", "EC", "OKP") or "d" in jwk or jwk.get("use", "sig") != "sig":
        return jwk["kid"], None
    try:
        key = import_key(jwk)
    except (JoseError, ValueError, TypeError):
        return jwk["kid"], None
    return jwk["kid"], key if isinstance(key, RSAKey | ECKey | OKPKey) else None
