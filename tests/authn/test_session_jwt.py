"""Tokenized sessions (`session_jwt`) against an in-process fake Ory: what is accepted, what
is refused and why, and which Ory calls it takes (the emulator tests run it end to end)."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import RSAKey

from gateway.authn import TenantAuthenticator
from gateway.errors import InvalidToken
from gateway.front.request import RequestView
from gateway.principal import Membership
from tests.authn.fakes import (
    ADMIN_TOKEN,
    KRATOS_ADMIN,
    NOW,
    SESSION_JWKS,
    FakeOry,
    authenticator,
    jwt_claims,
    request,
    session_claims,
    session_key,
)
from tests.support.clock import FakeClock
from tests.support.jwts import b64, hs256, rs256, unsigned

PERSON = "9b7f1c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
MEMBERSHIPS = [{"organization_id": "org-a", "roles": ["member"]}, {"organization_id": "org-b", "roles": ["viewer"]}]
JWKS_ROUTE = "kratos.a.test/.well-known/ory/tokenizer/jwt/jwks.json"
IDENTITY_ROUTE = f"kratos-admin.a.test/admin/identities/{PERSON}"


def bearer(token: str) -> RequestView:
    return request(("authorization", f"Bearer {token}"))


def sessions(ory: FakeOry, clock: FakeClock, **overrides: Any) -> TenantAuthenticator:
    settings = {"session_jwks_url": SESSION_JWKS, "kratos_admin_url": KRATOS_ADMIN, "kratos_admin_token": ADMIN_TOKEN}
    return authenticator(ory, clock, **{**settings, **overrides})


async def refused(auth: TenantAuthenticator, token: str) -> str:
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(token), ["human"])
    return err.value.reason


async def test_a_tokenized_session_with_mapped_memberships_needs_no_ory_call_but_the_keys(
    ory: FakeOry, clock: FakeClock
) -> None:
    auth = sessions(ory, clock)
    claims = session_claims(PERSON, memberships=MEMBERSHIPS, aal="aal2", authenticated_at="2026-01-01T00:00:00Z")
    p = await auth.authenticate(bearer(ory.sign_session(claims)), ["human"])
    assert (p.kind, p.subject, p.session_id, p.aal, p.expires_at) == (
        "human",
        PERSON,
        claims["sid"],
        "aal2",
        claims["exp"],
    )
    assert p.memberships == (Membership("org-a", frozenset({"member"})), Membership("org-b", frozenset({"viewer"})))
    assert p.authenticated_at == 1767225600.0
    second = await auth.authenticate(
        bearer(ory.sign_session(session_claims(PERSON, organization_id="org-c"))), ["human"]
    )
    assert second.organization == "org-c"
    assert dict(ory.calls) == {JWKS_ROUTE: 1}  # the template's keys once; never whoami, never Hydra


async def test_without_mapped_memberships_the_identity_is_read_once_through_the_cache(
    ory: FakeOry, clock: FakeClock
) -> None:
    ory.identities[PERSON] = {
        "id": PERSON,
        "state": "active",
        "schema_id": "default",
        "metadata_public": {"memberships": MEMBERSHIPS},
    }
    auth = sessions(ory, clock)
    for _ in range(3):  # a new token each time, as a client refreshing its short-lived JWT does
        p = await auth.authenticate(bearer(ory.sign_session(session_claims(PERSON))), ["human"])
        assert {m.organization for m in p.memberships or ()} == {"org-a", "org-b"}
    assert ory.calls[IDENTITY_ROUTE] == 1
    assert ory.seen[-1].headers["authorization"] == f"Bearer {ADMIN_TOKEN}"


async def test_an_inactive_or_unknown_identity_is_refused(ory: FakeOry, clock: FakeClock) -> None:
    ory.identities[PERSON] = {"id": PERSON, "state": "inactive", "schema_id": "default"}
    auth = sessions(ory, clock)
    assert await refused(auth, ory.sign_session(session_claims(PERSON))) == "identity_inactive"
    assert await refused(auth, ory.sign_session(session_claims())) == "identity_inactive"  # nobody of that id


async def test_no_memberships_and_no_admin_api_is_a_problem_not_a_guess(ory: FakeOry, clock: FakeClock) -> None:
    auth = sessions(ory, clock, kratos_admin_url=None, kratos_admin_token=None)
    p = await auth.authenticate(bearer(ory.sign_session(session_claims(PERSON))), ["human"])
    assert p.memberships == () and "maps no memberships" in p.memberships_problem


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("alg-none", "jwt_alg_not_allowed"),
        ("hs256-with-the-public-key", "jwt_alg_not_allowed"),
        ("rs256-not-pinned", "jwt_alg_not_allowed"),
        ("another-key-same-kid", "jwt_bad_signature"),
        ("kid-unknown", "jwt_unknown_key"),
        ("kid-missing", "jwt_unknown_key"),
        ("jku", "jwt_forbidden_header"),
        ("jwk-embedded", "jwt_forbidden_header"),
        ("x5u", "jwt_forbidden_header"),
        ("expired", "token_expired"),
        ("not-yet-valid", "token_not_yet_valid"),
        ("wrong-issuer", "wrong_issuer"),
        ("no-sub", "jwt_malformed"),
        ("tampered-claims", "jwt_bad_signature"),
    ],
)
async def test_forged_session_jwts_are_refused(ory: FakeOry, clock: FakeClock, case: str, reason: str) -> None:
    claims = session_claims(PERSON, memberships=MEMBERSHIPS)
    header = {"alg": "ES256", "kid": "s1", "typ": "JWT"}
    public = session_key().as_dict(private=False)
    pem = session_key().as_pem(private=False)
    attacker = RSAKey.generate_key(2048, parameters={"kid": "s1"})
    genuine = ory.sign_session(claims)
    forged = {
        "alg-none": lambda: unsigned({**header, "alg": "none"}, claims),
        "hs256-with-the-public-key": lambda: hs256({**header, "alg": "HS256"}, claims, pem),
        "rs256-not-pinned": lambda: rs256({**header, "alg": "RS256"}, claims, attacker),
        "another-key-same-kid": lambda: ory.sign_session(claims).rsplit(".", 1)[0] + "." + b64(b"x" * 64),
        "kid-unknown": lambda: ory.sign_session(claims, kid="nope"),
        "kid-missing": lambda: unsigned({"alg": "ES256", "typ": "JWT"}, claims) + b64(b"x" * 64),
        "jku": lambda: ory.sign_session(claims, jku="http://attacker.test/keys.json"),
        "jwk-embedded": lambda: ory.sign_session(claims, jwk=public),
        "x5u": lambda: ory.sign_session(claims, x5u="http://attacker.test/cert.pem"),
        "expired": lambda: ory.sign_session({**claims, "exp": int(NOW) - 120}),
        "not-yet-valid": lambda: ory.sign_session({**claims, "nbf": int(NOW) + 120}),
        "wrong-issuer": lambda: ory.sign_session({**claims, "iss": "http://kratos.b.test"}),
        "no-sub": lambda: ory.sign_session({k: v for k, v in claims.items() if k != "sub"}),
        "tampered-claims": lambda: ".".join(
            [genuine.split(".")[0], b64({**claims, "sub": "someone-else"}), genuine.split(".")[2]]
        ),
    }[case]()
    auth = sessions(ory, clock, session_jwt_algorithms=frozenset({"ES256"}))
    assert await refused(auth, forged) == reason
    assert set(ory.calls) <= {JWKS_ROUTE}  # verified locally with the configured keys, or not at all


async def test_a_session_jwt_is_never_sent_to_hydra_nor_a_hydra_jwt_to_the_session_keys(
    ory: FakeOry, clock: FakeClock
) -> None:
    auth = sessions(ory, clock)
    with pytest.raises(InvalidToken) as err:  # a machine route: a session is not a machine credential
        await auth.authenticate(bearer(ory.sign_session(session_claims(PERSON, memberships=[]))), ["machine"])
    assert err.value.reason == "credential_kind_not_accepted"
    machine = await auth.authenticate(bearer(ory.sign(jwt_claims())), ["human", "machine"])
    assert machine.kind == "machine"
    assert JWKS_ROUTE not in ory.calls and "hydra.a.test/.well-known/jwks.json" in ory.calls


async def test_a_tenant_without_session_keys_does_not_take_session_jwts(ory: FakeOry, clock: FakeClock) -> None:
    auth = authenticator(ory, clock)  # no SESSION_JWKS_URL: the token is Hydra's to judge, and it is not one
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(ory.sign_session(session_claims(PERSON))), ["human", "machine"])
    assert err.value.reason == "jwt_alg_not_allowed"  # Hydra's tokens are RS256 here
    assert JWKS_ROUTE not in ory.calls


async def test_identity_schemas_tell_people_of_a_shared_kratos_apart(ory: FakeOry, clock: FakeClock) -> None:
    auth = sessions(ory, clock, identity_schemas=frozenset({"customer"}))
    staff = session_claims(PERSON, memberships=MEMBERSHIPS, schema_id="staff")
    assert await refused(auth, ory.sign_session(staff)) == "identity_schema_not_accepted"
    mine = session_claims(PERSON, memberships=MEMBERSHIPS, schema_id="customer")
    assert (await auth.authenticate(bearer(ory.sign_session(mine)), ["human"])).subject == PERSON
    ory.identities[PERSON] = {"id": PERSON, "state": "active", "schema_id": "staff", "metadata_public": None}
    unmapped = session_claims(PERSON, memberships=MEMBERSHIPS)  # no schema claim: the identity says
    assert await refused(auth, ory.sign_session(unmapped)) == "identity_schema_not_accepted"
