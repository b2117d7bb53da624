"""Local verification of Hydra JWT access tokens with the tenant's JWKS (and the steps a
session JWT shares: `verified_claims`, `times_refused`; `gateway.authn.session_jwt`).

Refused, each with a fixed reason id: algorithms outside the tenant's pinned list (so `none`
and HS*/RS key confusion), the `jku`/`x5u`/`jwk`/`x5c`/`crit` headers (nothing the token says
makes us fetch or trust a key), a key whose type or `alg` does not match, ID tokens
presented as access tokens, wrong issuer or audience, and expired or not-yet-valid tokens
beyond `CLOCK_SKEW`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError

from gateway.authn.hydra import ClientOrganizations, audience_ok, client_refused, ext_organization, machine
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
        claims = await verified_claims(token, self._jwks, self._tenant.jwt_algorithms, _access_token_typ)
        return claims if isinstance(claims, Verdict) else await self._decide(claims)

    async def _decide(self, claims: dict[str, Any]) -> Verdict:
        rejected = self._check_claims(claims)
        if rejected is not None:
            return rejected
        client = claims["client_id"]
        if refused := client_refused(self._tenant, client):
            return refused
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
        return times_refused(claims, self._clock(), self._skew)


async def verified_claims(
    token: str, jwks: JwksCache, algorithms: frozenset[str], typ_ok: Callable[[object], bool]
) -> dict[str, Any] | Verdict:
    """The claims of a token whose header passes `header_refused` and whose signature verifies
    with the key set's key named by `kid`; else the refusal."""
    header = jwt_header(token)
    if header is None:
        return Verdict.reject("jwt_malformed", "the token is not a well-formed JWT")
    return header_refused(header, algorithms, typ_ok) or await signed_claims(token, header, jwks)


def header_refused(
    header: dict[str, Any], algorithms: frozenset[str], typ_ok: Callable[[object], bool]
) -> Verdict | None:
    """The header's refusal, if any: a forbidden header, an algorithm not pinned, the wrong
    `typ`, no `kid`."""
    if FORBIDDEN_HEADERS & header.keys():
        return Verdict.reject("jwt_forbidden_header", "the token carries a forbidden header")
    if header.get("alg") not in algorithms:
        return Verdict.reject("jwt_alg_not_allowed", "the token's algorithm is not allowed")
    if not typ_ok(header.get("typ")):
        return Verdict.reject("id_token_not_accepted", "the token is not an access token")
    if not isinstance(header.get("kid"), str):
        return Verdict.reject("jwt_unknown_key", "the token names no key")
    return None


def _access_token_typ(typ: object) -> bool:
    return isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES


async def signed_claims(token: str, header: dict[str, Any], jwks: JwksCache) -> dict[str, Any] | Verdict:
    """The claims, once the signature verifies with the key set's key named by `kid` (a header
    `header_refused` accepted); else the refusal."""
    key = await jwks.key(header["kid"])
    if key is None:
        return Verdict.reject("jwt_unknown_key", "the token is signed by an unknown key")
    claims = _verified_claims(token, key, header["alg"])
    if claims is None:
        return Verdict.reject("jwt_bad_signature", "the token signature does not verify")
    return claims


def times_refused(claims: dict[str, Any], now: float, skew: float) -> Verdict | None:
    """`exp` (required), `nbf` and `iat`: whole seconds, and now within them give or take `skew`."""
    exp, nbf, iat = claims.get("exp"), claims.get("nbf", 0), claims.get("iat", 0)
    if not isinstance(exp, int) or not is_int(exp) or not is_int(nbf) or not is_int(iat):
        return Verdict.reject("jwt_malformed", "the token's time claims are malformed")
    if exp + skew <= now:
        return Verdict.reject("token_expired", "the token has expired")
    if nbf - skew > now or iat - skew > now:
        return Verdict.reject("token_not_yet_valid", "the token is not valid yet")
    return None


def jwt_header(token: str) -> dict[str, Any] | None:
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
