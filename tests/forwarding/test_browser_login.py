"""Browsers without a session are sent to the tenant's login and back, only to allowed places."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.procs import Proc, gateway_process
from tests.support.world import World

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
