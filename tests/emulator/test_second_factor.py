"""Second factors: seeded TOTP and lookup secrets, aal2 and refresh login flows (native and
browser), the AAL errors of flows and whoami, both `required_aal` modes."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import ory_client
import pyotp
import pytest

from tests.support.emulator import RunningEmulator

from .conftest import ALICE_ID, CUSTOMER_KEY, MFA_SECRET
from .kratos_helpers import api_login, browser_login, csrf_of, json_flow, node_names, set_cookie, totp_now
from .oryspec import SpecChecker, parsed

ADMIN = {"Authorization": f"Bearer {CUSTOMER_KEY}"}


def _aal2_api_flow(client: httpx.Client, token: str, spec: SpecChecker) -> ory_client.LoginFlow:
    created = spec.check(client.get("/self-service/login/api?aal=aal2", headers={"X-Session-Token": token}))
    assert created.status_code == 200, created.text
    return parsed(ory_client.LoginFlow, created.text)


def _submit(client: httpx.Client, flow_id: object, token: str, body: dict[str, str]) -> httpx.Response:
    return client.post(f"/self-service/login?flow={flow_id}", json=body, headers={"X-Session-Token": token})


def test_native_step_up_with_totp(emu: RunningEmulator, customer: httpx.Client, spec: SpecChecker) -> None:
    login = api_login(customer, "mfa@example.com", "mfa-pass-1")
    assert "identity" not in login["session"]  # Kratos hides it until the second factor is done
    token, first = login["session_token"], login["session"]
    flow = _aal2_api_flow(customer, token, spec)
    assert flow.requested_aal == "aal2" and flow.refresh is False
    doc = customer.get(f"/self-service/login/flows?id={flow.id}").json()
    assert node_names(doc) == [
        ("default", "csrf_token"),
        ("totp", "totp_code"),
        ("totp", "method"),
        ("lookup_secret", "lookup_secret"),
        ("lookup_secret", "method"),
    ]
    assert [m["id"] for m in doc["ui"]["messages"]] == [1010004]
    wrong = spec.check(_submit(customer, flow.id, token, {"method": "totp", "totp_code": "000000"}))
    assert wrong.status_code == 400
    assert parsed(ory_client.LoginFlow, wrong.text).ui.messages[0].id == 4000008  # type: ignore[index]
    done = spec.check(_submit(customer, flow.id, token, {"method": "totp", "totp_code": totp_now(emu, MFA_SECRET)}))
    assert done.status_code == 200, done.text
    upgraded = parsed(ory_client.SuccessfulNativeLogin, done.text)
    assert upgraded.session_token == token and str(upgraded.session.id) == first["id"]
    assert upgraded.session.authenticator_assurance_level == "aal2"
    methods = [(m.method, m.aal) for m in upgraded.session.authentication_methods or []]
    assert methods == [("password", "aal1"), ("totp", "aal2")]
    stepped = upgraded.session.authenticated_at
    assert stepped is not None and stepped >= datetime.fromisoformat(first["authenticated_at"])
    whoami = spec.check(customer.get("/sessions/whoami", headers={"X-Session-Token": token}))
    assert whoami.status_code == 200 and whoami.json()["authenticator_assurance_level"] == "aal2"


def test_lookup_secrets_are_one_time(customer: httpx.Client, spec: SpecChecker) -> None:
    token = api_login(customer, "mfa@example.com", "mfa-pass-1")["session_token"]
    flow = _aal2_api_flow(customer, token, spec)
    bad = _submit(customer, flow.id, token, {"method": "lookup_secret", "lookup_secret": "guess"})
    assert bad.status_code == 400 and bad.json()["ui"]["messages"][0]["id"] == 4000016
    used = _submit(customer, flow.id, token, {"method": "lookup_secret", "lookup_secret": "rescue-two"})
    assert used.status_code == 200 and used.json()["session"]["authentication_methods"][-1]["method"] == "lookup_secret"
    again_token = api_login(customer, "mfa@example.com", "mfa-pass-1")["session_token"]
    again = _aal2_api_flow(customer, again_token, spec)
    replay = _submit(customer, again.id, again_token, {"method": "lookup_secret", "lookup_secret": "rescue-two"})
    assert replay.status_code == 400 and replay.json()["ui"]["messages"][0]["id"] == 4000012
    identity_id = used.json()["session"]["identity"]["id"]
    admin = spec.check(customer.get(f"/admin/identities/{identity_id}?include_credential=lookup_secret", headers=ADMIN))
    identity = parsed(ory_client.Identity, admin.text)
    assert identity.credentials is not None and set(identity.credentials) == {"password", "totp", "lookup_secret"}
    codes = admin.json()["credentials"]["lookup_secret"]["config"]["recovery_codes"]
    assert [c["code"] for c in codes if "used_at" in c] == ["rescue-two"]
    totp = customer.get(f"/admin/identities/{identity_id}?include_credential=totp", headers=ADMIN).json()
    url = totp["credentials"]["totp"]["config"]["totp_url"]
    assert pyotp.parse_uri(url).secret == MFA_SECRET


def test_lookup_secret_alone_is_a_second_factor(customer: httpx.Client, spec: SpecChecker) -> None:
    token = api_login(customer, "codes@example.com", "codes-pass-1")["session_token"]
    assert customer.get("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 403
    flow = _aal2_api_flow(customer, token, spec)
    doc = customer.get(f"/self-service/login/flows?id={flow.id}").json()
    assert ("totp", "totp_code") not in node_names(doc)
    no_totp = _submit(customer, flow.id, token, {"method": "totp", "totp_code": "123456"})
    assert no_totp.json()["ui"]["messages"][0]["id"] == 4000011
    assert (
        _submit(customer, flow.id, token, {"method": "lookup_secret", "lookup_secret": "only-code"}).status_code == 200
    )


def test_flow_errors_of_aal_and_sessions(customer: httpx.Client, spec: SpecChecker) -> None:
    no_session = customer.get("/self-service/login/api?aal=aal2")
    assert no_session.status_code == 401 and no_session.json()["error"]["id"] == "session_aal1_required"
    alice = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    already = customer.get("/self-service/login/api", headers={"X-Session-Token": alice})
    assert already.status_code == 400 and already.json()["error"]["id"] == "session_already_available"
    enroll = spec.check(
        customer.get("/self-service/login/api?aal=aal2", headers={"X-Session-Token": alice}), spec_defects=True
    )
    assert enroll.status_code == 403 and enroll.json()["error"]["id"] == "session_aal2_enrollment_required"
    settings = str(customer.base_url).rstrip("/") + "/self-service/settings/browser"
    assert enroll.json()["redirect_browser_to"] == settings
    bad = customer.get("/self-service/login/api?aal=aal3", headers={"X-Session-Token": alice})
    assert bad.status_code == 400
    browser = customer.get("/self-service/login/browser?aal=aal2")
    assert browser.status_code == 303 and "/ui/error?id=" in browser.headers["location"]


def _follow_to_page(client: httpx.Client, response: httpx.Response) -> httpx.Response:
    while response.status_code == 303 and "/ui/login" not in response.headers["location"]:
        response = client.get(response.headers["location"])
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"])


def _forms(html: str) -> list[dict[str, str]]:
    """Every form of a page: its action and its inputs' names and values, and its button."""
    found = []
    for action, inner in re.findall(r'<form method="POST" action="([^"]+)">(.*?)</form>', html):
        fields = dict(re.findall(r'<input id="[^"]*" name="([^"]+)"[^>]*?(?: value="([^"]*)")?>', inner))
        button = re.search(r'<button type="submit" name="method" value="([^"]*)"', inner)
        found.append({**fields, "action": unescape(action), "method": button.group(1) if button else ""})
    return found


