"""The whole seed world as real processes, for end-to-end tests:

Ory emulator (seeded with gateway/demo/seed.yaml) + the real Durably service +
a recording upstream (as `inventory`) + the gateway under uvicorn with the shipped
policies. Log-ins go through the emulator's real Kratos flows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx

from gateway.demo.world import SEED, TENANTS, client_token, gateway_env, login
from gateway.emulator.testing import RunningEmulator, free_port, start_emulator
from tests.durably.harness import DurablyServer, durably_server
from tests.support.procs import Proc, Recorder, gateway_process, recording_upstream

PASSWORDS = {
    "alice": ("customer", "alice@acme.example", "alice-password"),
    "bob": ("customer", "bob@globex.example", "bob-password"),
    "carol": ("customer", "carol@acme.example", "carol-password"),
    "nora": ("customer", "nora@nowhere.example", "nora-password"),
    "sam": ("admin", "sam@platform.example", "sam-password"),
    "eve": ("admin", "eve@platform.example", "eve-password"),
    "ada": ("admin", "ada@platform.example", "ada-password"),
    "dave": ("dealer", "dave@dealer.example", "dave-password"),
}
CLIENTS = {
    "partner-inventory": ("dealer", "partner-inventory-secret"),
    "partner-jwt": ("dealer", "partner-jwt-secret"),
    "dealer-gateway": ("dealer", "dealer-gateway-secret"),
    "customer-gateway": ("customer", "customer-gateway-secret"),
    "partner-post": ("dealer", "partner-post-secret"),
    "admin-ops": ("admin", "admin-ops-secret"),
}


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
        env = gateway_env(free_port(), emulator.base_url, durably.base_url, inventory.url)
        env.update(extra_env or {})
        gateway = stack.enter_context(gateway_process(env))
        yield World(emulator, durably, inventory, gateway, env)
