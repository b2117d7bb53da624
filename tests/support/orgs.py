"""Organizations and permissions end to end: people made on the fly with memberships, Keto
relationships written through the emulator's admin API, and two more gateways on the
session world.

Fixtures (registered for every suite by tests/conftest.py, started on first use):
`orgs` - an `Orgs` with `metadata` (the shipped policies, memberships from identity
metadata) and `keto` (the customer tenant's memberships from Keto) gateways, both with an
admin token for `POST /_gateway/revoke` and streams re-checked every second.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.processes import Proc, free_port, gateway_process
from tests.support.seed import login
from tests.support.world import World, admin_headers, create_identity, emulator_calls

ADMIN_TOKEN = "orgs-admin-token-0123456789"
DANA = "55555555-5555-4555-8555-555555555555"


@dataclass
class Person:
    id: str
    email: str
    headers: dict[str, str]


@dataclass
class Orgs:
    world: World
    metadata: Proc
    keto: Proc

    def person(self, metadata: Any, tenant: str = "customer") -> Person:
        """A new identity with `metadata_public`, logged in (bearer session token)."""
        email = f"p-{uuid.uuid4().hex[:10]}@orgs.example"
        body = {"traits": {"email": email}, "metadata_public": metadata}
        body["credentials"] = {"password": {"config": {"password": "orgs-password"}}}
        created = create_identity(self.world, tenant, **body)
        token = login(self.world.emulator.base_url, tenant, email, "orgs-password")
        return Person(created["id"], email, {"Authorization": f"Bearer {token}"})

    def set_metadata(self, person: Person, metadata: Any, tenant: str = "customer") -> None:
        body = {"schema_id": "default", "traits": {"email": person.email}, "state": "active"}
        url = f"{self.world.emulator.project_url(tenant)}/admin/identities/{person.id}"
        resp = httpx.put(url, json={**body, "metadata_public": metadata}, headers=admin_headers(tenant))
        assert resp.status_code == 200, resp.text

    def relate(self, tenant: str = "customer", **tuple_: Any) -> None:
        url = f"{self.world.emulator.project_url(tenant)}/admin/relation-tuples"
        resp = httpx.put(url, json=tuple_, headers=admin_headers(tenant))
        assert resp.status_code == 201, resp.text

    def unrelate(self, tenant: str = "customer", **query: str) -> None:
        url = f"{self.world.emulator.project_url(tenant)}/admin/relation-tuples"
        resp = httpx.delete(url, params=query, headers=admin_headers(tenant))
        assert resp.status_code == 204, resp.text

    def keto_calls(self, operation: str, tenant: str = "customer") -> int:
        return emulator_calls(self.world, tenant, operation)


def revoke(gateway: Proc, tenant: str, **what: str) -> dict[str, Any]:
    """`POST /_gateway/revoke` on one gateway (a subject or an organization)."""
    resp = httpx.post(
        gateway.url + "/_gateway/revoke",
        json={"tenant": tenant, **what},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def report_id() -> str:
    return f"r-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def orgs(world: World) -> Iterator[Orgs]:
    common = {"GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN, "GATEWAY_STREAM_RECHECK_SECONDS": "1"}
    with ExitStack() as stack:
        metadata = stack.enter_context(
            gateway_process(world.env | common | {"GATEWAY_LISTEN": f"127.0.0.1:{free_port()}"})
        )
        keto_env = world.env | common | {"GATEWAY_LISTEN": f"127.0.0.1:{free_port()}"}
        keto = stack.enter_context(gateway_process(keto_env | {"GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS": "keto"}))
        yield Orgs(world, metadata, keto)
