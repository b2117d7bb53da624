"""Local verification of Hydra JWT access tokens with the tenant's JWKS.

Refused, each with a fixed reason id: algorithms outside the tenant's pinned list (so `none`
and HS*/RS key confusion), the `jku`/`x5u`/`jwk`/`x5c`/`crit` headers (nothing the token says
makes us fetch or trust a key), a key whose type or `alg` does not match, ID tokens
presented as access tokens, wrong issuer or audience, and expired or not-yet-valid tokens
beyond `CLOCK_SKEW`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError

from gateway.authn.hydra import ClientOrganizations, audience_ok, ext_organization, machine
from gateway.authn.jwks import JwksCache, PublicKey
from gateway.authn.verdict import Verdict, is_int, same_issuer
from gateway.cache import Clock
from gateway.config.settings import TenantSettings

CLOCK_SKEW = 30.0
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})
ID_TOKEN_CLAIMS = ("nonce", "at_hash", "auth_time", "c_hash")
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class JwtVerifier:
    def __init__(
        self,
        tenant: TenantSettings,
        jwks: JwksCache,
        orgs: ClientOrganizations,
        clock: Clock,
        skew: float = CLOCK_SKEW,
    ) -> None:
        self._tenant = tenant
        self._jwks = jwks
        self._orgs = orgs
        self._clock = clock
        self._skew = skew

    async def verify(self, token: str) -> Verdict:
        header = _header(token)
        if header is None:
            return Verdict.reject("jwt_malformed", "the token is not a well-formed JWT")
        rejected = self._check_header(header)
        if rejected is not None:
            return rejected
        key = await self._jwks.key(header["kid"])
        if key is None:
            return Verdict.reject("jwt_unknown_key", "the token is signed by an unknown key")
        claims = _verified_claims(token, key, header["alg"])
        if claims is None:
            return Verdict.reject("jwt_bad_signature", "the token signature does not verify")
        return await self._decide(claims)

    def _check_header(self, header: dict[str, Any]) -> Verdict | None:
        if FORBIDDEN_HEADERS & header.keys():
            return Verdict.reject("jwt_forbidden_header", "the token carries a forbidden header")
        if header.get("alg") not in self._tenant.jwt_algorithms:
            return Verdict.reject("jwt_alg_not_allowed", "the token's algorithm is not allowed")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            return Verdict.reject("id_token_not_accepted", "the token is not an access token")
        if not isinstance(header.get("kid"), str):
            return Verdict.reject("jwt_unknown_key", "the token names no key")
        return None

    async def _decide(self, claims: dict[str, Any]) -> Verdict:
        rejected = self._check_claims(claims)
        if rejected is not None:
            return rejected
        client = claims["client_id"]
        org = ext_organization(claims) or await self._orgs.organization(client)
        return Verdict(machine(self._tenant.name, client, org, _scopes(claims), claims["exp"]))

    def _check_claims(self, claims: dict[str, Any]) -> Verdict | None:
        client = claims.get("client_id")
        if not isinstance(client, str) or not client or any(c in claims for c in ID_TOKEN_CLAIMS):
            return Verdict.reject("id_token_not_accepted", "an ID token is not an access token")
        issuer = self._tenant.hydra_issuer
        if issuer is None or not same_issuer(claims.get("iss"), issuer):
            return Verdict.reject("wrong_issuer", "the token was issued by another issuer")
        if not audience_ok(claims.get("aud"), self._tenant.jwt_audience):
            return Verdict.reject("wrong_audience", "the token is not meant for this audience")
        return self._check_times(claims)

    def _check_times(self, claims: dict[str, Any]) -> Verdict | None:
        now = self._clock()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf", 0), claims.get("iat", 0)
        if not isinstance(exp, int) or not is_int(exp) or not is_int(nbf) or not is_int(iat):
            return Verdict.reject("jwt_malformed", "the token's time claims are malformed")
        if exp + self._skew <= now:
            return Verdict.reject("token_expired", "the token has expired")
        if nbf - self._skew > now or iat - self._skew > now:
            return Verdict.reject("token_not_yet_valid", "the token is not valid yet")
        return None


def _header(token: str) -> dict[str, Any] | None:
    segment = token.split(".", 1)[0]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _verified_claims(token: str, key: PublicKey, alg: str) -> dict[str, Any] | None:
    if KEY_TYPES.get(alg[:2]) != key.key_type or key.get("alg", alg) != alg:
        return None  # key confusion: the key is not one for this algorithm
    try:
        claims = jose_jwt.decode(token, key, algorithms=[alg]).claims
    except (JoseError, ValueError, TypeError):
        return None
    return dict(claims) if isinstance(claims, dict) else None


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scp, scope = claims.get("scp"), claims.get("scope")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str) and s)
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()