def test_browser_step_up_keeps_return_to_and_session(emu: RunningEmulator, customer: httpx.Client) -> None:
    back = "http://app.example/after"
    start = customer.get("/self-service/login/browser", params={"return_to": back})
    page = _follow_to_page(customer, start)
    form = _forms(page.text)[0]
    posted = customer.post(
        form["action"],
        data={"csrf_token": form["csrf_token"], "identifier": "mfa@example.com", "password": "mfa-pass-1"}
        | {"method": "password"},
    )
    assert posted.status_code == 303
    step_up = urlsplit(posted.headers["location"])
    assert step_up.path.endswith("/self-service/login/browser")
    assert parse_qs(step_up.query) == {"aal": ["aal2"], "return_to": [back]}
    cookie = set_cookie(posted, "ory_session_customer")
    assert cookie is not None
    first = customer.get("/sessions/whoami")
    assert first.status_code == 403 and first.json()["error"]["id"] == "session_aal2_required"
    mfa = customer.get("/admin/identities?credentials_identifier=mfa@example.com", headers=ADMIN).json()[0]
    session_id = customer.get(f"/admin/identities/{mfa['id']}/sessions?active=true", headers=ADMIN).json()[0]["id"]
    second = _follow_to_page(customer, customer.get(posted.headers["location"]))
    assert "Please complete the second authentication challenge." in second.text
    totp_form, lookup_form = _forms(second.text)
    assert (totp_form["method"], lookup_form["method"]) == ("totp", "lookup_secret")
    assert "totp_code" in totp_form and "lookup_secret" in lookup_form and lookup_form["csrf_token"]
    wrong = customer.post(
        totp_form["action"], data={"csrf_token": totp_form["csrf_token"], "method": "totp"} | {"totp_code": "000000"}
    )
    assert wrong.status_code == 303 and "/ui/login?flow=" in wrong.headers["location"]
    assert "The provided authentication code is invalid" in customer.get(wrong.headers["location"]).text
    code = totp_now(emu, MFA_SECRET)
    done = customer.post(
        totp_form["action"], data={"csrf_token": totp_form["csrf_token"], "method": "totp", "totp_code": code}
    )
    assert done.status_code == 303 and done.headers["location"] == back
    assert set_cookie(done, "ory_session_customer") is not None
    after = customer.get("/sessions/whoami")
    assert after.status_code == 200 and after.json()["authenticator_assurance_level"] == "aal2"
    assert after.json()["id"] == session_id
    signed_in = customer.get("/self-service/login/browser", params={"aal": "aal2", "return_to": back})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == back  # already aal2


