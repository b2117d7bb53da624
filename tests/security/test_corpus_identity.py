"""Attack classes "Tokens", "Cross-tenant", "Cache" and "Fail-open", through the
gateway to the recording upstream.

Forged JWTs are built from a real token of the dealer tenant's Hydra (client
`partner-jwt`, verified locally against the tenant's JWKS); the shipped gateway
accepts the genuine token on `GET /dealer/partner-api/inventory`, which is the
positive control for every forgery.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey, import_key

from tests.security.support import ALICE, CAROL, Case, Expect, Sec, browser_cookie, check_case, ids, run_case
from tests.support.jwts import b64, hs256, parts, rs256, unsigned

INVENTORY = "/dealer/partner-api/inventory"
JWT_OK = Expect(
    "/partner-api/inventory",
    identity={
        "x-tenant": "dealer",
        "x-principal-kind": "machine",
        "x-client-id": "partner-jwt",
        "x-org-id": "org-partner",
    },
)


@pytest.fixture(scope="module")
def jwt(sec: Sec) -> str:
    return sec.token("partner-jwt:inventory:read")


@pytest.fixture(scope="module")
def forged(sec: Sec, jwt: str) -> dict[str, str]:
    """Every forgery of the genuine token, by case id."""
    header, claims = parts(jwt)
    emu = sec.world.emulator.base_url
    jwks = httpx.get(f"{emu}/dealer/.well-known/jwks.json").json()["keys"]
    public = import_key(next(k for k in jwks if k["kid"] == header["kid"]))
    assert isinstance(public, RSAKey)
    attacker = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    richer = {**claims, "scp": ["inventory:read", "jobs:write", "admin"], "ext": {"organization_id": "org-acme"}}
    head, body, sig = jwt.split(".")
    id_claims = {k: v for k, v in claims.items() if k not in ("client_id", "scp", "ext")}
    id_claims.update(nonce="n-1", at_hash="abc", auth_time=claims["iat"], aud=["partner-jwt"])
    return {
        "alg-none": unsigned({**header, "alg": "none"}, richer),
        "alg-none-upper": unsigned({**header, "alg": "NONE"}, richer),
        "alg-none-no-signature": unsigned({**header, "alg": "none"}, richer).rstrip("."),
        "alg-missing": unsigned({k: v for k, v in header.items() if k != "alg"}, richer),
        "hs256-with-rsa-public-key": hs256({**header, "alg": "HS256"}, richer, public.as_pem(private=False)),
        "hs512-header-with-rsa-public-key": hs256({**header, "alg": "HS512"}, richer, public.as_pem(private=False)),
        "jku-attacker-keys": rs256({**header, "jku": f"{emu}/customer/.well-known/jwks.json"}, richer, attacker),
        "x5u-attacker-keys": rs256({**header, "x5u": "http://127.0.0.1:1/keys.pem"}, richer, attacker),
        "jwk-embedded": rs256({**header, "jwk": attacker.as_dict(private=False)}, richer, attacker),
        "x5c-embedded": rs256({**header, "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}, richer, attacker),
        "crit-header": rs256({**header, "crit": ["exp"]}, richer, attacker),
        "attacker-key-real-kid": rs256(header, richer, attacker),
        "kid-missing": rs256({k: v for k, v in header.items() if k != "kid"}, richer, attacker),
        "kid-unknown": rs256({**header, "kid": "no-such-key"}, richer, attacker),
        "kid-path-traversal": rs256({**header, "kid": "../../../../dev/null"}, richer, attacker),
        "tampered-claims": f"{head}.{b64(richer)}.{sig}",
        "tampered-header": f"{b64({**header, 'typ': 'at+jwt'})}.{body}.{sig}",
        "signature-stripped": f"{head}.{body}.",
        "signature-garbage": f"{head}.{body}.{'A' * len(sig)}",
        "id-token-typ": rs256({**header, "typ": "id_token+jwt"}, id_claims, attacker),
        "id-token-claims": rs256(header, id_claims, attacker),
        "not-base64-header": f"!!!.{body}.{sig}",
        "header-not-json": f"{b64(b'not json')}.{body}.{sig}",
        "header-json-array": f"{b64(b'[1,2]')}.{body}.{sig}",
    }


FORGERIES = [
    "alg-none",
    "alg-none-upper",
    "alg-none-no-signature",
    "alg-missing",
    "hs256-with-rsa-public-key",
    "hs512-header-with-rsa-public-key",
    "jku-attacker-keys",
    "x5u-attacker-keys",
    "jwk-embedded",
    "x5c-embedded",
    "crit-header",
    "attacker-key-real-kid",
    "kid-missing",
    "kid-unknown",
    "kid-path-traversal",
    "tampered-claims",
    "tampered-header",
    "signature-stripped",
    "signature-garbage",
    "id-token-typ",
    "id-token-claims",
    "not-base64-header",
    "header-not-json",
    "header-json-array",
]


def test_genuine_jwt_is_the_positive_control(sec: Sec, jwt: str) -> None:
    check_case(
        sec,
        Case("genuine", "GET", INVENTORY, gateway="world", headers=[("Authorization", f"Bearer {jwt}")], expect=JWT_OK),
    )


@pytest.mark.parametrize("name", FORGERIES)
def test_forged_jwt_is_401_and_nothing_forwarded(sec: Sec, forged: dict[str, str], name: str) -> None:
    before = _jwks_fetches(sec)
    case = Case(
        name,
        "GET",
        INVENTORY,
        gateway="world",
        headers=[("Authorization", f"Bearer {forged[name]}")],
        status=(400, 401),
    )
    check_case(sec, case)
    # the jku/x5u in a token never make the gateway fetch anything (only its own tenant's JWKS, if at all)
    assert _jwks_fetches(sec)[1:] == before[1:], "an outbound fetch was decided by the token"


def _jwks_fetches(sec: Sec) -> tuple[int, int, int]:
    """JWKS fetches per project (dealer, customer, admin) as the emulator counted them."""
    stats = sec.world.emulator.control("GET", "stats").json()["projects"]
    dealer, customer, admin = (int(stats.get(p, {}).get("jwks", 0)) for p in ("dealer", "customer", "admin"))
    return dealer, customer, admin


def test_wrong_audience(sec: Sec) -> None:
    """The security gateway pins GATEWAY_TENANT_CUSTOMER_JWT_AUDIENCE=gw-customer; the token has none."""
    check_case(sec, Case("wrong-audience", "GET", "/customer/echo/x", who="customer-gateway:jobs:read", status=401))


def test_wrong_issuer(sec: Sec) -> None:
    """The security gateway expects the admin tenant's tokens from another issuer."""
    token = sec.token("admin-ops:platform:admin")
    check_case(
        sec, Case("wrong-issuer", "GET", "/admin/echo/x", headers=[("Authorization", f"Bearer {token}")], status=401)
    )


