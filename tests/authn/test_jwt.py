"""Local JWT verification: the token attacks of docs/security.md, against an in-process fake JWKS."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from gateway.errors import InvalidToken
from tests.authn.fakes import NOW, FakeOry, authenticator, jwt_claims, request
from tests.support.clock import FakeClock
from tests.support.jwts import hs256, rs256, unsigned

JWKS = "hydra.a.test/.well-known/jwks.json"
INTROSPECT = "hydra-admin.a.test/admin/oauth2/introspect"


def bearer(token: str):  # type: ignore[no-untyped-def]
    return request(("authorization", f"Bearer {token}"))


async def rejected(ory: FakeOry, clock: FakeClock, token: str, **settings: Any) -> str:
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock, **settings).authenticate(bearer(token), ["machine"])
    assert INTROSPECT not in ory.calls
    return err.value.reason


async def test_valid_jwt(ory: FakeOry, clock: FakeClock) -> None:
    token = ory.sign(jwt_claims("svc", ext={"organization_id": "org-j"}, scp=["a", "b"]))
    p = await authenticator(ory, clock).authenticate(bearer(token), ["machine"])
    assert (p.kind, p.client_id, p.organization, p.scopes) == (
        "machine",
        "svc",
        "org-j",
        frozenset({"a", "b"}),
    )
    assert ory.calls[JWKS] == 1 and INTROSPECT not in ory.calls


async def test_scope_string_claim(ory: FakeOry, clock: FakeClock) -> None:
    claims = jwt_claims(scope="x y")
    del claims["scp"]
    p = await authenticator(ory, clock).authenticate(bearer(ory.sign(claims)), ["machine"])
    assert p.scopes == frozenset({"x", "y"})


async def test_alg_none(ory: FakeOry, clock: FakeClock) -> None:
    token = unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, jwt_claims())
    assert await rejected(ory, clock, token) == "jwt_alg_not_allowed"
    assert JWKS not in ory.calls


async def test_hs256_with_the_rsa_public_key(ory: FakeOry, clock: FakeClock) -> None:
    pem = ory.key.as_pem(private=False)
    token = hs256({"alg": "HS256", "typ": "JWT", "kid": "k1"}, jwt_claims(), pem)
    assert await rejected(ory, clock, token) == "jwt_alg_not_allowed"


async def test_hs256_even_if_configured_cannot_use_rsa_key(ory: FakeOry, clock: FakeClock) -> None:
    pem = ory.key.as_pem(private=False)
    token = hs256({"alg": "HS256", "typ": "JWT", "kid": "k1"}, jwt_claims(), pem)
    reason = await rejected(ory, clock, token, jwt_algorithms=frozenset({"RS256", "HS256"}))
    assert reason == "jwt_bad_signature"


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c", "crit"])
async def test_forbidden_headers(ory: FakeOry, clock: FakeClock, name: str) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    value: Any = {
        "jku": "http://evil.test/jwks.json",
        "x5u": "http://evil.test/cert.pem",
        "jwk": attacker.as_dict(private=False),
        "x5c": ["MIIB"],
        "crit": ["exp"],
    }[name]
    header = {"alg": "RS256", "kid": "k1", "typ": "JWT", name: value}
    token = rs256(header, jwt_claims(), ory.key if name == "crit" else attacker)
    assert await rejected(ory, clock, token) == "jwt_forbidden_header"
    assert all("evil" not in str(r.url) for r in ory.seen)


async def test_attacker_key_with_known_kid(ory: FakeOry, clock: FakeClock) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    token = jose_jwt.encode({"alg": "RS256", "kid": "k1", "typ": "JWT"}, jwt_claims(), attacker)
    assert await rejected(ory, clock, token) == "jwt_bad_signature"


@pytest.mark.parametrize(
    "claims",
    [
        {"nonce": "n"},
        {"at_hash": "h"},
        {"auth_time": int(NOW)},
        {"client_id": None},
    ],
)
async def test_id_token_shapes(ory: FakeOry, clock: FakeClock, claims: dict[str, Any]) -> None:
    c = jwt_claims(**claims)
    c = {k: v for k, v in c.items() if v is not None}
    assert await rejected(ory, clock, ory.sign(c)) == "id_token_not_accepted"


async def test_wrong_typ(ory: FakeOry, clock: FakeClock) -> None:
    assert await rejected(ory, clock, ory.sign(jwt_claims(), typ="id_token+jwt")) == "id_token_not_accepted"


async def test_at_jwt_typ_ok(ory: FakeOry, clock: FakeClock) -> None:
    p = await authenticator(ory, clock).authenticate(bearer(ory.sign(jwt_claims(), typ="at+jwt")), ["machine"])
    assert p.kind == "machine"


@pytest.mark.parametrize("iss", ["http://other.test/", "http://hydra.a.test//", "http://HYDRA.a.test/", ""])
async def test_wrong_issuer(ory: FakeOry, clock: FakeClock, iss: str) -> None:
    assert await rejected(ory, clock, ory.sign(jwt_claims(iss=iss))) == "wrong_issuer"


async def test_issuer_without_trailing_slash(ory: FakeOry, clock: FakeClock) -> None:
    p = await authenticator(ory, clock).authenticate(
        bearer(ory.sign(jwt_claims(iss="http://hydra.a.test"))), ["machine"]
    )
    assert p.kind == "machine"


async def test_wrong_audience(ory: FakeOry, clock: FakeClock) -> None:
    token = ory.sign(jwt_claims(aud=["other"]))
    assert await rejected(ory, clock, token, jwt_audience="gw") == "wrong_audience"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(NOW - 31)}, "token_expired"),
        ({"nbf": int(NOW + 31)}, "token_not_yet_valid"),
        ({"iat": int(NOW + 31)}, "token_not_yet_valid"),
        ({"iat": "now"}, "jwt_malformed"),
    ],
)
async def test_times(ory: FakeOry, clock: FakeClock, claims: dict[str, Any], reason: str) -> None:
    assert await rejected(ory, clock, ory.sign(jwt_claims(**claims))) == reason


async def test_skew_tolerated(ory: FakeOry, clock: FakeClock) -> None:
    token = ory.sign(jwt_claims(exp=NOW - 10, nbf=int(NOW + 10)))
    assert (await authenticator(ory, clock).authenticate(bearer(token), ["machine"])).kind == "machine"


async def test_unknown_kid_refetch_is_rate_limited(ory: FakeOry, clock: FakeClock) -> None:
    auth = authenticator(ory, clock)
    await auth.authenticate(bearer(ory.sign(jwt_claims())), ["machine"])
    for i in range(5):
        with pytest.raises(InvalidToken) as err:
            await auth.authenticate(bearer(ory.sign(jwt_claims(jti=str(i)), kid="rotated")), ["machine"])
        assert err.value.reason == "jwt_unknown_key"
    assert ory.calls[JWKS] == 1
    ory.key = RSAKey.generate_key(2048, parameters={"kid": "rotated"})
    clock.advance(31)
    p = await auth.authenticate(bearer(ory.sign(jwt_claims(jti="new"), kid="rotated")), ["machine"])
    assert p.kind == "machine" and ory.calls[JWKS] == 2


async def test_jwks_single_flight(ory: FakeOry, clock: FakeClock) -> None:
    auth = authenticator(ory, clock)
    tokens = [ory.sign(jwt_claims(jti=str(i))) for i in range(20)]
    await asyncio.gather(*(auth.authenticate(bearer(t), ["machine"]) for t in tokens))
    assert ory.calls[JWKS] == 1


async def test_token_format_introspect_sends_jwt_to_hydra(ory: FakeOry, clock: FakeClock) -> None:
    token = ory.sign(jwt_claims())
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock, token_format="introspect").authenticate(bearer(token), ["machine"])
    assert err.value.reason == "token_inactive" and ory.calls[INTROSPECT] == 1 and JWKS not in ory.calls


async def test_malformed_header(ory: FakeOry, clock: FakeClock) -> None:
    assert await rejected(ory, clock, "bm90anNvbg.e30.sig") == "jwt_malformed"
