"""Machine principals end to end: a client made in the emulator, its token from the
gateway's token endpoint, the partner API, and a Durably job labelled with its organization."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.support.processes import Proc, header_values
from tests.support.world import World, create_client

INVENTORY = "/dealer/partner-api/inventory"


@pytest.fixture(scope="module")
def partner(world: World) -> dict[str, Any]:
    org = f"org-partner-{uuid.uuid4().hex[:8]}"
    return create_client(
        world,
        "dealer",
        client_name="Acme Logistics",
        grant_types=["client_credentials"],
        scope="inventory:read jobs:write",
        metadata={"organization_id": org},
    )


@pytest.fixture(scope="module")
def no_inventory(world: World) -> dict[str, Any]:
    return create_client(
        world,
        "dealer",
        grant_types=["client_credentials"],
        scope="jobs:read",
        metadata={"organization_id": "org-reader"},
    )


def gateway_token(world: World, client: dict[str, Any], scope: str) -> httpx.Response:
    return httpx.post(
        f"{world.url}/dealer/oauth2/token",
        auth=(client["client_id"], client["client_secret"]),
        data={"grant_type": "client_credentials", "scope": scope},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def poll_until_refused(url: str, token: str, attempts: int = 40) -> list[int]:
    """Statuses of repeated calls, until the first 401 (at most ~4 s; the cache allows 1 s)."""
    statuses: list[int] = []
    for _ in range(attempts):
        statuses.append(httpx.get(url, headers=bearer(token)).status_code)
        if statuses[-1] == 401:
            break
        time.sleep(0.1)
    return statuses


def test_partner_reads_inventory_with_its_own_identity(world: World, partner: dict[str, Any]) -> None:
    resp = gateway_token(world, partner, "inventory:read")
    assert resp.status_code == 200, resp.text
    world.inventory.clear()
    api = httpx.get(world.url + INVENTORY, headers=bearer(resp.json()["access_token"]))
    assert api.status_code == 200, api.text
    (seen,) = world.inventory.requests()
    assert seen["target"] == "/partner-api/inventory"
    assert header_values(seen, "x-principal-kind") == ["machine"]
    assert header_values(seen, "x-client-id") == [partner["client_id"]]
    assert header_values(seen, "x-org-id") == [partner["metadata"]["organization_id"]]
    assert header_values(seen, "x-tenant") == ["dealer"]
    assert header_values(seen, "x-scopes") == ["inventory:read"]


def test_token_without_inventory_scope_is_403(
    world: World, partner: dict[str, Any], no_inventory: dict[str, Any]
) -> None:
    world.inventory.clear()
    narrow = gateway_token(world, partner, "jobs:write").json()["access_token"]  # granted, but not asked for
    resp = httpx.get(world.url + INVENTORY, headers=bearer(narrow))
    assert resp.status_code == 403 and resp.json()["reason"] == "missing_scope"
    other = gateway_token(world, no_inventory, "jobs:read").json()["access_token"]
    resp = httpx.get(world.url + INVENTORY, headers=bearer(other))
    assert resp.status_code == 403 and resp.json()["reason"] == "missing_scope"
    assert world.inventory.requests() == []


def test_scope_not_granted_gets_no_token(world: World, no_inventory: dict[str, Any]) -> None:
    resp = gateway_token(world, no_inventory, "inventory:read")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"


def test_wrong_secret_gets_no_token(world: World, partner: dict[str, Any]) -> None:
    resp = gateway_token(world, {**partner, "client_secret": "not-" + partner["client_secret"]}, "inventory:read")
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_partner_triggers_a_job_labelled_with_its_organization(world: World, partner: dict[str, Any]) -> None:
    token = gateway_token(world, partner, "jobs:write").json()["access_token"]
    world.durably.recorder.clear()
    trigger = world.url + "/dealer/api/durably/trigger"
    foreign = {"jobName": "send-report", "input": {}, "labels": {"organizationId": "org-acme"}}
    refused = httpx.post(trigger, headers=bearer(token), json=foreign)
    assert refused.status_code == 403 and refused.json()["error"] == "organization_mismatch"
    assert world.durably.recorder.requests() == []
    resp = httpx.post(trigger, headers=bearer(token), json={"jobName": "send-report", "input": {}})
    assert resp.status_code == 200, resp.text
    (seen,) = [r for r in world.durably.recorder.requests() if r.path.startswith("/api/durably/trigger")]
    org = partner["metadata"]["organization_id"]
    assert json.loads(seen.body)["labels"] == {"organizationId": org, "tenant": "dealer"}
    assert seen.header("x-org-id") == [org] and seen.header("x-client-id") == [partner["client_id"]]
    # and the run is visible to the partner, labelled with its organization
    run = httpx.get(
        world.url + "/dealer/api/durably/run", params={"runId": resp.json()["runId"]}, headers=bearer(token)
    )
    assert run.status_code == 200, run.text
    assert run.json()["labels"]["organizationId"] == org


def test_read_only_token_cannot_trigger(world: World, partner: dict[str, Any]) -> None:
    token = gateway_token(world, partner, "inventory:read").json()["access_token"]
    world.durably.recorder.clear()
    resp = httpx.post(world.url + "/dealer/api/durably/trigger", headers=bearer(token), json={"jobName": "send-report"})
    assert resp.status_code == 403
    assert world.durably.recorder.requests() == []


def test_jwt_strategy_client(world: World) -> None:
    resp = httpx.post(
        f"{world.url}/dealer/oauth2/token",
        auth=("partner-jwt", "partner-jwt-secret"),
        data={"grant_type": "client_credentials", "scope": "inventory:read"},
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    assert token.count(".") == 2 and not token.startswith("ory_at_")
    world.inventory.clear()
    api = httpx.get(world.url + INVENTORY, headers=bearer(token))
    assert api.status_code == 200, api.text
    (seen,) = world.inventory.requests()
    assert header_values(seen, "x-client-id") == ["partner-jwt"]
    assert header_values(seen, "x-org-id") == ["org-partner"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert httpx.get(world.url + INVENTORY, headers=bearer(tampered)).status_code == 401


def test_revoked_token_is_refused_after_the_cache_ttl(
    world: World, strict_gateway: Proc, partner: dict[str, Any]
) -> None:
    token = gateway_token(world, partner, "inventory:read").json()["access_token"]
    url = strict_gateway.url + INVENTORY
    assert httpx.get(url, headers=bearer(token)).status_code == 200  # now cached (GATEWAY_CACHE_MAX_TTL=1)
    revoked = httpx.post(
        f"{world.emulator.project_url('dealer')}/oauth2/revoke",
        auth=(partner["client_id"], partner["client_secret"]),
        data={"token": token},
    )
    assert revoked.status_code == 200, revoked.text
    statuses = poll_until_refused(url, token)
    assert statuses[-1] == 401, statuses
    assert set(statuses) <= {200, 401}
    # for good: not a flap
    assert httpx.get(url, headers=bearer(token)).status_code == 401
    # a new token for the same client works
    fresh = gateway_token(world, partner, "inventory:read").json()["access_token"]
    assert httpx.get(url, headers=bearer(fresh)).status_code == 200


def test_deleted_client_gets_no_token_and_its_tokens_stop_working(world: World, strict_gateway: Proc) -> None:
    client = create_client(
        world,
        "dealer",
        grant_types=["client_credentials"],
        scope="inventory:read",
        metadata={"organization_id": "org-gone"},
    )
    token = gateway_token(world, client, "inventory:read").json()["access_token"]
    url = strict_gateway.url + INVENTORY
    assert httpx.get(url, headers=bearer(token)).status_code == 200
    deleted = httpx.delete(
        f"{world.emulator.project_url('dealer')}/admin/clients/{client['client_id']}",
        headers={"Authorization": "Bearer ory_pat_dealer_demo"},
    )
    assert deleted.status_code == 204
    assert gateway_token(world, client, "inventory:read").status_code == 401
    assert poll_until_refused(url, token)[-1] == 401