def test_expired_token(sec: Sec) -> None:
    emulator = sec.world.emulator
    emulator.control("POST", "clock", {"advance": -3 * 3600}).raise_for_status()
    try:
        token = sec.world.machine_token("partner-jwt", "inventory:read")
    finally:
        emulator.control("DELETE", "clock").raise_for_status()
    _, claims = parts(token)
    assert claims["exp"] < time.time() - 60
    check_case(
        sec,
        Case("expired", "GET", INVENTORY, gateway="world", headers=[("Authorization", f"Bearer {token}")], status=401),
    )


BEARER_SHAPES = [
    Case("bearer-empty", "GET", "/customer/echo/t", headers=[("Authorization", "Bearer ")], status=401),
    Case("bearer-two-tokens", "GET", "/customer/echo/t", headers=[("Authorization", "Bearer a b")], status=401),
    Case("bearer-garbage", "GET", "/customer/echo/t", headers=[("Authorization", "Bearer %%%")], status=401),
    Case(
        "bearer-unknown-opaque",
        "GET",
        "/customer/echo/t",
        headers=[("Authorization", "Bearer ory_st_nope")],
        status=401,
    ),
    Case("bearer-unknown-at", "GET", "/customer/echo/t", headers=[("Authorization", "Bearer ory_at_nope")], status=401),
    Case(
        "basic-scheme",
        "GET",
        "/customer/echo/t",
        headers=[("Authorization", "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=")],
        status=401,
    ),
    Case(
        "session-token-header-unknown",
        "GET",
        "/customer/echo/t",
        headers=[("X-Session-Token", "ory_st_nope")],
        status=401,
    ),
]


@pytest.mark.parametrize("case", BEARER_SHAPES, ids=ids(BEARER_SHAPES))
def test_bearer_shapes(sec: Sec, case: Case) -> None:
    check_case(sec, case)


# --- cross-tenant ----------------------------------------------------------------------

