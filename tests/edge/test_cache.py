"""nginx's decision cache in edge mode, through a real nginx in front of a real gateway.

A decision is reused only for a request with every input of that decision the same (method,
host, path, credential, chosen organization, the page a cookie request comes from); each case
below first gets an allow cached, then sends a request that differs in one input and asserts
what the upstream received: that request's own identity, or nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.edge.conftest import Edge
from tests.support.processes import header_values
from tests.support.seed import API_KEYS, PASSWORDS, browser_login
from tests.support.sessions import cookie_value, extended_session
from tests.support.world import Auth

#: identity headers whose values come from the decision
IDENTITY = ("x-tenant", "x-principal-kind", "x-user-id", "x-org-id", "x-roles", "x-session-id", "x-identity-assertion")
ALICE = "11111111-1111-4111-8111-111111111111"
CAROL = "33333333-3333-4333-8333-333333333333"


class Sent:
    def __init__(self, edge: Edge, response: httpx.Response, trace_id: str) -> None:
        self.response = response
        self.trace_id = trace_id
        self.seen: list[dict[str, Any]] = edge.world.inventory.requests()

    def identity(self) -> dict[str, str]:
        [got] = self.seen
        return {name: ",".join(header_values(got, name)) for name in IDENTITY}


def send(edge: Edge, method: str, path: str, headers: dict[str, str] | None = None, host: str = "gw.test") -> Sent:
    edge.world.inventory.clear()
    trace_id = uuid.uuid4().hex
    head = {"Host": host, "traceparent": f"00-{trace_id}-{'cd' * 8}-01", **(headers or {})}
    response = httpx.request(method, edge.nginx.url + path, headers=head, timeout=15)
    return Sent(edge, response, trace_id)


def decided(edge: Edge, *sent: Sent) -> list[bool]:
    """Whether the gateway was asked about each request (a fresh one tells when the log is out)."""
    marker = send(edge, "GET", f"/customer/echo/marker-{uuid.uuid4().hex}")
    answers = edge.decided([s.trace_id for s in sent], marker.trace_id)
    return [answers[s.trace_id] for s in sent]


@pytest.fixture(scope="module")
def cookie(edge: Edge) -> str:
    name, value = browser_login(edge.world.emulator.base_url, "customer", "alice@acme.example", "alice-password")
    return f"{name}={value}"


def test_an_allow_is_reused_with_its_identity_and_client_copies_still_replaced(edge: Edge, auth: Auth) -> None:
    first = send(edge, "GET", "/customer/echo/reused", auth("alice"))
    again = send(edge, "GET", "/customer/echo/reused", auth("alice") | {"X-User-Id": "evil", "X-ORG-ID": "evil"})
    assert first.response.status_code == again.response.status_code == 200
    assert first.identity() == again.identity()
    assert first.identity()["x-user-id"] == ALICE and first.identity()["x-org-id"] == "org-acme"
    assert [header_values(got, "authorization") for got in first.seen + again.seen] == [[], []]
    assert decided(edge, first, again) == [True, False]


def test_another_persons_credential_is_decided_for_that_person(edge: Edge, auth: Auth) -> None:
    alice = send(edge, "GET", "/customer/echo/person", auth("alice"))
    carol = send(edge, "GET", "/customer/echo/person", auth("carol"))
    nobody = send(edge, "GET", "/customer/echo/person", {"Authorization": "Bearer ory_st_nobody"})
    assert (alice.response.status_code, carol.response.status_code) == (200, 200)
    assert (alice.identity()["x-user-id"], carol.identity()["x-user-id"]) == (ALICE, CAROL)
    assert carol.identity()["x-roles"] == "viewer"
    assert nobody.response.status_code == 401 and nobody.seen == []
    assert decided(edge, alice, carol, nobody) == [True, True, True]


def test_a_request_without_the_cookie_is_not_the_cookies_allow(edge: Edge, cookie: str) -> None:
    with_cookie = send(edge, "GET", "/customer/echo/cookie", {"Cookie": f"theme=dark; {cookie}"})
    assert with_cookie.response.status_code == 200 and with_cookie.identity()["x-user-id"] == ALICE
    # the session cookie never reaches the upstream; the page's other cookies do
    assert header_values(with_cookie.seen[0], "cookie") == ["theme=dark"]
    for headers in ({}, {"Cookie": "theme=dark"}, {"Cookie": cookie.split("=")[0] + "=ory_st_forged"}):
        without = send(edge, "GET", "/customer/echo/cookie", headers)
        assert without.response.status_code == 401, headers
        assert without.response.json()["error"] in ("unauthenticated", "invalid_token")
        assert without.seen == []


def test_another_organization_is_decided_for_that_organization(edge: Edge, auth: Auth) -> None:
    dana = auth("dana")  # a member of org-acme, a viewer of org-globex
    acme = send(edge, "GET", "/customer/echo/org", dana | {"X-Organization-Id": "org-acme"})
    globex = send(edge, "GET", "/customer/echo/org", dana | {"X-Organization-Id": "org-globex"})
    assert (acme.identity()["x-org-id"], acme.identity()["x-roles"]) == ("org-acme", "member")
    assert (globex.identity()["x-org-id"], globex.identity()["x-roles"]) == ("org-globex", "viewer")
    assert all(header_values(got, "x-organization-id") == [] for got in acme.seen + globex.seen)
    unchosen = send(edge, "GET", "/customer/echo/org", dana)
    assert unchosen.response.status_code == 400 and unchosen.seen == []
    assert unchosen.response.json()["error"] == "bad_request"
    elsewhere = send(edge, "GET", "/customer/echo/org", dana | {"X-Organization-Id": "org-initech"})
    assert elsewhere.response.status_code == 403 and elsewhere.seen == []


def test_another_method_and_another_page_are_decided_again(edge: Edge, cookie: str) -> None:
    """A cookie GET is allowed from anywhere; a cookie POST only from the site's own page."""
    read = send(edge, "GET", "/customer/echo/method", {"Cookie": cookie})
    assert read.response.status_code == 200
    for headers in ({"Cookie": cookie}, {"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}):
        write = send(edge, "POST", "/customer/echo/method", headers)
        assert write.response.status_code == 403 and write.response.json()["error"] == "cross_origin_request"
        assert write.seen == []
    own_page = send(edge, "POST", "/customer/echo/method", {"Cookie": cookie, "Sec-Fetch-Site": "same-origin"})
    assert own_page.response.status_code == 200 and own_page.seen[0]["method"] == "POST"
    foreign = send(edge, "POST", "/customer/echo/method", {"Cookie": cookie, "Sec-Fetch-Site": "same-site"})
    assert foreign.response.status_code == 403 and foreign.seen == []


def test_another_host_is_another_tenant(edge: Edge, auth: Auth) -> None:
    customer = send(edge, "GET", "/echo/host", auth("alice"), host="customer.example")
    assert customer.response.status_code == 200 and customer.identity()["x-tenant"] == "customer"
    dealer = send(edge, "GET", "/echo/host", auth("alice"), host="dealer.example")  # alice is no dealer
    assert dealer.response.status_code == 401 and dealer.seen == []
    machine = send(edge, "GET", "/echo/host", auth("machine:partner-inventory:inventory:read"), host="dealer.example")
    assert machine.response.status_code == 200 and machine.identity()["x-tenant"] == "dealer"


def test_a_refreshed_session_cookie_reaches_the_browser_and_no_reused_decision_carries_it(edge: Edge) -> None:
    tenant, identifier, password = PASSWORDS["alice"]
    name, old = extended_session(edge.world.emulator, tenant, identifier, password, API_KEYS[tenant])
    cookie = {"Cookie": f"{name}={old}"}
    first = send(edge, "GET", "/customer/echo/refreshed", cookie)  # whoami refreshes it: never stored
    again = send(edge, "GET", "/customer/echo/refreshed", cookie)  # the gateway's cached decision: stored
    third = send(edge, "GET", "/customer/echo/refreshed", cookie)  # nginx's
    assert [s.response.status_code for s in (first, again, third)] == [200, 200, 200]
    [refreshed] = first.response.headers.get_list("set-cookie")
    assert refreshed.startswith(f"{name}=") and cookie_value(refreshed) not in ("", old)
    assert [s.response.headers.get_list("set-cookie") for s in (again, third)] == [[], []]
    assert decided(edge, first, again, third) == [True, True, False]
    # the upstream is sent none of it, and the same identity each time
    assert [header_values(s.seen[0], "set-cookie") for s in (first, again, third)] == [[], [], []]
    assert first.identity() == again.identity() == third.identity()
    assert first.identity()["x-user-id"] == ALICE
