"""TokenService (gateway.ory.client_credentials): authlib client-credentials against the
tenant's Hydra in the live world, its cache moved by an injected clock."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from gateway.config.settings import Settings
from gateway.load import load_settings
from gateway.ory.client_credentials import TokenError, TokenService
from tests.support.clock import FakeClock
from tests.support.world import World, create_client, emulator_calls


@pytest.fixture
def settings(world: World) -> Settings:
    return load_settings(world.env)


def dealer_service(settings: Settings, clock: FakeClock | None = None, **changes: Any) -> TokenService:
    tenant = dataclasses.replace(settings.tenants["dealer"], **changes)
    return TokenService(tenant, clock=clock or FakeClock())


async def test_for_tenant_returns_a_token(world: World, settings: Settings) -> None:
    token = await TokenService.for_tenant("dealer", settings).client_credentials(["inventory:read"])
    assert set(token) == {"access_token", "token_type", "expires_in", "scope"}
    assert token["token_type"] == "bearer" and token["scope"] == "inventory:read"
    assert token["access_token"].startswith("ory_at_") and 3500 < token["expires_in"] <= 3600
    assert TokenService.for_tenant("dealer", settings) is TokenService.for_tenant("dealer", settings)


async def test_cached_until_shortly_before_expiry(world: World, settings: Settings) -> None:
    clock = FakeClock()
    service = dealer_service(settings, clock)
    world.emulator.control("POST", "stats/reset")
    first = await service.client_credentials(["inventory:read"])
    clock.now += 3000
    again = await service.client_credentials(["inventory:read"])
    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == first["expires_in"] - 3000  # what is left, not the original lifetime
    assert emulator_calls(world, "dealer", "token") == 1
    other_scope = await service.client_credentials(["jobs:read"])  # another scope set: another token
    assert other_scope["access_token"] != first["access_token"]
    assert emulator_calls(world, "dealer", "token") == 2
    clock.now += first["expires_in"] - 3000 - 20  # 20 s before expiry: inside the renewal margin
    renewed = await service.client_credentials(["inventory:read"])
    assert renewed["access_token"] != first["access_token"]
    assert emulator_calls(world, "dealer", "token") == 3


async def test_concurrent_callers_share_one_fetch(world: World, settings: Settings) -> None:
    service = dealer_service(settings)
    world.emulator.control("POST", "stats/reset")
    tokens = await asyncio.gather(*(service.client_credentials(["inventory:read", "jobs:read"]) for _ in range(20)))
    assert len({t["access_token"] for t in tokens}) == 1
    assert emulator_calls(world, "dealer", "token") == 1


async def test_invalid_client_names_the_tenant(world: World, settings: Settings) -> None:
    with pytest.raises(TokenError) as caught:
        await dealer_service(settings, client_secret="not-the-secret").client_credentials(["inventory:read"])
    assert caught.value.tenant == "dealer" and caught.value.error == "invalid_client"
    assert str(caught.value).startswith("tenant 'dealer': invalid_client")


async def test_invalid_scope_names_the_tenant(world: World, settings: Settings) -> None:
    with pytest.raises(TokenError) as caught:
        await dealer_service(settings).client_credentials(["jobs:write"])  # dealer-gateway lacks it
    assert caught.value.error == "invalid_scope"
    assert "tenant 'dealer'" in str(caught.value) and "jobs:write" in str(caught.value)


async def test_hydra_down_is_a_token_error(world: World, settings: Settings) -> None:
    world.emulator.control(
        "POST", "faults", {"project": "dealer", "operation": "token", "mode": "status", "status": 503}
    )
    try:
        with pytest.raises(TokenError) as caught:
            await dealer_service(settings).client_credentials(["inventory:read"])
    finally:
        world.emulator.control("DELETE", "faults")
    assert caught.value.error == "unavailable" and caught.value.tenant == "dealer"
    assert "the identity service (hydra) answered 503" in str(caught.value)  # translated by gateway.ory.http


async def test_secrets_are_form_urlencoded_in_basic_auth(world: World, settings: Settings) -> None:
    secret = "s+cr%t:x/y ?&="
    client = create_client(
        world, "dealer", client_secret=secret, grant_types=["client_credentials"], scope="inventory:read"
    )
    service = dealer_service(settings, client_id=client["client_id"], client_secret=secret)
    token = await service.client_credentials(["inventory:read"])
    assert token["scope"] == "inventory:read"


def test_unknown_tenant_and_missing_client(settings: Settings) -> None:
    with pytest.raises(TokenError, match="tenant 'nowhere': unknown_tenant"):
        TokenService.for_tenant("nowhere", settings)
    with pytest.raises(TokenError, match="GATEWAY_TENANT_CUSTOMER_CLIENT_ID"):
        TokenService.for_tenant("customer", settings)  # the customer tenant has no client of its own
