"""Browsers (gateway.front.login): where one may be sent back to after logging in
(docs/security.md: redirects), and, on a live gateway, a page load without a session sent to
the tenant's login and back, only to allowed places."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.front.login import login_url, safe_return_to
from gateway.load import load_settings
from tests.support.processes import Proc, gateway_process
from tests.support.seed import browser_login
from tests.support.world import World

HOSTS = ("app.customer.example", "customer.example")


@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/dashboard",
        "/customer/api/durably/runs?x=1",
        "/a/b%20c",
        "https://app.customer.example/after",
        "http://customer.example:8443/x?y=1",
        "https://APP.customer.example./z",
    ],
)
def test_allowed(value: str) -> None:
    assert safe_return_to(value, HOSTS) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "//evil.example",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2f%2fevil.example",
        "/%2F/evil.example",
        "/%252f%252fevil.example",
        "/%5cevil.example",
        "https://evil.example/",
        "https://customer.example.evil.example/",
        "https://evil-customer.example/",
        "https://app.customer.example@evil.example/",
        "https://evil.example#@app.customer.example",
        "https://evil.example?@app.customer.example",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https:/evil.example",
        "https:evil.example",
        "ftp://app.customer.example/",
        "/\x00x",
        "/x\r\nLocation: https://evil.example",
        "evil.example",
        "app.customer.example/x",
        "/" + "a" * 3000,
    ],
)
def test_refused(value: str) -> None:
    assert safe_return_to(value, HOSTS) is None


def test_login_url_is_kratos_browser_flow_by_default_and_encodes_return_to() -> None:
    settings = load_settings(
        {
            "GATEWAY_TENANTS": "customer",
            "GATEWAY_TENANT_CUSTOMER_MODE": "self-hosted",
            "GATEWAY_TENANT_CUSTOMER_KRATOS_PUBLIC_URL": "https://auth.customer.example",
            "GATEWAY_TENANT_CUSTOMER_HOSTS": "app.customer.example",
        }
    )
    tenant = settings.tenants["customer"]
    assert tenant.return_to_hosts == ("app.customer.example", "127.0.0.1")  # HOSTS + the public URL's host
    url = login_url(tenant, "https://app.customer.example/a?b=1&c=2")
    assert url == (
        "https://auth.customer.example/self-service/login/browser"
        "?return_to=https%3A%2F%2Fapp.customer.example%2Fa%3Fb%3D1%26c%3D2"
    )


# --- a live gateway: the redirect to the login and the `login` built-in ------------------

PAGE = {"Accept": "text/html,application/xhtml+xml", "Host": "app.customer.example"}


@pytest.fixture(scope="module")
def site(world: World) -> Iterator[Proc]:
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_LISTEN"}
    env |= {"GATEWAY_TENANT_CUSTOMER_HOSTS": "app.customer.example", "GATEWAY_TENANT_CUSTOMER_TRANSPORT": "cookie"}
    with gateway_process(env) as proc:
        yield proc


def _return_to(resp: httpx.Response) -> str:
    location = urlsplit(resp.headers["location"])
    return parse_qs(location.query)["return_to"][0]


def test_page_load_without_session_is_sent_to_login_with_the_page_as_return_to(world: World, site: Proc) -> None:
    world.durably.recorder.clear()
    resp = httpx.get(site.url + "/api/durably/runs?status=done", headers=PAGE)
    assert resp.status_code == 303
    assert resp.headers["location"].startswith(world.emulator.project_url("customer") + "/self-service/login/browser?")
    assert _return_to(resp) == "http://app.customer.example/api/durably/runs?status=done"
    assert world.durably.recorder.requests() == []


def test_api_calls_and_spoofed_hosts_get_401_not_a_redirect(site: Proc) -> None:
    api = httpx.get(site.url + "/api/durably/runs", headers={"Host": "app.customer.example"})
    assert api.status_code == 401 and "location" not in api.headers
    # a Host that is not the tenant's never becomes a return_to
    spoofed = httpx.get(site.url + "/customer/api/durably/runs", headers={**PAGE, "Host": "evil.example"})
    assert spoofed.status_code == 401 and "location" not in spoofed.headers


def test_a_bad_session_is_401_not_a_redirect(site: Proc) -> None:
    resp = httpx.get(site.url + "/api/durably/runs", headers={**PAGE, "Cookie": "ory_session_customer=forged"})
    assert resp.status_code == 401 and "location" not in resp.headers


@pytest.mark.parametrize(
    ("return_to", "status"),
    [
        ("/after/login", 303),
        ("https://app.customer.example/x", 303),
        ("//evil.example/x", 400),
        ("/\\evil.example", 400),
        ("https://app.customer.example.evil.example/", 400),
        ("https://app.customer.example@evil.example/", 400),
        ("/%2f%2fevil.example", 400),
    ],
)
def test_login_builtin_checks_return_to(site: Proc, return_to: str, status: int) -> None:
    host = {"Host": "app.customer.example"}
    resp = httpx.get(site.url + "/auth/login", params={"return_to": return_to}, headers=host)
    assert resp.status_code == status
    if status == 303:
        assert _return_to(resp) == return_to
    else:
        assert resp.json()["error"] == "bad_request" and "location" not in resp.headers


def test_two_return_tos_are_ambiguous(site: Proc) -> None:
    resp = httpx.get(
        site.url + "/auth/login?return_to=/a&return_to=https://evil.example/", headers={"Host": "app.customer.example"}
    )
    assert resp.status_code == 400


# --- the `logout` built-in ------------------------------------------------------------


def test_logout_runs_kratos_browser_logout_flow_for_the_cookie(world: World) -> None:
    name, value = browser_login(world.emulator.base_url, "customer", "carol@acme.example", "carol-password")
    jar = {"Cookie": f"{name}={value}", "Origin": world.url}
    resp = httpx.post(world.url + "/customer/auth/logout", params={"return_to": "/customer/"}, headers=jar)
    assert resp.status_code == 303
    location = resp.headers["location"]
    assert location.startswith(world.emulator.project_url("customer") + "/self-service/logout?token=ory_lo_")
    assert parse_qs(urlsplit(location).query)["return_to"] == [world.url + "/customer/"]
    done = httpx.get(location, headers={"Cookie": f"{name}={value}"})
    assert done.status_code == 303 and done.headers["location"] == world.url + "/customer/"
    again = httpx.get(world.url + "/customer/api/durably/runs", headers={"Cookie": f"{name}={value}"})
    assert again.status_code == 401


def test_logout_refusals(world: World) -> None:
    name, value = browser_login(world.emulator.base_url, "customer", "carol@acme.example", "carol-password")
    cookie = {"Cookie": f"{name}={value}"}
    foreign = httpx.post(world.url + "/customer/auth/logout", headers={**cookie, "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["error"] == "cross_origin_request"
    assert httpx.post(world.url + "/customer/auth/logout").status_code == 401
    off_site = httpx.post(
        world.url + "/customer/auth/logout",
        params={"return_to": "https://evil.example/"},
        headers={**cookie, "Origin": world.url},
    )
    assert off_site.status_code == 400 and off_site.json()["error"] == "bad_request"
    still = httpx.get(world.url + "/customer/api/durably/runs", headers=cookie)
    assert still.status_code == 200  # none of those signed carol out
