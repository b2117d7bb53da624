"""JWT attacks (docs/security.md, class Tokens) against real emulator-issued tokens and JWKS."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey, import_key

from gateway.authn import TenantAuthenticator
from gateway.config.settings import Settings
from gateway.errors import InvalidToken
from tests.authn.emulated import bearer, calls, client_token, make
from tests.support.clock import OffsetClock
from tests.support.emulator import RunningEmulator
from tests.support.jwts import b64, hs256, rs256, unsigned

Env = tuple[RunningEmulator, Settings, httpx.AsyncClient, OffsetClock]


@pytest.fixture
def env(emu: RunningEmulator, settings: Settings, http: httpx.AsyncClient, wall: OffsetClock) -> Env:
    return emu, settings, http, wall


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    return _decode(head), _decode(body)


def _decode(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


async def real_jwt(env: Env, audience: str = "") -> str:
    emu, _, http, _ = env
    return await client_token(http, emu.project_url("alpha"), "alpha-jwt", "alpha-secret-2", "jobs:read", audience)


async def refused(env: Env, token: str, auth: TenantAuthenticator | None = None) -> str:
    emu, settings, http, wall = env
    auth = auth or make(settings.tenants["alpha"], http, wall)
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(token), ["machine", "human"])
    assert err.value.status == 401 and 'error="invalid_token"' in err.value.headers()["www-authenticate"]
    assert calls(emu, "alpha", "introspect") == 0 and calls(emu, "alpha", "whoami") == 0
    return err.value.reason


async def test_alg_none(env: Env) -> None:
    header, claims = parts(await real_jwt(env))
    assert await refused(env, unsigned({**header, "alg": "none"}, claims)) == "jwt_alg_not_allowed"
    assert calls(env[0], "alpha", "jwks") == 0


async def test_hs256_signed_with_the_rsa_public_key(env: Env) -> None:
    emu, _, http, _ = env
    header, claims = parts(await real_jwt(env))
    jwks = (await http.get(f"{emu.project_url('alpha')}/.well-known/jwks.json")).json()["keys"]
    public = import_key(next(k for k in jwks if k["kid"] == header["kid"]))
    assert isinstance(public, RSAKey)
    pem = public.as_pem(private=False)
    forged = hs256({**header, "alg": "HS256"}, {**claims, "scp": ["admin"]}, pem)
    assert await refused(env, forged) == "jwt_alg_not_allowed"


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c"])
async def test_key_from_the_token_is_never_used(env: Env, name: str) -> None:
    emu = env[0]
    header, claims = parts(await real_jwt(env))
    attacker = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    value = {
        "jku": f"{emu.project_url('beta')}/.well-known/jwks.json",
        "x5u": f"{emu.project_url('beta')}/.well-known/jwks.json",
        "jwk": attacker.as_dict(private=False),
        "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
    }[name]
    forged = rs256({**header, name: value}, {**claims, "scp": ["admin"]}, attacker)
    assert await refused(env, forged) == "jwt_forbidden_header"
    assert calls(emu, "beta", "jwks") == 0  # no fetch decided by the token


async def test_attacker_key_with_the_real_kid(env: Env) -> None:
    header, claims = parts(await real_jwt(env))
    attacker = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    assert await refused(env, rs256(header, claims, attacker)) == "jwt_bad_signature"


async def test_tampered_claims(env: Env) -> None:
    token = await real_jwt(env)
    head, _, sig = token.split(".")
    _, claims = parts(token)
    forged = f"{head}.{b64({**claims, 'scp': ['admin'], 'client_id': 'alpha-svc'})}.{sig}"
    assert await refused(env, forged) == "jwt_bad_signature"


async def test_id_token_shaped(env: Env) -> None:
    header, claims = parts(await real_jwt(env))
    id_claims = {k: v for k, v in claims.items() if k not in ("client_id", "scp", "ext")}
    id_claims.update(nonce="n-1", at_hash="abc", auth_time=claims["iat"], aud=["alpha-jwt"])
    attacker = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    # The signature is checked before the claims, so a token we cannot sign with Hydra's key stops there;
    # the unit tests (test_authn_jwt_unit.py) verify the ID-token checks with a valid signature.
    assert await refused(env, rs256(header, id_claims, attacker)) in (
        "jwt_bad_signature",
        "id_token_not_accepted",
    )
    assert await refused(env, rs256({**header, "typ": "id_token+jwt"}, id_claims, attacker)) == "id_token_not_accepted"


async def test_wrong_issuer(env: Env) -> None:
    emu, settings, http, wall = env
    token = await real_jwt(env)
    auth = make(replace(settings.tenants["alpha"], hydra_issuer=emu.project_url("beta")), http, wall)
    assert await refused(env, token, auth) == "wrong_issuer"


async def test_wrong_audience(env: Env) -> None:
    _, settings, http, wall = env
    token = await real_jwt(env)  # aud: []
    auth = make(settings.tenants["alpha"], http, wall, jwt_audience="gw-alpha")
    assert await refused(env, token, auth) == "wrong_audience"


async def test_expired_beyond_skew(env: Env) -> None:
    _, settings, http, wall = env
    token = await real_jwt(env)
    _, claims = parts(token)
    auth = make(settings.tenants["alpha"], http, wall)
    wall.advance(claims["exp"] - wall() + 10)  # 10 s past exp: inside the 30 s skew
    assert (await auth.authenticate(bearer(token), ["machine"])).client_id == "alpha-jwt"
    wall.advance(25)
    assert await refused(env, token, make(settings.tenants["alpha"], http, wall)) == "token_expired"
