"""Attack class "Tokens" against tokenized sessions (credential source `session_jwt`), through
the security gateway to the recording upstream.

Forgeries are built from a genuine session JWT of alice (the customer project's tokenizer
template `jwt`, ES256, verified with its published keys): the genuine one reaches the upstream
as alice, which is the positive control for every forgery. Each forgery is 401 and nothing is
forwarded; none makes the gateway fetch anything but the customer template's keys.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey, import_key

from tests.security.support import ALICE, Case, Expect, Sec, check_case
from tests.support.jwts import b64, hs256, parts, rs256, unsigned

TARGET = "/customer/echo/jwt"
OK = Expect("/echo/jwt", identity=ALICE)


def tokenized(sec: Sec, user: str = "alice") -> str:
    """A fresh session JWT (Kratos' `whoami?tokenize_as=jwt`) for one of the seed's people."""
    answer = httpx.get(
        f"{sec.world.emulator.base_url}/customer/sessions/whoami",
        params={"tokenize_as": "jwt"},
        headers={"X-Session-Token": sec.token(user)},
    )
    answer.raise_for_status()
    return str(answer.json()["tokenized"])


def es256(header: dict[str, Any], claims: dict[str, Any], key: ECKey) -> str:
    """Signed with `key`, whatever the header says (raw r||s, as JWS wants it)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing = f"{b64(header)}.{b64(claims)}"
    private = key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(private.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
    return signing + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@pytest.fixture(scope="module")
def genuine(sec: Sec) -> str:
    return tokenized(sec)


@pytest.fixture(scope="module")
def forged(sec: Sec, genuine: str) -> dict[str, str]:
    header, claims = parts(genuine)
    emu = sec.world.emulator.base_url
    jwks = httpx.get(f"{emu}/customer/.well-known/ory/tokenizer/jwt/jwks.json").json()["keys"]
    public = import_key(next(k for k in jwks if k["kid"] == header["kid"]))
    assert isinstance(public, ECKey)
    pem = public.as_pem(private=False)
    attacker_ec = ECKey.generate_key("P-256", parameters={"kid": header["kid"]})
    attacker_rsa = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    richer = {**claims, "memberships": [{"organization_id": "org-globex", "roles": ["member"]}], "aal": "aal2"}
    head, body, sig = genuine.split(".")
    return {
        "alg-none": unsigned({**header, "alg": "none"}, richer),
        "alg-none-no-signature": unsigned({**header, "alg": "none"}, richer).rstrip("."),
        "alg-missing": unsigned({k: v for k, v in header.items() if k != "alg"}, richer),
        "hs256-with-the-public-key": hs256({**header, "alg": "HS256"}, richer, pem),
        "rs256-attacker-key-real-kid": rs256({**header, "alg": "RS256"}, richer, attacker_rsa),
        "es256-attacker-key-real-kid": es256(header, richer, attacker_ec),
        "jku-attacker-keys": es256({**header, "jku": f"{emu}/admin/.well-known/jwks.json"}, richer, attacker_ec),
        "x5u-attacker-keys": es256({**header, "x5u": "http://127.0.0.1:1/keys.pem"}, richer, attacker_ec),
        "jwk-embedded": es256({**header, "jwk": attacker_ec.as_dict(private=False)}, richer, attacker_ec),
        "x5c-embedded": es256({**header, "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"]}, richer, attacker_ec),
        "crit-header": es256({**header, "crit": ["exp"]}, richer, attacker_ec),
        "kid-missing": es256({k: v for k, v in header.items() if k != "kid"}, richer, attacker_ec),
        "kid-unknown": es256({**header, "kid": "no-such-key"}, richer, attacker_ec),
        "kid-path-traversal": es256({**header, "kid": "../../../../dev/null"}, richer, attacker_ec),
        "tampered-claims": f"{head}.{b64(richer)}.{sig}",
        "tampered-header": f"{b64({**header, 'typ': 'at+jwt'})}.{body}.{sig}",
        "signature-stripped": f"{head}.{body}.",
        "signature-garbage": f"{head}.{body}.{'A' * len(sig)}",
        "hydra-shaped": es256(header, {**richer, "client_id": "partner"}, attacker_ec),
    }


FORGERIES = [
    "alg-none",
    "alg-none-no-signature",
    "alg-missing",
    "hs256-with-the-public-key",
    "rs256-attacker-key-real-kid",
    "es256-attacker-key-real-kid",
    "jku-attacker-keys",
    "x5u-attacker-keys",
    "jwk-embedded",
    "x5c-embedded",
    "crit-header",
    "kid-missing",
    "kid-unknown",
    "kid-path-traversal",
    "tampered-claims",
    "tampered-header",
    "signature-stripped",
    "signature-garbage",
    "hydra-shaped",
]


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def test_genuine_session_jwt_is_the_positive_control(sec: Sec, genuine: str) -> None:
    check_case(sec, Case("genuine", "GET", TARGET, headers=bearer(genuine), expect=OK))


@pytest.mark.parametrize("name", FORGERIES)
def test_forged_session_jwt_is_401_and_nothing_forwarded(sec: Sec, forged: dict[str, str], name: str) -> None:
    before = _key_fetches(sec)
    check_case(sec, Case(name, "GET", TARGET, headers=bearer(forged[name]), status=(400, 401)))
    after = _key_fetches(sec)
    fetched = {key for key, count in after.items() if count != before.get(key, 0)}
    assert fetched <= {"customer:tokenizer_jwks"}, f"an outbound fetch was decided by the token: {fetched}"


def _key_fetches(sec: Sec) -> dict[str, int]:
    """How often the emulator has served each key set (`project:operation`)."""
    stats = sec.world.emulator.control("GET", "stats").json()["projects"]
    return {f"{p}:{op}": int(ops.get(op, 0)) for p, ops in stats.items() for op in ("jwks", "tokenizer_jwks")}


@pytest.fixture
def clock(sec: Sec) -> Iterator[None]:
    yield
    sec.world.emulator.control("DELETE", "clock").raise_for_status()


@pytest.mark.parametrize(("moved", "why"), [(-3600, "expired"), (3600, "not yet valid")])
def test_a_genuine_session_jwt_out_of_its_time_is_refused(sec: Sec, clock: None, moved: int, why: str) -> None:
    sec.world.emulator.control("POST", "clock", {"advance": moved}).raise_for_status()
    token = tokenized(sec)
    sec.world.emulator.control("DELETE", "clock").raise_for_status()
    _, claims = parts(token)
    assert (claims["exp"] < time.time() - 60) if moved < 0 else (claims["nbf"] > time.time() + 60)
    check_case(sec, Case(why, "GET", TARGET, headers=bearer(token), status=401))


def test_another_tenants_genuine_session_jwt_is_refused(sec: Sec, genuine: str) -> None:
    """The admin tenant trusts the customer template's keys here (a misconfiguration): the
    signature verifies, the issuer (the customer project's Kratos) is not admin's."""
    check_case(sec, Case("wrong-issuer", "GET", "/admin/echo/jwt", headers=bearer(genuine), status=401))
    check_case(sec, Case("no-session-keys", "GET", "/dealer/echo/jwt", headers=bearer(genuine), status=401))