CROSS_TENANT = [
    Case("customer-session-on-dealer-route", "GET", "/dealer/echo/x", who="alice", status=401),
    Case(
        "customer-session-on-admin-route",
        "GET",
        "/admin/customers/11111111-1111-4111-8111-111111111111",
        who="alice",
        status=401,
    ),
    Case("customer-session-on-dealer-host", "GET", "/echo/x", who="alice", host="dealer.example", status=401),
    Case("dealer-session-on-customer-route", "GET", "/customer/echo/x", who="dave", status=401),
    Case("dealer-session-on-customer-host", "GET", "/echo/x", who="dave", host="customer.example", status=401),
    Case("admin-session-on-customer-route", "GET", "/customer/echo/x", who="sam", status=401),
    Case(
        "dealer-opaque-token-on-customer", "GET", "/customer/echo/x", who="partner-inventory:inventory:read", status=401
    ),
    Case("dealer-jwt-on-customer", "GET", "/customer/echo/x", who="partner-jwt:inventory:read", status=401),
    Case("customer-machine-on-dealer", "GET", "/dealer/echo/x", who="customer-gateway:jobs:read", status=401),
    Case(
        "customer-machine-on-dealer-partner-api",
        "GET",
        INVENTORY,
        who="customer-gateway:jobs:read",
        status=401,
        gateway="world",
    ),
    Case("admin-machine-on-customer", "GET", "/customer/echo/x", who="admin-ops:platform:admin", status=401),
    Case(
        "own-tenant-session-control", "GET", "/customer/echo/x", who="alice", expect=Expect("/echo/x", identity=ALICE)
    ),
]


@pytest.mark.parametrize("case", CROSS_TENANT, ids=ids(CROSS_TENANT))
def test_cross_tenant(sec: Sec, case: Case) -> None:
    check_case(sec, case)


@pytest.fixture(scope="module")
def cookies(sec: Sec) -> dict[str, tuple[str, str]]:
    """Browser sessions (cookie name, value) for alice, bob (customer) and dave (dealer)."""
    emu = sec.world.emulator.base_url
    return {
        "alice": browser_cookie(emu, "customer", "alice@acme.example", "alice-password"),
        "bob": browser_cookie(emu, "customer", "bob@globex.example", "bob-password"),
        "dave": browser_cookie(emu, "dealer", "dave@dealer.example", "dave-password"),
    }


def _cookie_case(
    sec: Sec,
    cookies: dict[str, tuple[str, str]],
    case_id: str,
    target: str,
    cookie: str,
    status: int,
    expect: Expect | None = None,
) -> None:
    check_case(
        sec, Case(case_id, "GET", target, headers=[("Cookie", cookie)], status=status, expect=expect or Expect())
    )


def test_cookie_control(sec: Sec, cookies: dict[str, tuple[str, str]]) -> None:
    name, value = cookies["alice"]
    _cookie_case(
        sec, cookies, "alice-cookie", "/customer/echo/c", f"{name}={value}", 200, Expect("/echo/c", identity=ALICE)
    )


def test_two_session_cookies_are_refused(sec: Sec, cookies: dict[str, tuple[str, str]]) -> None:
    (name, alice), (_, bob) = cookies["alice"], cookies["bob"]
    _cookie_case(sec, cookies, "two-cookies", "/customer/echo/c", f"{name}={alice}; {name}={bob}", 401)


def test_two_cookie_headers_are_refused(sec: Sec, cookies: dict[str, tuple[str, str]]) -> None:
    (name, alice), (_, bob) = cookies["alice"], cookies["bob"]
    data = [("Cookie", f"{name}={alice}"), ("Cookie", f"{name}={bob}")]
    check_case(sec, Case("two-cookie-headers", "GET", "/customer/echo/c", headers=data, status=401))


def test_other_tenants_cookie_is_not_a_credential(sec: Sec, cookies: dict[str, tuple[str, str]]) -> None:
    name, dave = cookies["dave"]
    _cookie_case(sec, cookies, "dealer-cookie-on-customer", "/customer/echo/c", f"{name}={dave}", 401)


def test_customer_cookie_value_under_dealer_name(sec: Sec, cookies: dict[str, tuple[str, str]]) -> None:
    (_, alice), (dealer_name, _) = cookies["alice"], cookies["dave"]
    _cookie_case(sec, cookies, "customer-value-dealer-name", "/dealer/echo/c", f"{dealer_name}={alice}", 401)


# --- cache -----------------------------------------------------------------------------


