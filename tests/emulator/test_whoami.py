"""whoami: credential precedence, exact error bodies, AAL, headers, expiry and revocation."""

from __future__ import annotations

import httpx
import ory_client

from tests.support.emulator import RunningEmulator

from .conftest import ALICE_ID
from .kratos_helpers import api_login, browser_login
from .oryspec import SpecChecker, parsed

WHOAMI_401 = {
    "error": {
        "code": 401,
        "status": "Unauthorized",
        "reason": "No valid session credentials found in the request.",
        "message": "The request could not be authorized",
    }
}


def test_whoami_without_credentials_is_exact_401(customer: httpx.Client, spec: SpecChecker) -> None:
    response = spec.check(customer.get("/sessions/whoami"))
    assert response.status_code == 401
    assert response.json() == WHOAMI_401
    assert response.headers["content-type"] == "application/json"
    assert "id" not in response.json()["error"]


def test_whoami_401_echoes_request_id(customer: httpx.Client) -> None:
    response = customer.get("/sessions/whoami", headers={"X-Request-ID": "req-42", "X-Session-Token": "ory_st_x"})
    assert response.json()["error"]["request"] == "req-42"
    assert list(response.json()["error"]) == ["code", "status", "request", "reason", "message"]


def test_whoami_with_session_token(customer: httpx.Client, spec: SpecChecker) -> None:
    login = api_login(customer, "alice@example.com", "alice-pass-1")
    assert login["session_token"].startswith("ory_st_") and len(login["session_token"]) == 39
    response = spec.check(customer.get("/sessions/whoami", headers={"X-Session-Token": login["session_token"]}))
    assert response.status_code == 200
    assert response.headers["x-kratos-authenticated-identity-id"] == ALICE_ID
    assert response.headers["cache-control"] == "private, no-cache, no-store, must-revalidate"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    session = parsed(ory_client.Session, response.text)
    assert session.identity is not None and str(session.identity.id) == ALICE_ID
    assert session.identity.metadata_public == {"organization_id": "org-a", "roles": ["member"]}
    body = response.json()
    assert "credentials" not in body["identity"] and "metadata_admin" not in body["identity"]
    assert body["active"] is True and body["authenticator_assurance_level"] == "aal1"


def test_whoami_bearer_and_cookie(customer: httpx.Client) -> None:
    token = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    assert customer.get("/sessions/whoami", headers={"Authorization": f"bearer {token}"}).status_code == 200
    assert customer.get("/sessions/whoami", headers={"Authorization": f"Bearer  {token}"}).status_code == 401
    login = browser_login(customer, "alice@example.com", "alice-pass-1")
    cookie = login.cookies["ory_session_customer"]
    assert token not in cookie
    response = customer.get("/sessions/whoami", headers={"Cookie": f"other=1; ory_session_customer={cookie}"})
    assert response.status_code == 200


def test_whoami_precedence(customer: httpx.Client) -> None:
    good = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    cookie = browser_login(customer, "alice@example.com", "alice-pass-1").cookies["ory_session_customer"]
    cookie_header = {"Cookie": f"ory_session_customer={cookie}"}
    # A non-empty X-Session-Token wins even when it is bad and the cookie is good.
    bad_token = customer.get("/sessions/whoami", headers={"X-Session-Token": "ory_st_bad", **cookie_header})
    assert bad_token.status_code == 401
    # A decodable cookie wins over Bearer: cookie of a revoked session -> 401 despite a good bearer.
    # An undecodable cookie falls through to Bearer.
    junk = customer.get(
        "/sessions/whoami", headers={"Cookie": "ory_session_customer=junk", "Authorization": f"Bearer {good}"}
    )
    assert junk.status_code == 200
    session_id = customer.get("/sessions/whoami", headers=cookie_header).json()["id"]
    customer.delete(f"/admin/sessions/{session_id}", headers={"Authorization": "Bearer ory_pat_customer_test"})
    revoked = customer.get("/sessions/whoami", headers={**cookie_header, "Authorization": f"Bearer {good}"})
    assert revoked.status_code == 401


def test_whoami_aal2_required(customer: httpx.Client, spec: SpecChecker) -> None:
    token = api_login(customer, "mfa@example.com", "mfa-pass-1")["session_token"]
    response = customer.get("/sessions/whoami", headers={"X-Session-Token": token})
    spec.check(response, spec_defects=True)
    assert response.status_code == 403
    body = response.json()
    url = str(customer.base_url).rstrip("/") + "/self-service/login/browser?aal=aal2"
    assert body["redirect_browser_to"] == url
    assert body["error"]["id"] == "session_aal2_required"
    assert body["error"]["details"] == {"redirect_browser_to": url}
    assert response.headers["ory-error-id"] == "session_aal2_required"
    parsed(ory_client.ErrorAuthenticatorAssuranceLevelNotSatisfied, response.text)


def test_inactive_identity_cannot_log_in(customer: httpx.Client) -> None:
    flow = customer.get("/self-service/login/api").json()
    response = customer.post(
        f"/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": "off@example.com", "password": "off-pass-1"},
    )
    assert response.status_code == 400
    assert response.json()["ui"]["messages"][0]["id"] == 4000006


def test_session_expires_with_clock(emu: RunningEmulator, dealer: httpx.Client) -> None:
    login = api_login(dealer, "dave", "dave-pass-1")
    token = login["session_token"]
    assert dealer.get("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 200
    emu.control("POST", "clock", {"advance": 3601})
    assert dealer.get("/sessions/whoami", headers={"X-Session-Token": token}).json() == WHOAMI_401


def test_custom_cookie_name_and_lifespan(dealer: httpx.Client) -> None:
    response = browser_login(dealer, "dave", "dave-pass-1")
    assert response.status_code == 303
    assert "dealer_cookie" in response.cookies
    assert "Max-Age=3600" in response.headers["set-cookie"] or "Max-Age=3599" in response.headers["set-cookie"]


def test_native_logout(customer: httpx.Client, spec: SpecChecker) -> None:
    token = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    response = spec.check(customer.request("DELETE", "/self-service/logout/api", json={"session_token": token}))
    assert response.status_code == 204 and response.content == b""
    assert customer.get("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 401
    again = customer.request("DELETE", "/self-service/logout/api", json={"session_token": token})
    assert again.status_code == 403


def test_whoami_accepts_post_but_not_delete(customer: httpx.Client) -> None:
    token = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    assert customer.post("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 200
    assert customer.delete("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 405


def test_tokenize_as_unknown_template(customer: httpx.Client) -> None:
    token = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    response = customer.get("/sessions/whoami?tokenize_as=jwt", headers={"X-Session-Token": token})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == 'Unable to find tokenizer template "jwt".'