def test_browser_json_client_is_told_to_change_location(customer: httpx.Client) -> None:
    flow = json_flow(customer).json()
    response = customer.post(
        f"/self-service/login?flow={flow['id']}",
        headers={"Accept": "application/json"},
        json={
            "method": "password",
            "identifier": "mfa@example.com",
            "password": "mfa-pass-1",
            "csrf_token": csrf_of(flow),
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["id"] == "browser_location_change_required"
    assert body["redirect_browser_to"].endswith("/self-service/login/browser?aal=aal2")
    again = json_flow(customer, "?aal=aal2").json()
    assert again["requested_aal"] == "aal2" and again["ui"]["messages"][0]["id"] == 1010004


def test_refresh_asks_the_password_again(customer: httpx.Client, spec: SpecChecker) -> None:
    login = browser_login(customer, "alice@example.com", "alice-pass-1")
    assert login.status_code == 303
    before = customer.get("/sessions/whoami").json()
    created = spec.check(json_flow(customer, "?refresh=true"))
    flow = parsed(ory_client.LoginFlow, created.text)
    assert flow.refresh is True and flow.requested_aal == "aal1"
    doc = created.json()
    identifier = next(n for n in doc["ui"]["nodes"] if n["attributes"]["name"] == "identifier")
    assert identifier["attributes"]["type"] == "hidden" and identifier["attributes"]["value"] == "alice@example.com"
    assert doc["ui"]["messages"][0]["id"] == 1010003
    form = {"csrf_token": csrf_of(doc), "identifier": "alice@example.com", "method": "password"}
    wrong = customer.post(f"/self-service/login?flow={flow.id}", data=form | {"password": "nope"})
    assert wrong.status_code == 303 and "/ui/login?flow=" in wrong.headers["location"]
    done = customer.post(f"/self-service/login?flow={flow.id}", data=form | {"password": "alice-pass-1"})
    assert done.status_code == 303
    after = customer.get("/sessions/whoami").json()
    assert after["id"] == before["id"] and after["authenticated_at"] > before["authenticated_at"]
    assert [m["method"] for m in after["authentication_methods"]] == ["password", "password"]


def test_required_aal_aal1_accepts_aal1_sessions(refresher: httpx.Client) -> None:
    response = browser_login(refresher, "two@example.com", "two-pass-1")
    assert response.status_code == 303 and response.headers["location"].endswith("/refresher/ui/welcome")
    cookie = (set_cookie(response, "ory_session_refresher") or "").partition(";")[0]
    whoami = refresher.get("/sessions/whoami", headers={"Cookie": cookie})
    assert whoami.status_code == 200 and whoami.json()["authenticator_assurance_level"] == "aal1"
    step_up = refresher.get(
        "/self-service/login/browser?aal=aal2", headers={"Accept": "application/json", "Cookie": cookie}
    )
    assert step_up.status_code == 200 and step_up.json()["requested_aal"] == "aal2"


def test_enrollment_required(enforced: httpx.Client, spec: SpecChecker) -> None:
    plain = api_login(enforced, "plain@example.com", "plain-pass-1")["session_token"]
    refused = spec.check(enforced.get("/sessions/whoami", headers={"X-Session-Token": plain}), spec_defects=True)
    assert refused.status_code == 403 and refused.headers["ory-error-id"] == "session_aal2_enrollment_required"
    parsed(ory_client.ErrorAuthenticatorAssuranceLevelNotSatisfied, refused.text)
    body = refused.json()
    assert body["redirect_browser_to"] == body["error"]["details"]["redirect_browser_to"]
    assert body["redirect_browser_to"].endswith("/enforced/self-service/settings/browser")
    strong = api_login(enforced, "strong@example.com", "strong-pass-1")["session_token"]
    aal1 = enforced.get("/sessions/whoami", headers={"X-Session-Token": strong})
    assert aal1.json()["error"]["id"] == "session_aal2_required"


@pytest.mark.parametrize("method", ["password", "totp"])
def test_credential_required_until_signed_in_with_it(
    emu: RunningEmulator, customer: httpx.Client, spec: SpecChecker, method: str
) -> None:
    login = browser_login(customer, "alice@example.com", "alice-pass-1")
    assert login.status_code == 303
    session_id = customer.get("/sessions/whoami").json()["id"]
    hook = emu.control("PATCH", f"projects/customer/sessions/{session_id}", {"credential_required": method})
    assert hook.status_code == 200
    refused = spec.check(customer.get("/sessions/whoami"), spec_defects=True)
    assert refused.status_code == 403 and refused.json()["error"]["id"] == "session_credential_required"
    assert refused.json()["redirect_browser_to"].endswith("/customer/self-service/login/browser?refresh=true")
    flow = json_flow(customer, "?refresh=true").json()
    form = {"csrf_token": csrf_of(flow), "identifier": "alice@example.com", "method": "password"}
    customer.post(f"/self-service/login?flow={flow['id']}", data=form | {"password": "alice-pass-1"})
    still = customer.get("/sessions/whoami")
    assert still.status_code == (200 if method == "password" else 403)


def test_control_totp_code_and_session_hook(emu: RunningEmulator, customer: httpx.Client) -> None:
    code = emu.control("GET", "projects/customer/identities/mfa@example.com/totp")
    assert code.status_code == 200 and code.json()["code"] == pyotp.TOTP(MFA_SECRET).at(int(code.json()["at"]))
    assert emu.control("GET", f"projects/customer/identities/{ALICE_ID}/totp").status_code == 404
    token = api_login(customer, "alice@example.com", "alice-pass-1")
    sid = token["session"]["id"]
    moved = emu.control("PATCH", f"projects/customer/sessions/{sid}", {"authenticated_ago": 3600, "expires_in": 60})
    body = moved.json()
    now = emu.control("GET", "clock").json()["now_unix"]
    session = parsed(ory_client.Session, moved.text)
    assert session.authenticated_at is not None and abs(session.authenticated_at.timestamp() - (now - 3600)) < 5
    assert session.expires_at is not None and abs(session.expires_at.timestamp() - (now + 60)) < 5
    assert body["authentication_methods"][0]["completed_at"] == body["authenticated_at"]
    assert emu.control("PATCH", f"projects/customer/sessions/{sid}", {"expires_in": "soon"}).status_code == 400
    assert emu.control("PATCH", "projects/customer/sessions/nope", {}).status_code == 404
    emu.control("PATCH", f"projects/customer/sessions/{sid}", {"expires_in": -1})
    assert customer.get("/sessions/whoami", headers={"X-Session-Token": token["session_token"]}).status_code == 401