def test_read_token_replayed_on_write_route_is_403(sec: Sec) -> None:
    """The decision cache holds who the caller is, never what a route allowed: a token
    primed on a read route is checked again, per route, on the write route."""
    for _ in range(2):
        check_case(
            sec, Case("carol-read", "GET", "/customer/echo/r", who="carol", expect=Expect("/echo/r", identity=CAROL))
        )
        check_case(sec, Case("carol-write", "POST", "/customer/write/r", who="carol", body=b"{}", status=403))
    machine, identity = (
        "dealer-gateway:inventory:read jobs:read",
        {"x-client-id": "dealer-gateway", "x-principal-kind": "machine"},
    )
    for _ in range(2):
        check_case(
            sec, Case("machine-read", "GET", "/dealer/echo/r", who=machine, expect=Expect("/echo/r", identity=identity))
        )
        check_case(sec, Case("machine-write", "POST", "/dealer/write/r", who=machine, body=b"{}", status=403))


def test_revoked_session_is_refused_within_the_cache_ttl(sec: Sec) -> None:
    """GATEWAY_CACHE_MAX_TTL is 2 s on the security gateway: a revoked session may be
    accepted for at most that long, then it is 401 and nothing is forwarded."""
    token = sec.world.session("alice")
    auth = [("Authorization", f"Bearer {token}")]
    check_case(sec, Case("before", "GET", "/customer/echo/v", headers=auth, expect=Expect("/echo/v", identity=ALICE)))
    emu = sec.world.emulator.base_url
    httpx.request("DELETE", f"{emu}/customer/self-service/logout/api", json={"session_token": token}).raise_for_status()
    revoked = time.monotonic()
    time.sleep(2.3)
    check_case(sec, Case("after-ttl", "GET", "/customer/echo/v", headers=auth, status=401))
    assert time.monotonic() - revoked < 5


# --- fail-open -------------------------------------------------------------------------

FAULTS = [
    ("whoami-slow", "customer", "whoami", {"mode": "delay", "seconds": 3}, 503),
    ("whoami-500", "customer", "whoami", {"mode": "status", "status": 500}, 503),
    ("whoami-502", "customer", "whoami", {"mode": "status", "status": 502}, 503),
    ("whoami-503", "customer", "whoami", {"mode": "status", "status": 503}, 503),
    ("whoami-429", "customer", "whoami", {"mode": "status", "status": 429}, 429),
    ("whoami-garbage", "customer", "whoami", {"mode": "garbage"}, 503),
    ("whoami-drop", "customer", "whoami", {"mode": "drop"}, 503),
    ("introspect-500", "dealer", "introspect", {"mode": "status", "status": 500}, 503),
    ("introspect-429", "dealer", "introspect", {"mode": "status", "status": 429}, 429),
    ("introspect-garbage", "dealer", "introspect", {"mode": "garbage"}, 503),
    ("introspect-drop", "dealer", "introspect", {"mode": "drop"}, 503),
    ("introspect-slow", "dealer", "introspect", {"mode": "delay", "seconds": 3}, 503),
]


@pytest.fixture
def faults(sec: Sec) -> Iterator[None]:
    yield
    sec.world.emulator.control("DELETE", "faults").raise_for_status()


@pytest.mark.parametrize("case", FAULTS, ids=[f[0] for f in FAULTS])
def test_ory_outage_fails_closed(sec: Sec, faults: None, case: tuple[str, str, str, dict[str, Any], int]) -> None:
    case_id, project, operation, fault, status = case
    world = sec.world
    if project == "customer":  # a fresh credential each time: nothing cached
        token, target, ok = world.session("alice"), "/customer/echo/f", Expect("/echo/f", identity=ALICE)
    else:
        token = world.machine_token("partner-inventory", "inventory:read")
        machine = {"x-client-id": "partner-inventory", "x-principal-kind": "machine", "x-org-id": "org-partner"}
        target, ok = "/dealer/echo/f", Expect("/echo/f", identity=machine)
    auth = [("Authorization", f"Bearer {token}")]
    world.emulator.control("POST", "faults", {**fault, "project": project, "operation": operation}).raise_for_status()
    case_ = Case(case_id, "GET", target, headers=auth, status=status)
    response, seen = run_case(sec, case_)
    assert response.status == status, (case_id, response.status, response.body[:300])
    assert response.header("retry-after") is not None and int(response.header("retry-after") or "0") >= 1
    assert seen == [], f"{case_id}: forwarded during an outage"
    assert b"invalid_token" not in response.body
    # the outage is not remembered as a rejection: once Ory is back the same credential works
    world.emulator.control("DELETE", "faults").raise_for_status()
    check_case(sec, Case(case_id + "-recovered", "GET", target, headers=auth, expect=ok))
