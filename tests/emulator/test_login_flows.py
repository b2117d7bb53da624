"""Native (API) and browser login flows."""

from __future__ import annotations

import httpx
import ory_client

from .kratos_helpers import browser_login
from .oryspec import SpecChecker, parsed


def test_native_flow(customer: httpx.Client, spec: SpecChecker) -> None:
    created = spec.check(customer.get("/self-service/login/api"))
    flow = parsed(ory_client.LoginFlow, created.text)
    assert flow.type == "api"
    submitted = spec.check(
        customer.post(
            f"/self-service/login?flow={flow.id}",
            json={"method": "password", "identifier": "ALICE@example.com", "password": "alice-pass-1"},
        )
    )
    login = parsed(ory_client.SuccessfulNativeLogin, submitted.text)
    assert login.session_token is not None and login.session_token.startswith("ory_st_")
    assert login.session.active is True


def test_native_flow_wrong_password(customer: httpx.Client, spec: SpecChecker) -> None:
    flow = customer.get("/self-service/login/api").json()
    response = spec.check(
        customer.post(
            f"/self-service/login?flow={flow['id']}",
            json={"method": "password", "identifier": "alice@example.com", "password": "nope"},
        )
    )
    assert response.status_code == 400
    parsed(ory_client.LoginFlow, response.text)
    assert response.json()["ui"]["messages"][0]["id"] == 4000006


def test_flow_errors(emu_base: str, customer: httpx.Client) -> None:
    assert customer.post("/self-service/login", json={}).status_code == 400
    unknown = customer.post("/self-service/login?flow=00000000-0000-4000-8000-000000000000", json={})
    assert unknown.status_code == 404
    flow = customer.get("/self-service/login/api").json()
    httpx.post(f"{emu_base}/_emulator/clock", json={"advance": 3601})
    expired = customer.post(
        f"/self-service/login?flow={flow['id']}", json={"method": "password", "identifier": "a", "password": "b"}
    )
    assert expired.status_code == 410 and expired.json()["error"]["id"] == "self_service_flow_expired"


def test_browser_flow_redirect_and_json(customer: httpx.Client, spec: SpecChecker) -> None:
    redirect = customer.get("/self-service/login/browser")
    assert redirect.status_code == 303
    assert "/customer/ui/login?flow=" in redirect.headers["location"]
    assert any(c.startswith("csrf_token_customer=") for c in redirect.headers.get_list("set-cookie"))
    as_json = spec.check(customer.get("/self-service/login/browser", headers={"Accept": "application/json"}))
    flow = parsed(ory_client.LoginFlow, as_json.text)
    assert flow.type == "browser"
    names = [n["attributes"]["name"] for n in as_json.json()["ui"]["nodes"]]
    assert names[0] == "csrf_token"
    fetched = spec.check(customer.get(f"/self-service/login/flows?id={flow.id}"))
    assert fetched.json()["id"] == str(flow.id)


def test_browser_login_sets_opaque_cookie(customer: httpx.Client) -> None:
    response = browser_login(customer, "alice@example.com", "alice-pass-1")
    assert response.status_code == 303
    set_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("ory_session_customer="))
    assert "HttpOnly" in set_cookie and "Path=/" in set_cookie
    value = response.cookies["ory_session_customer"]
    assert not value.startswith("ory_st_")
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    assert customer.get("/sessions/whoami", headers={"Cookie": f"ory_session_customer={tampered}"}).status_code == 401


def test_browser_login_json_body(customer: httpx.Client) -> None:
    flow = customer.get("/self-service/login/browser", headers={"Accept": "application/json"}).json()
    csrf = flow["ui"]["nodes"][0]["attributes"]["value"]
    response = customer.post(
        f"/self-service/login?flow={flow['id']}",
        headers={"Accept": "application/json"},
        json={"method": "password", "identifier": "alice@example.com", "password": "alice-pass-1", "csrf_token": csrf},
    )
    assert response.status_code == 200
    assert "session_token" not in response.json()
    parsed(ory_client.SuccessfulNativeLogin, response.text)


def test_browser_login_csrf_violation(customer: httpx.Client, spec: SpecChecker) -> None:
    """A form post goes to the error UI (errorx.Manager.Forward); a JSON client gets the error."""
    flow = customer.get("/self-service/login/browser", headers={"Accept": "application/json"}).json()
    customer.cookies.clear()
    form = {"method": "password", "identifier": "alice@example.com", "password": "alice-pass-1", "csrf_token": "x"}
    response = customer.post(f"/self-service/login?flow={flow['id']}", data=form)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(str(customer.base_url).rstrip("/") + "/ui/error?id=")
    stored = spec.check(customer.get("/self-service/errors", params={"id": location.split("id=")[1]}))
    error = parsed(ory_client.FlowError, stored.text).error
    assert error is not None and error["id"] == "security_csrf_violation" and error["code"] == 403
    as_json = customer.post(f"/self-service/login?flow={flow['id']}", data=form, headers={"Accept": "application/json"})
    assert as_json.status_code == 403
    assert as_json.json()["error"]["id"] == "security_csrf_violation"
