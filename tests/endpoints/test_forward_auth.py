"""Forward-auth decisions (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz conventions)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import Proc, gateway_process
from tests.support.world import World


@pytest.fixture(scope="module")
def trusting_gateway(world: World) -> Iterator[Proc]:
    """A second gateway on the same world that trusts loopback as its fronting proxy."""
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_LISTEN"}
    with gateway_process({**env, "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"}) as proc:
        yield proc


def test_path_style_allows_machine_with_scope_and_returns_identity_headers(world: World) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    with world.client() as http:
        resp = http.get("/decisions/dealer/partner-api/inventory", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-client-id"] == "partner-inventory"
    assert resp.headers["x-org-id"] == "org-partner"
    assert resp.headers["x-tenant"] == "dealer"
    assert resp.headers["x-identity-assertion"].count(".") == 2


def test_denial_keeps_its_status_and_www_authenticate(world: World) -> None:
    with world.client() as http:
        resp = http.get("/decisions/dealer/partner-api/inventory")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Bearer realm="dealer"'
    assert "x-client-id" not in resp.headers


def test_scope_missing_is_403(world: World) -> None:
    token = world.machine_token("partner-inventory", "jobs:read")
    with world.client() as http:
        resp = http.get("/decisions/dealer/partner-api/inventory", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    assert resp.json()["error"] == "forbidden"


def test_label_routes_are_refused_because_forward_auth_cannot_enforce_labels(world: World) -> None:
    with world.client() as http:
        resp = http.get("/decisions/customer/api/durably/runs", headers=world.bearer("alice"))
    assert resp.status_code == 403
    assert "needs the gateway" in resp.json()["error_description"]


def test_nginx_style_headers_are_believed_only_from_trusted_proxies(world: World, trusting_gateway: Proc) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    described = {
        "Authorization": f"Bearer {token}",
        "X-Original-Method": "GET",
        "X-Original-URI": "/dealer/partner-api/inventory?x=1",
    }
    trusted = httpx.get(trusting_gateway.url + "/decisions", headers=described)
    assert trusted.status_code == 200, trusted.text
    assert trusted.headers["x-client-id"] == "partner-inventory"
    untrusted = httpx.get(world.url + "/decisions", headers=described)
    # from an untrusted peer the headers describe nothing: "/" of the default tenant has no route
    assert untrusted.status_code == 404


def test_traefik_method_header_changes_the_decision(world: World, trusting_gateway: Proc) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    resp = httpx.get(
        trusting_gateway.url + "/decisions",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Forwarded-Method": "DELETE",
            "X-Forwarded-Uri": "/dealer/partner-api/inventory",
        },
    )
    assert resp.status_code == 405
