"""Fixtures for the partner suite: a second gateway with tight limits, the emulator's
admin API (clients and identities made on the fly), and fault clean-up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gateway.demo.world import API_KEYS
from gateway.emulator.testing import free_port
from tests.support.procs import Proc, gateway_process
from tests.support.world import World

#: the strict gateway: 3 token requests per minute per client, decisions cached 1 s
TOKEN_RATE = 3


@pytest.fixture(scope="session")
def strict_gateway(world: World) -> Iterator[Proc]:
    env = world.env | {
        "GATEWAY_LISTEN": f"127.0.0.1:{free_port()}",
        "GATEWAY_TOKEN_RATE_PER_MINUTE": str(TOKEN_RATE),
        "GATEWAY_CACHE_MAX_TTL": "1",
    }
    env.pop("GATEWAY_PUBLIC_URL", None)
    with gateway_process(env) as proc:
        yield proc


@pytest.fixture
def faults(world: World) -> Iterator[Callable[..., None]]:
    """`faults(project=..., operation=..., mode=...)` adds an emulator fault; all are removed after the test."""

    def add(**fault: Any) -> None:
        world.emulator.control("POST", "faults", fault).raise_for_status()

    try:
        yield add
    finally:
        world.emulator.control("DELETE", "faults").raise_for_status()


def admin_headers(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEYS[tenant]}"}


def create_client(world: World, tenant: str, **body: Any) -> dict[str, Any]:
    """An OAuth2 client made through the emulator's Hydra admin API (secret included)."""
    resp = httpx.post(f"{world.emulator.project_url(tenant)}/admin/clients", json=body, headers=admin_headers(tenant))
    assert resp.status_code == 201, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


def create_identity(world: World, tenant: str, **body: Any) -> dict[str, Any]:
    url = f"{world.emulator.project_url(tenant)}/admin/identities"
    resp = httpx.post(url, json={"schema_id": "default", **body}, headers=admin_headers(tenant))
    assert resp.status_code == 201, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


def emulator_calls(world: World, tenant: str, operation: str) -> int:
    stats = world.emulator.control("GET", "stats").json()
    return int(stats["projects"].get(tenant, {}).get(operation, 0))


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()
