"""The browser side of the emulator: the Account Experience pages (/ui/login, /ui/welcome,
/ui/error) and the flows behind them as Kratos v26.2.0 runs them (form posts that fail go
back to the form with the flow's messages, expired flows are replaced, CSRF failures go to
the error UI, the browser logout flow). JSON shapes are checked against the specs and
parsed by the ory-client models."""

from __future__ import annotations

import re
from html import unescape

import httpx
import ory_client
import pytest

from gateway.emulator.self_service import negotiate

from .oryspec import SpecChecker, parsed

ALICE = ("alice@example.com", "alice-pass-1")


def start(customer: httpx.Client, return_to: str | None = None) -> tuple[str, httpx.Response]:
    """A browser flow as a browser starts it: 303 to the login page, which renders the form."""
    params = {"return_to": return_to} if return_to else {}
    redirect = customer.get("/self-service/login/browser", params=params)
    assert redirect.status_code == 303
    location = redirect.headers["location"]
    assert location.startswith(f"{customer.base_url}/ui/login?flow=".replace("//ui", "/ui"))
    page = customer.get(location)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    return location.split("flow=")[1], page


def form_of(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The form's action and its fields (inputs and the submit button), as a browser would send them."""
    html = page.text
    action = unescape(re.search(r'<form method="POST" action="([^"]+)">', html).group(1))  # type: ignore[union-attr]
    fields = {
        unescape(name): unescape(value or "")
        for name, value in re.findall(r'<input id="[^"]*" name="([^"]+)"[^>]*?(?: value="([^"]*)")?>', html)
    }
    button = re.search(r'<button type="submit" name="([^"]+)" value="([^"]*)"', html)
    assert button is not None
    fields[unescape(button.group(1))] = unescape(button.group(2))
    return action, fields


def test_login_page_is_built_from_the_flow_nodes(customer: httpx.Client, spec: SpecChecker) -> None:
    flow_id, page = start(customer)
    flow = parsed(ory_client.LoginFlow, spec.check(customer.get(f"/self-service/login/flows?id={flow_id}")).text)
    action, fields = form_of(page)
    assert action == flow.ui.action
    assert set(fields) == {"csrf_token", "identifier", "password", "method"}
    assert fields["csrf_token"] == customer.cookies["csrf_token_customer"]
    assert fields["method"] == "password"
    assert 'type="password"' in page.text and 'autocomplete="current-password"' in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<form")[0].split("</style>")[1]
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_a_browser_signs_in_through_the_page_and_comes_back(customer: httpx.Client) -> None:
    _, page = start(customer, return_to="http://127.0.0.1:9/after")
    action, fields = form_of(page)
    fields |= {"identifier": ALICE[0], "password": ALICE[1]}
    done = customer.post(action, data=fields)
    assert done.status_code == 303 and done.headers["location"] == "http://127.0.0.1:9/after"
    assert "ory_session_customer" in customer.cookies
    assert customer.get("/sessions/whoami").json()["identity"]["traits"]["email"] == ALICE[0]


def test_wrong_password_goes_back_to_the_form_with_the_message(customer: httpx.Client, spec: SpecChecker) -> None:
    flow_id, page = start(customer)
    action, fields = form_of(page)
    failed = customer.post(action, data=fields | {"identifier": ALICE[0], "password": "nope"})
    assert failed.status_code == 303 and failed.headers["location"].endswith(f"/ui/login?flow={flow_id}")
    flow = parsed(ory_client.LoginFlow, spec.check(customer.get(f"/self-service/login/flows?id={flow_id}")).text)
    assert [m.id for m in flow.ui.messages or []] == [4000006]
    again = customer.get(failed.headers["location"])
    assert "The provided credentials are invalid" in again.text
    assert form_of(again)[1]["identifier"] == ALICE[0]  # what was typed is kept, the password is not
    password = re.search(r'<input id="password"[^>]*>', again.text)
    assert password is not None and "value=" not in password.group()


def test_everything_on_the_page_is_escaped(customer: httpx.Client) -> None:
    _, page = start(customer)
    action, fields = form_of(page)
    evil = '"><script>alert(1)</script>'
    failed = customer.post(action, data=fields | {"identifier": evil, "password": "x"})
    again = customer.get(failed.headers["location"]).text
    assert "<script>" not in again
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in again


def test_an_expired_flow_is_replaced_by_one_that_says_so(
    emu_base: str, customer: httpx.Client, spec: SpecChecker
) -> None:
    old_id, page = start(customer, return_to="http://127.0.0.1:9/back")
    action, fields = form_of(page)
    httpx.post(f"{emu_base}/_emulator/clock", json={"advance": 3601})
    fetched = spec.check(customer.get(f"/self-service/login/flows?id={old_id}"), spec_defects=True)
    assert fetched.status_code == 410
    error = fetched.json()["error"]
    assert error["id"] == "self_service_flow_expired"
    assert error["details"]["redirect_to"].endswith(
        "/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A9%2Fback"
    )
    redirected = customer.post(action, data=fields | {"identifier": ALICE[0], "password": ALICE[1]})
    assert redirected.status_code == 303
    new_id = redirected.headers["location"].split("flow=")[1]
    assert new_id != old_id
    flow = parsed(ory_client.LoginFlow, customer.get(f"/self-service/login/flows?id={new_id}").text)
    assert [m.id for m in flow.ui.messages or []] == [4010001]
    assert flow.return_to == "http://127.0.0.1:9/back"
    assert "The login flow expired" in customer.get(redirected.headers["location"]).text
    # the page of the expired flow starts a new one, keeping return_to
    stale = customer.get(f"/ui/login?flow={old_id}")
    assert stale.status_code == 303 and "return_to=http%3A%2F%2F127.0.0.1%3A9%2Fback" in stale.headers["location"]


def test_an_expired_flow_answers_json_clients_with_410(emu_base: str, customer: httpx.Client) -> None:
    flow = customer.get("/self-service/login/browser", headers={"Accept": "application/json"}).json()
    httpx.post(f"{emu_base}/_emulator/clock", json={"advance": 3601})
    csrf = customer.cookies["csrf_token_customer"]
    body = {"method": "password", "identifier": ALICE[0], "password": ALICE[1], "csrf_token": csrf}
    gone = customer.post(f"/self-service/login?flow={flow['id']}", json=body)
    assert gone.status_code == 410
    expired = parsed(ory_client.SelfServiceFlowExpiredError, gone.text)
    assert expired.use_flow_id is not None and str(expired.use_flow_id) != flow["id"]
    assert gone.json()["error"]["id"] == "self_service_flow_expired"


@pytest.mark.parametrize("query", ["", "?flow=00000000-0000-4000-8000-000000000000", "?return_to=http%3A%2F%2Fx%2Fy"])
def test_the_page_without_a_usable_flow_starts_one(customer: httpx.Client, query: str) -> None:
    answer = customer.get(f"/ui/login{query}")
    assert answer.status_code == 303
    assert answer.headers["location"].split("?")[0].endswith("/customer/self-service/login/browser")
    if "return_to" in query:
        assert answer.headers["location"].endswith("?return_to=http%3A%2F%2Fx%2Fy")


def test_a_flow_without_its_csrf_cookie_is_not_shown(customer: httpx.Client) -> None:
    flow_id, _ = start(customer)
    customer.cookies.clear()
    assert customer.get(f"/ui/login?flow={flow_id}").status_code == 303
    refused = customer.get(f"/self-service/login/flows?id={flow_id}")
    assert refused.status_code == 403 and refused.json()["error"]["id"] == "security_csrf_violation"


def signed_in(customer: httpx.Client) -> None:
    _, page = start(customer)
    action, fields = form_of(page)
    assert customer.post(action, data=fields | {"identifier": ALICE[0], "password": ALICE[1]}).status_code == 303


def test_welcome_page_and_browser_logout(customer: httpx.Client, spec: SpecChecker) -> None:
    assert "You are not signed in" in customer.get("/ui/welcome").text
    signed_in(customer)
    welcome = customer.get("/ui/welcome")
    assert ALICE[0] in welcome.text
    logout = parsed(
        ory_client.LogoutFlow,
        spec.check(customer.get("/self-service/logout/browser", headers={"Accept": "application/json"})).text,
    )
    assert logout.logout_token.startswith("ory_lo_")
    assert logout.logout_url == f"{customer.base_url}/self-service/logout?token={logout.logout_token}".replace(
        "customer//", "customer/"
    )
    assert f"token={logout.logout_token}" in unescape(welcome.text)
    cookie = customer.cookies["ory_session_customer"]
    done = customer.get(logout.logout_url)
    assert done.status_code == 303 and done.headers["location"].endswith("/customer/ui/welcome")
    cleared = [c for c in done.headers.get_list("set-cookie") if c.startswith("ory_session_customer=")]
    assert cleared and ("Max-Age=0" in cleared[0] or "expires=" in cleared[0].lower())
    assert customer.get("/sessions/whoami", headers={"Cookie": f"ory_session_customer={cookie}"}).status_code == 401


def test_logout_with_return_to_and_as_json(customer: httpx.Client) -> None:
    signed_in(customer)
    flow = customer.get(
        "/self-service/logout/browser",
        params={"return_to": "http://127.0.0.1:9/bye"},
        headers={"Accept": "application/json"},
    ).json()
    assert "return_to=http%3A%2F%2F127.0.0.1%3A9%2Fbye" in flow["logout_url"]
    assert customer.get(flow["logout_url"]).headers["location"] == "http://127.0.0.1:9/bye"
    signed_in(customer)
    token = customer.get("/self-service/logout/browser", headers={"Accept": "application/json"}).json()["logout_token"]
    answer = customer.get("/self-service/logout", params={"token": token}, headers={"Accept": "application/json"})
    assert answer.status_code == 204


def test_logout_refusals(customer: httpx.Client, spec: SpecChecker) -> None:
    json = {"Accept": "application/json"}
    nobody = spec.check(customer.get("/self-service/logout/browser", headers=json), spec_defects=True)
    assert nobody.status_code == 401 and nobody.json()["error"]["id"] == "session_inactive"
    signed_in(customer)
    wrong = customer.get("/self-service/logout", params={"token": "ory_lo_wrong"}, headers=json)
    assert wrong.status_code == 403 and "does not match" in wrong.json()["error"]["reason"]
    missing = customer.get("/self-service/logout", headers=json)
    assert missing.status_code == 400
    as_browser = customer.get("/self-service/logout", params={"token": "ory_lo_wrong"})
    assert as_browser.status_code == 303 and "/ui/error?id=" in as_browser.headers["location"]
    page = customer.get(as_browser.headers["location"])
    assert "does not match the session cookie" in page.text and "403 Forbidden" in page.text
    assert customer.get("/sessions/whoami").status_code == 200  # still signed in


def test_error_containers(customer: httpx.Client, spec: SpecChecker) -> None:
    stub = parsed(ory_client.FlowError, spec.check(customer.get("/self-service/errors?id=stub:500")).text)
    assert stub.error is not None and stub.error["code"] == 500
    assert customer.get("/self-service/errors?id=nope").status_code == 404
    assert customer.get("/ui/error?id=nope").status_code == 404


@pytest.mark.parametrize(
    ("accept", "offer"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("application/json", "application/json"),
        ("application/json, text/html", "text/html"),
        ("text/html;q=0.5, application/json", "application/json"),
        ("application/json;q=0", "text/html"),
        ("text/*", "text/html"),
    ],
)
def test_negotiation_as_kratos(accept: str | None, offer: str) -> None:
    assert negotiate(accept) == offer
