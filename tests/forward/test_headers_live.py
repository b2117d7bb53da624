"""What the upstream receives (gateway.forward.headers), through the live world: identity
headers, hop-by-hop and framing, forwarding headers, the signed identity assertion, and the
credential the gateway consumed (never forwarded: the upstream gets the assertion instead);
against the recording `inventory` upstream and Durably."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.jobs import JOBS, run_id, trigger
from tests.support.processes import header_values
from tests.support.world import Auth, World

INVENTORY = "/dealer/partner-api/inventory"
PARTNER = "machine:partner-inventory:inventory:read"
IDENTITY = [
    "X-Tenant",
    "X-Principal-Kind",
    "X-Client-Id",
    "X-Org-Id",
    "X-Scopes",
    "X-Request-Id",
    "X-Identity-Assertion",
]
SPOOFED = [
    ("X-Org-Id", "org-evil"),
    ("x_org_id", "org-evil"),
    ("X.Org.Id", "org-evil"),
    ("x-org-ID", "org-evil"),
    ("X-ROLES", "platform:admin"),
    ("x_roles", "platform:admin"),
    ("X-Scopes", "admin:all"),
    ("X-User-Id", "11111111-1111-4111-8111-111111111111"),
    ("X_User.Id", "someone"),
    ("X-Tenant", "admin"),
    ("X-Principal-Kind", "human"),
    ("X-Client-Id", "customer-gateway"),
    ("X-Session-Id", "s"),
    ("X-Identity-Assertion", "eyJhbGciOiJub25lIn0.e30."),
    ("x.identity_assertion", "forged"),
    ("X-Request-Id", "chosen-by-client"),
]


def only(world: World) -> dict[str, Any]:
    [recorded] = world.inventory.requests()
    return recorded


@pytest.fixture()
def http(world: World) -> Any:
    world.inventory.clear()
    with world.client() as client:
        yield client


def test_identity_headers_are_set_once_whatever_the_client_sent(world: World, auth: Auth, http: Any) -> None:
    headers = httpx.Headers([*auth(PARTNER).items(), *SPOOFED])
    resp = http.get(INVENTORY, headers=headers)
    assert resp.status_code == 200, resp.text
    got = only(world)
    assert header_values(got, "x-org-id") == ["org-partner"]
    assert header_values(got, "x-tenant") == ["dealer"]
    assert header_values(got, "x-principal-kind") == ["machine"]
    assert header_values(got, "x-client-id") == ["partner-inventory"]
    assert header_values(got, "x-scopes") == ["inventory:read"]
    assert header_values(got, "x-roles") == []  # a machine has no roles: the spoofed ones are gone too
    assert header_values(got, "x-user-id") == []
    assert header_values(got, "x-session-id") == []
    [rid] = header_values(got, "x-request-id")
    assert rid != "chosen-by-client" and rid == resp.headers["x-request-id"]
    [assertion] = header_values(got, "x-identity-assertion")
    assert assertion.count(".") == 2 and "forged" not in assertion
    # nothing the client sent in any spelling survived
    sent_values = {v for _, v in SPOOFED}
    assert not [(k, v) for k, v in got["headers"] if v in sent_values]


def test_human_identity_headers_reach_durably_once(world: World, auth: Auth) -> None:
    world.durably.recorder.clear()
    with world.client() as http:
        spoof = httpx.Headers([*auth("alice").items(), *SPOOFED, ("Connection", "x-org-id, X_Roles")])
        run_id(http.post(f"/customer{JOBS}/trigger", json={"jobName": "echo", "input": {}}, headers=spoof))
    [seen] = [r for r in world.durably.recorder.requests() if r.path == f"{JOBS}/trigger"]
    norm = [(k.lower().replace("_", "-").replace(".", "-"), v) for k, v in seen.headers]
    values = {name: [v for k, v in norm if k == name] for name, _ in norm}
    assert values["x-org-id"] == ["org-acme"]
    assert values["x-roles"] == ["member"]
    assert values["x-user-id"] == ["11111111-1111-4111-8111-111111111111"]
    assert values["x-tenant"] == ["customer"]
    assert values["x-principal-kind"] == ["human"]
    assert len(values["x-session-id"]) == 1 and values["x-session-id"] != ["s"]
    assert "x-client-id" not in values and "x-scopes" not in values
    assert "connection" not in values or values["connection"] in (["keep-alive"], ["close"])


def test_connection_listed_headers_are_dropped_before_injection(world: World, auth: Auth, http: Any) -> None:
    headers = httpx.Headers(
        [
            *auth(PARTNER).items(),
            ("Connection", "X-Org-Id, X-Custom, x_tenant"),
            ("X-Org-Id", "org-evil"),
            ("X-Custom", "hop"),
            ("X-Kept", "end-to-end"),
        ]
    )
    assert http.get(INVENTORY, headers=headers).status_code == 200
    got = only(world)
    assert header_values(got, "x-org-id") == ["org-partner"]  # the gateway's copy was not dropped
    assert header_values(got, "x-tenant") == ["dealer"]
    assert header_values(got, "x-custom") == []
    assert header_values(got, "x-kept") == ["end-to-end"]
    assert all(v.lower() in ("keep-alive", "close") for v in header_values(got, "connection"))


def test_hop_by_hop_and_framing_headers_are_never_forwarded(world: World, auth: Auth, http: Any) -> None:
    headers = httpx.Headers(
        [
            *auth(PARTNER).items(),
            ("Keep-Alive", "timeout=99"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Trailer", "X-Evil"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("Host", "evil.example"),
            ("HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
        ]
    )
    resp = http.get(INVENTORY, headers=headers)
    assert resp.status_code == 200
    got = only(world)
    for name in (
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "proxy-authorization",
        "http2-settings",
        "transfer-encoding",
        "content-length",
        "expect",
        "upgrade",
    ):
        assert header_values(got, name) == [], name
    upstream_host = world.inventory.url.removeprefix("http://")
    assert header_values(got, "host") == [upstream_host]
    assert got["target"] == "/partner-api/inventory"


def test_upgrade_is_refused_on_a_route_without_websockets(world: World, auth: Auth, http: Any) -> None:
    resp = http.get(INVENTORY, headers={**auth(PARTNER), "Connection": "Upgrade", "Upgrade": "h2c"})
    assert resp.status_code == 400
    assert world.inventory.requests() == []


def test_forwarding_headers_are_the_gateways_own(world: World, auth: Auth, http: Any) -> None:
    headers = httpx.Headers(
        [
            *auth(PARTNER).items(),
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "for=6.6.6.6;host=evil.example"),
            ("X-Real-IP", "6.6.6.6"),
            ("X_Forwarded_For", "7.7.7.7"),
            ("X-Original-URL", "/admin"),
            ("X-Forwarded-Prefix", "/admin"),
        ]
    )
    assert http.get(INVENTORY, headers=headers).status_code == 200
    got = only(world)
    gateway_host = world.url.removeprefix("http://")
    assert header_values(got, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(got, "x-forwarded-proto") == ["http"]
    assert header_values(got, "x-forwarded-host") == [gateway_host]
    for name in ("forwarded", "x-real-ip", "x-original-url", "x-forwarded-prefix"):
        assert header_values(got, name) == [], name


def _verify(world: World, token: str, audience: str) -> dict[str, Any]:
    jwks = httpx.get(world.url + "/.well-known/jwks.json").json()
    keys = KeySet.import_key_set(jwks)
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    assert decoded.header["alg"] == "ES256"
    claims = dict(decoded.claims)
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": world.url},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(claims)
    assert 0 < claims["exp"] - claims["iat"] <= 60
    return claims


def test_identity_assertion_verifies_against_the_gateways_jwks(world: World, auth: Auth, http: Any) -> None:
    assert http.get(INVENTORY, headers=auth(PARTNER)).status_code == 200
    [token] = header_values(only(world), "x-identity-assertion")
    claims = _verify(world, token, "inventory")
    assert claims["sub"] == "partner-inventory"
    assert claims["org"] == "org-partner"
    assert claims["kind"] == "machine"
    assert claims["tenant"] == "dealer"
    assert claims["scopes"] == ["inventory:read"]
    assert (
        jwt.decode(token, KeySet.import_key_set(httpx.get(world.url + "/.well-known/jwks.json").json()))
        .header["kid"]
        .startswith("dealer-")
    )
    with pytest.raises(Exception):  # noqa: B017 - any verification failure will do
        _verify(world, token, "jobs")  # not valid for another upstream


def test_human_identity_assertion_names_the_user_and_the_jobs_audience(world: World, auth: Auth) -> None:
    world.durably.recorder.clear()
    with world.client() as http:
        run_id(trigger(http, "customer", auth("alice"), {"jobName": "echo", "input": {}}))
    [seen] = [r for r in world.durably.recorder.requests() if r.path == f"{JOBS}/trigger"]
    [token] = seen.header("x-identity-assertion")
    claims = _verify(world, token, "jobs")
    assert claims["sub"] == "11111111-1111-4111-8111-111111111111"
    assert (claims["org"], claims["kind"], claims["tenant"], claims["roles"]) == (
        "org-acme",
        "human",
        "customer",
        ["member"],
    )
    assert claims["sid"] == seen.header("x-session-id")[0]
    assert json.loads(seen.body)["labels"]["organizationId"] == claims["org"]


# --- the consumed credential --------------------------------------------------------------


def _last(world: World) -> dict[str, object]:
    seen = world.inventory.requests()
    assert len(seen) == 1
    return seen[0]


def test_bearer_token_is_not_forwarded(world: World) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    world.inventory.clear()
    with world.client() as http:
        resp = http.get("/dealer/partner-api/inventory", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    seen = _last(world)
    assert header_values(seen, "authorization") == []
    assert token not in str(seen["headers"])
    assert len(header_values(seen, "x-identity-assertion")) == 1


def test_session_cookie_is_removed_and_other_cookies_kept(world: World) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    world.inventory.clear()
    with world.client() as http:
        resp = http.get(
            "/dealer/partner-api/inventory",
            headers={
                "Authorization": f"Bearer {token}",
                "Cookie": "theme=dark; ory_session_dealer=stolen-looking; lang=en",
            },
        )
    assert resp.status_code == 200, resp.text
    seen = _last(world)
    assert header_values(seen, "cookie") == ["theme=dark; lang=en"]


def test_session_token_header_is_not_forwarded(world: World) -> None:
    world.durably.recorder.clear()
    session = world.session("alice")
    with world.client() as http:
        resp = http.get("/customer/api/durably/runs", headers={"X-Session-Token": session})
    assert resp.status_code == 200, resp.text
    seen = world.durably.recorder.requests()
    assert len(seen) == 1
    assert seen[0].header("x-session-token") == []
    assert session not in str(seen[0].headers)
