"""POST /<tenant>/oauth2/token through the gateway, and the tenant's JWKS and discovery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.processes import Proc
from tests.support.world import TOKEN_RATE, World

PARTNER = ("partner-inventory", "partner-inventory-secret")
GRANT = {"grant_type": "client_credentials"}


def both(world: World, tenant: str, **request: Any) -> tuple[httpx.Response, httpx.Response]:
    """The same token request sent to the emulator directly and through the gateway."""
    direct = httpx.post(f"{world.emulator.project_url(tenant)}/oauth2/token", **request)
    relayed = httpx.post(f"{world.url}/{tenant}/oauth2/token", **request)
    return direct, relayed


def test_client_secret_basic_with_scope(world: World) -> None:
    resp = httpx.post(f"{world.url}/dealer/oauth2/token", auth=PARTNER, data={**GRANT, "scope": "inventory:read"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["scope"] == "inventory:read" and body["token_type"] == "bearer"
    assert body["access_token"].startswith("ory_at_") and 3500 < body["expires_in"] <= 3600
    assert resp.headers["cache-control"] == "no-store" and resp.headers["pragma"] == "no-cache"
    assert resp.headers["content-type"] == "application/json;charset=UTF-8"
    assert resp.headers["x-request-id"]


def test_client_secret_post(world: World) -> None:
    form = {**GRANT, "scope": "inventory:read", "client_id": "partner-post", "client_secret": "partner-post-secret"}
    resp = httpx.post(f"{world.url}/dealer/oauth2/token", data=form)
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == "inventory:read"


def test_audience_is_passed_through(world: World) -> None:
    from tests.support.world import create_client

    client = create_client(
        world,
        "dealer",
        grant_types=["client_credentials"],
        scope="inventory:read",
        audience=["https://inventory.example"],
        metadata={"organization_id": "org-aud"},
    )
    auth = (client["client_id"], client["client_secret"])
    ok = httpx.post(
        f"{world.url}/dealer/oauth2/token", auth=auth, data={**GRANT, "audience": "https://inventory.example"}
    )
    assert ok.status_code == 200, ok.text
    introspected = httpx.post(
        f"{world.emulator.project_url('dealer')}/admin/oauth2/introspect",
        data={"token": ok.json()["access_token"]},
        headers={"Authorization": "Bearer ory_pat_dealer_demo"},
    ).json()
    assert introspected["aud"] == ["https://inventory.example"]
    direct, relayed = both(world, "dealer", auth=auth, data={**GRANT, "audience": "https://elsewhere.example"})
    assert relayed.status_code == direct.status_code == 400
    assert relayed.content == direct.content


@pytest.mark.parametrize(
    ("case", "request_", "status", "error"),
    [
        ("wrong secret", {"auth": ("partner-inventory", "wrong"), "data": GRANT}, 401, "invalid_client"),
        ("unknown client", {"auth": ("nobody", "whatever"), "data": GRANT}, 401, "invalid_client"),
        ("scope not granted", {"auth": PARTNER, "data": {**GRANT, "scope": "admin:all"}}, 400, "invalid_scope"),
        ("unknown grant type", {"auth": PARTNER, "data": {"grant_type": "password"}}, 400, "invalid_request"),
        ("missing grant type", {"auth": PARTNER, "data": {"scope": "inventory:read"}}, 400, "invalid_request"),
        ("no credentials", {"data": GRANT}, 400, "invalid_request"),
        (
            "wrong auth method",
            {"data": {**GRANT, "client_id": PARTNER[0], "client_secret": PARTNER[1]}},
            401,
            "invalid_client",
        ),
        ("malformed basic", {"headers": {"Authorization": "Basic !!!"}, "data": GRANT}, None, None),
    ],
)
def test_oauth2_errors_come_back_unchanged(
    world: World, case: str, request_: dict[str, Any], status: int | None, error: str | None
) -> None:
    direct, relayed = both(world, "dealer", **request_)
    assert relayed.status_code == direct.status_code, case
    if status is not None:
        assert relayed.status_code == status
        assert relayed.json()["error"] == error
    assert relayed.content == direct.content
    for header in ("content-type", "cache-control", "pragma"):
        assert relayed.headers.get(header) == direct.headers.get(header), header
    assert "www-authenticate" not in relayed.headers or "www-authenticate" in direct.headers


def test_no_caching_two_calls_two_tokens(world: World) -> None:
    tokens = {
        httpx.post(f"{world.url}/dealer/oauth2/token", auth=PARTNER, data={**GRANT, "scope": "jobs:read"}).json()[
            "access_token"
        ]
        for _ in range(2)
    }
    assert len(tokens) == 2


def test_each_tenant_relays_to_its_own_hydra(world: World) -> None:
    customer = httpx.post(
        f"{world.url}/customer/oauth2/token",
        auth=("customer-gateway", "customer-gateway-secret"),
        data={**GRANT, "scope": "jobs:read"},
    )
    assert customer.status_code == 200, customer.text
    # a dealer client is unknown to the customer tenant's Hydra
    wrong_tenant = httpx.post(f"{world.url}/customer/oauth2/token", auth=PARTNER, data=GRANT)
    assert wrong_tenant.status_code == 401 and wrong_tenant.json()["error"] == "invalid_client"


def test_rate_limited_per_client_id(world: World, strict_gateway: Proc) -> None:
    url = f"{strict_gateway.url}/dealer/oauth2/token"
    limited = ("dealer-gateway", "dealer-gateway-secret")
    answers = [httpx.post(url, auth=limited, data=GRANT) for _ in range(TOKEN_RATE)]
    assert [a.status_code for a in answers] == [200] * TOKEN_RATE
    refused = httpx.post(url, auth=limited, data=GRANT)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # wrong secrets for the same client id count too (no brute force past the limit)
    assert httpx.post(url, auth=(limited[0], "guess"), data=GRANT).status_code == 429
    # the client id sent in the form (client_secret_post) is limited the same way
    post_form = {**GRANT, "client_id": limited[0], "client_secret": limited[1]}
    assert httpx.post(url, data=post_form).status_code == 429
    # other clients, and the same client id at another tenant, are unaffected
    other = httpx.post(url, auth=PARTNER, data=GRANT)
    assert other.status_code == 200, other.text
    same_id_other_tenant = httpx.post(f"{strict_gateway.url}/customer/oauth2/token", auth=limited, data=GRANT)
    assert same_id_other_tenant.status_code == 401  # Hydra's answer, not the limiter's


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "drop"},
        {"mode": "status", "status": 503},
        {"mode": "status", "status": 500},
        {"mode": "garbage"},
        {"mode": "delay", "seconds": 4},
    ],
    ids=["drop", "503", "500", "garbage", "timeout"],
)
def test_hydra_down_is_503_with_retry_after(world: World, faults: Callable[..., None], fault: dict[str, Any]) -> None:
    faults(project="dealer", operation="token", **fault)
    resp = httpx.post(f"{world.url}/dealer/oauth2/token", auth=PARTNER, data=GRANT, timeout=10)
    assert resp.status_code == 503
    assert int(resp.headers["retry-after"]) >= 1
    assert resp.json()["error"] == "ory_unavailable"
    assert "access_token" not in resp.text


def test_hydra_rate_limit_is_passed_back(world: World, faults: Callable[..., None]) -> None:
    faults(project="dealer", operation="token", mode="status", status=429, seconds=7)
    resp = httpx.post(f"{world.url}/dealer/oauth2/token", auth=PARTNER, data=GRANT)
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "7"


def test_jwks_through_the_gateway(world: World) -> None:
    direct = httpx.get(f"{world.emulator.project_url('dealer')}/.well-known/jwks.json")
    relayed = httpx.get(f"{world.url}/dealer/.well-known/jwks.json")
    assert relayed.status_code == 200
    assert relayed.json() == direct.json()
    assert all("d" not in key for key in relayed.json()["keys"])  # public keys only
    # the gateway's own assertion keys stay at the root, separate from the tenant's Hydra keys
    own = httpx.get(f"{world.url}/.well-known/jwks.json").json()
    assert {k["kid"] for k in own["keys"]}.isdisjoint(k["kid"] for k in relayed.json()["keys"])


def test_discovery_points_partners_at_the_gateway(world: World) -> None:
    direct = httpx.get(f"{world.emulator.project_url('dealer')}/.well-known/openid-configuration").json()
    resp = httpx.get(f"{world.url}/dealer/.well-known/openid-configuration")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["issuer"] == direct["issuer"]  # tokens carry Hydra's issuer: never rewritten
    assert doc["token_endpoint"] == f"{world.url}/dealer/oauth2/token"
    assert doc["jwks_uri"] == f"{world.url}/dealer/.well-known/jwks.json"
    assert {k: v for k, v in doc.items() if k not in ("token_endpoint", "jwks_uri")} == {
        k: v for k, v in direct.items() if k not in ("token_endpoint", "jwks_uri")
    }
    # a partner that knows only the gateway: discovery -> token -> partner API
    token = httpx.post(doc["token_endpoint"], auth=PARTNER, data={**GRANT, "scope": "inventory:read"}).json()
    api = httpx.get(
        f"{world.url}/dealer/partner-api/inventory", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert api.status_code == 200, api.text


def test_public_oauth2_endpoints_503_when_hydra_is_down(world: World, faults: Callable[..., None]) -> None:
    faults(project="dealer", path_prefix="/.well-known/", mode="drop")
    for path in ("/.well-known/jwks.json", "/.well-known/openid-configuration"):
        resp = httpx.get(f"{world.url}/dealer{path}")
        assert resp.status_code == 503, path
        assert resp.headers["retry-after"]


def test_token_endpoint_takes_only_post(world: World) -> None:
    resp = httpx.get(f"{world.url}/dealer/oauth2/token")
    assert resp.status_code == 405
