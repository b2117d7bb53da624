"""The whole seed world as real processes, for end-to-end tests:

Ory emulator (seeded with gateway/demo/seed.yaml) + the real Durably service +
a recording upstream (as `inventory`) + the demo dashboard page (as `dashboard`) + the
gateway under uvicorn with the shipped policies. Log-ins go through the emulator's real Kratos flows.

Fixtures (registered for every suite by tests/conftest.py): `world` (started once per
session), `auth` (one log-in per user, reused), `strict_gateway` (a second gateway on the
same world with tight limits) and `faults` (emulator faults, removed after the test).
The emulator's admin API makes clients and identities on the fly: `create_client`,
`create_identity`; `emulator_calls` counts what reached it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.durably import DurablyServer, durably_server
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.processes import Proc, Recorder, answers, free_port, gateway_process, recording_upstream, running
from tests.support.seed import API_KEYS, CLIENTS, PASSWORDS, SEED, TENANTS, client_token, gateway_env, login

Auth = Callable[[str], dict[str, str]]
#: the strict gateway: 3 token requests per minute per client, decisions cached 1 s
TOKEN_RATE = 3


@dataclass
class World:
    emulator: RunningEmulator
    durably: DurablyServer
    inventory: Recorder
    gateway: Proc
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gateway.url

    def session(self, user: str) -> str:
        """A fresh Kratos session token for a seeded user (native login flow)."""
        return login(self.emulator.base_url, *PASSWORDS[user])

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session(user)}"}

    def machine_token(self, client_id: str, scope: str) -> str:
        tenant, secret = CLIENTS[client_id]
        return client_token(self.emulator.base_url, tenant, client_id, secret, scope)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15)


@contextmanager
def start_world(extra_env: Mapping[str, str] | None = None) -> Iterator[World]:
    with ExitStack() as stack:
        emulator = stack.enter_context(start_emulator(TENANTS, seed=SEED))
        durably = stack.enter_context(durably_server())
        inventory = stack.enter_context(recording_upstream())
        dashboard = stack.enter_context(dashboard_process())
        env = gateway_env(free_port(), emulator.base_url, durably.base_url, inventory.url, dashboard.url)
        env.update(extra_env or {})
        gateway = stack.enter_context(gateway_process(env))
        yield World(emulator, durably, inventory, gateway, env)


def dashboard_process() -> contextlib.AbstractContextManager[Proc]:
    """The demo dashboard (gateway.demo.dashboard) on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return running([sys.executable, "-m", "gateway.demo.dashboard", "--port", str(port)], url, answers(url + "/health"))


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """Emulator + Durably + recording upstream + gateway, started once per test session."""
    with start_world() as running:
        yield running


@pytest.fixture(scope="session")
def auth(world: World) -> Auth:
    """`auth("alice")` -> Authorization header of one session per user for the whole run;
    `auth("machine:partner-inventory:jobs:read jobs:write")` -> a client-credentials token."""
    cache: dict[str, dict[str, str]] = {}

    def get(who: str) -> dict[str, str]:
        if who not in cache:
            if who.startswith("machine:"):
                _, client, scope = who.split(":", 2)
                cache[who] = {"Authorization": f"Bearer {world.machine_token(client, scope)}"}
            else:
                cache[who] = world.bearer(who)
        return cache[who]

    return get


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
