"""What nginx in edge mode says about the client: its own view, or a trusted peer's."""

from __future__ import annotations

import httpx

from tests.edge.conftest import Edge
from tests.support.fronts import edge_front
from tests.support.processes import header_values
from tests.support.world import Auth

CLAIMED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Request-Id": "req-from-the-peer"}


def forwarded(edge: Edge, url: str, auth: Auth) -> dict[str, list[str]]:
    edge.world.inventory.clear()
    resp = httpx.get(url + "/customer/echo/forwarded", headers=auth("alice") | CLAIMED | {"Host": "gw.test"})
    assert resp.status_code == 200, resp.text
    [got] = edge.world.inventory.requests()
    names = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id")
    seen = {name: header_values(got, name) for name in names}
    seen["answered-request-id"] = resp.headers.get_list("x-request-id")
    return seen


def test_a_client_says_nothing_about_itself(edge: Edge, auth: Auth) -> None:
    seen = forwarded(edge, edge.nginx.url, auth)
    assert seen["x-forwarded-for"] == ["127.0.0.1"] and seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == ["gw.test"]
    [request_id] = seen["x-request-id"]
    assert request_id != CLAIMED["X-Request-Id"] and seen["answered-request-id"] == [request_id]


def test_a_trusted_peer_is_believed_as_the_gateway_would(edge: Edge, auth: Auth) -> None:
    """nginx behind another proxy (here: the test client, trusted on loopback)."""
    with edge_front(edge.env, "--trusted-proxies", "127.0.0.1/32") as behind:
        seen = forwarded(edge, behind.url, auth)
    assert seen["x-forwarded-for"] == ["203.0.113.7, 127.0.0.1"] and seen["x-forwarded-proto"] == ["https"]
    assert seen["x-request-id"] == [CLAIMED["X-Request-Id"]] == seen["answered-request-id"]
