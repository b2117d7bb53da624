"""GET /admin/customers/{id}: staff of the admin tenant read customer identities."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from gateway.load import load_settings
from gateway.ory.identities import IdentityService
from gateway.ory.pool import OryPool
from tests.support.polling import eventually
from tests.support.world import World, create_identity, emulator_calls

ALICE = "11111111-1111-4111-8111-111111111111"


@pytest.fixture(scope="module")
def customer(world: World) -> dict[str, Any]:
    """A customer identity with a password and admin metadata (which must never come out)."""
    return create_identity(
        world,
        "customer",
        traits={"email": f"zoe-{uuid.uuid4().hex[:8]}@acme.example"},
        credentials={"password": {"config": {"password": "zoe-password-1"}}},
        metadata_public={"organization_id": "org-acme", "roles": ["member"]},
        metadata_admin={"risk": "secret-admin-note", "crm": "4711"},
    )


def lookup(world: World, identity_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{world.url}/admin/customers/{identity_id}", headers=headers or {})


def audit_lines(world: World) -> list[dict[str, Any]]:
    lines = []
    for line in world.gateway.output().splitlines():
        if '"identity_read"' in line:
            lines.append(json.loads(line))
    return lines


@pytest.mark.parametrize("staff", ["sam", "ada"])  # platform:support, platform:admin
def test_staff_read_without_credentials_or_admin_metadata(world: World, customer: dict[str, Any], staff: str) -> None:
    direct = httpx.get(
        f"{world.emulator.project_url('customer')}/admin/identities/{customer['id']}",
        params={"include_credential": "password"},
        headers={"Authorization": "Bearer ory_pat_customer_demo"},
    ).json()
    assert "credentials" in direct and direct["metadata_admin"]["risk"] == "secret-admin-note"  # they do exist
    resp = lookup(world, customer["id"], world.bearer(staff))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == customer["id"] and body["traits"] == customer["traits"]
    assert body["metadata_public"] == {"organization_id": "org-acme", "roles": ["member"]}
    assert "credentials" not in body and "metadata_admin" not in body
    assert "secret-admin-note" not in resp.text and "zoe-password" not in resp.text
    assert resp.headers["cache-control"] == "no-store"


def test_every_read_is_audit_logged(world: World, customer: dict[str, Any]) -> None:
    resp = lookup(world, customer["id"], world.bearer("sam"))
    assert resp.status_code == 200
    request_id = resp.headers["x-request-id"]
    assert eventually(lambda: any(line["request_id"] == request_id for line in audit_lines(world)))
    (line,) = [line for line in audit_lines(world) if line["request_id"] == request_id]
    assert line["event"] == "identity_read"
    assert line["actor"] == "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"  # sam's identity id
    assert line["actor_tenant"] == "admin" and line["target_tenant"] == "customer"
    assert line["identity_id"] == customer["id"] and line["found"] is True
    assert line["timestamp"].endswith("Z") and line["timestamp"][:4].isdigit()
    # a lookup of an unknown id is logged too
    missing = str(uuid.uuid4())
    resp = lookup(world, missing, world.bearer("ada"))
    assert resp.status_code == 404
    rid = resp.headers["x-request-id"]
    assert eventually(lambda: any(line["request_id"] == rid for line in audit_lines(world)))
    (line,) = [line for line in audit_lines(world) if line["request_id"] == rid]
    assert line["identity_id"] == missing and line["found"] is False
    assert line["actor"] == "cccccccc-cccc-4ccc-8ccc-cccccccccccc"


def test_other_roles_are_refused(world: World, customer: dict[str, Any]) -> None:
    world.emulator.control("POST", "stats/reset")
    resp = lookup(world, customer["id"], world.bearer("eve"))  # admin tenant, role member
    assert resp.status_code == 403
    assert resp.json()["reason"] == "missing_role"
    assert customer["traits"]["email"] not in resp.text
    assert emulator_calls(world, "customer", "get_identity") == 0
    assert not [line for line in audit_lines(world) if line["request_id"] == resp.headers["x-request-id"]]


def test_machines_are_refused_even_with_staff_scopes(world: World, customer: dict[str, Any]) -> None:
    # an admin-tenant client whose scopes are the two staff roles: the route allows humans only,
    # so a Hydra token is not even a credential there (401, never looked up as a machine)
    token = world.machine_token("admin-ops", "platform:admin platform:support")
    world.emulator.control("POST", "stats/reset")
    resp = lookup(world, customer["id"], {"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_token"
    assert customer["traits"]["email"] not in resp.text
    assert emulator_calls(world, "customer", "get_identity") == 0
    # a token of another tenant's Hydra is not a credential of the admin tenant at all
    partner = world.machine_token("partner-inventory", "inventory:read")
    assert lookup(world, customer["id"], {"Authorization": f"Bearer {partner}"}).status_code == 401


def test_customer_session_is_refused_and_nothing_leaks(world: World, customer: dict[str, Any]) -> None:
    world.emulator.control("POST", "stats/reset")
    alice = world.session("alice")
    for headers in (
        {"Authorization": f"Bearer {alice}"},
        {"X-Session-Token": alice},
        {"Cookie": f"ory_session_admin={alice}; ory_session_customer={alice}"},
    ):
        resp = lookup(world, ALICE, headers)
        assert resp.status_code == 401, headers
        assert "alice" not in resp.text and "org-acme" not in resp.text and ALICE not in resp.text
    assert emulator_calls(world, "customer", "get_identity") == 0
    assert emulator_calls(world, "customer", "whoami") == 0  # the admin route never asks the customer tenant
    assert lookup(world, ALICE).status_code == 401


def test_unknown_id_is_404(world: World) -> None:
    resp = lookup(world, str(uuid.uuid4()), world.bearer("sam"))
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"
    assert lookup(world, "not-a-uuid", world.bearer("sam")).status_code == 404


@pytest.mark.parametrize(
    "raw",
    [
        f"{ALICE}%3Finclude_credential%3Dpassword",  # ?include_credential=password
        f"{ALICE}%23x",  # #x
        f"{ALICE}%20",
        f"{ALICE}%26include_credential%3Dpassword",
        "%E2%80%AE" + ALICE,
        "x'%22%3C%3E",
    ],
)
def test_odd_ids_are_quoted_not_interpreted(world: World, raw: str) -> None:
    resp = lookup(world, raw, world.bearer("sam"))
    assert resp.status_code == 404, resp.text
    assert "alice" not in resp.text


@pytest.mark.parametrize("raw", [f"..%2F..%2Fidentities%2F{ALICE}", f"{ALICE}%2Fsessions", "..", "%2e%2e"])
def test_ids_that_change_the_path_are_rejected(world: World, raw: str) -> None:
    resp = httpx.get(f"{world.url}/admin/customers/{raw}", headers=world.bearer("sam"))
    assert resp.status_code in (400, 404), resp.text
    assert "alice" not in resp.text


async def test_identity_service_get_and_list(world: World, customer: dict[str, Any]) -> None:
    settings = load_settings(world.env)
    async with httpx.AsyncClient() as http:
        service = IdentityService.for_tenant(settings.tenants["customer"], OryPool.over("customer", http))
        one = await service.get(customer["id"])
        assert one is not None and one["id"] == customer["id"]
        assert "credentials" not in one and "metadata_admin" not in one
        assert await service.get(str(uuid.uuid4())) is None
        seen: list[dict[str, Any]] = []
        page = await service.page(page_size=2)
        seen += page.identities
        while page.next_page_token:
            page = await service.page(page_size=2, page_token=page.next_page_token)
            seen += page.identities
        ids = [item["id"] for item in seen]
        assert len(ids) == len(set(ids)) >= 5
        assert ALICE in ids and customer["id"] in ids
        assert all("credentials" not in item and "metadata_admin" not in item for item in seen)
        assert [i["id"] for i in await service.list(page_size=500)] == ids
