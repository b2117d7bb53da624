"""Organizations across replicas on a real redis-server (issue 16): a membership or a
permission removed while cached is honoured at once on every replica after one
`gateway revoke --organization` / `--subject`; Keto answers are shared through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.ops import Ops, Replica
from tests.support.polling import eventually
from tests.support.processes import RedisServer, gateway_process, redis_process, run_gateway
from tests.support.world import admin_headers

#: in the "serial" group under pytest-xdist (tests/conftest.py): answers shared through Redis (0.25 s timeout)
pytestmark = pytest.mark.xdist_group("serial")

ALICE = "11111111-1111-4111-8111-111111111111"


def status(url: str, path: str, token: str, org: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} | ({"X-Organization-Id": org} if org else {})
    return httpx.get(url + path, headers=headers, timeout=15).status_code


def stats(ops: Ops, operation: str) -> int:
    return int(ops.emulator.control("GET", "stats").json()["projects"]["customer"].get(operation, 0))


def relationships(ops: Ops, method: str, **data: str) -> None:
    url = ops.emulator.project_url("customer") + "/admin/relation-tuples"
    if method == "PUT":
        resp = httpx.put(url, json=data, headers=admin_headers("customer"))
    else:
        resp = httpx.delete(url, params=data, headers=admin_headers("customer"))
    assert resp.status_code in (201, 204), resp.text


def new_person(ops: Ops, metadata: object) -> tuple[str, str, str]:
    email = f"r-{uuid.uuid4().hex[:10]}@orgs.example"
    body = {"schema_id": "default", "traits": {"email": email}, "metadata_public": metadata}
    body["credentials"] = {"password": {"config": {"password": "orgs-password"}}}
    created = httpx.post(
        ops.emulator.project_url("customer") + "/admin/identities", json=body, headers=admin_headers("customer")
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], email, ops.session(email, "orgs-password")


@pytest.fixture(scope="module")
def keto_pair(ops: Ops) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two replicas whose customer memberships come from Keto, sharing their own Redis."""
    with redis_process() as redis:
        env = ops.env(GATEWAY_REDIS_URL=redis.url, GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS="keto")
        env.pop("GATEWAY_LISTEN")
        with gateway_process(env) as a, gateway_process(env) as b:
            yield a.url, b.url, env


def test_a_metadata_membership_removed_is_refused_on_both_replicas_after_revoke_subject(
    replica_a: Replica, replica_b: Replica, ops: Ops, redis_server: RedisServer
) -> None:
    a, b = f"org-{uuid.uuid4().hex[:8]}", f"org-{uuid.uuid4().hex[:8]}"
    both = {"memberships": [{"organization_id": a, "roles": ["member"]}, {"organization_id": b, "roles": ["viewer"]}]}
    person, email, token = new_person(ops, both)
    assert status(replica_a.url, "/customer/echo/x", token, b) == 200
    assert status(replica_b.url, "/customer/echo/x", token, b) == 200
    body = {"schema_id": "default", "traits": {"email": email}, "state": "active"}
    body["metadata_public"] = {"memberships": both["memberships"][:1]}
    url = ops.emulator.project_url("customer") + f"/admin/identities/{person}"
    assert httpx.put(url, json=body, headers=admin_headers("customer")).status_code == 200
    assert status(replica_b.url, "/customer/echo/x", token, b) == 200  # cached (bounded) on both
    done = run_gateway("revoke", "--tenant", "customer", "--subject", person, env=replica_a.env)
    assert done.returncode == 0, done.stderr
    eventually(
        lambda: (
            status(replica_a.url, "/customer/echo/x", token, b)
            == 403
            == status(replica_b.url, "/customer/echo/x", token, b)
        ),
        timeout=1.0,
    )
    assert status(replica_b.url, "/customer/echo/x", token, a) == 200


def test_a_permission_removed_is_refused_on_both_replicas_after_revoke_organization(
    replica_a: Replica, replica_b: Replica, ops: Ops
) -> None:
    name = f"r-{uuid.uuid4().hex[:8]}"
    relationships(ops, "PUT", namespace="Report", object=f"org-acme/{name}", relation="view", subject_id=ALICE)
    token, path = ops.session(), f"/customer/orgs/org-acme/reports/{name}"
    checks = stats(ops, "check")
    assert status(replica_a.url, path, token) == 200
    assert status(replica_b.url, path, token) == 200
    assert stats(ops, "check") == checks + 1  # B had Keto's answer from Redis
    relationships(ops, "DELETE", namespace="Report", object=f"org-acme/{name}")
    assert status(replica_b.url, path, token) == 200  # cached, bounded
    done = run_gateway("revoke", "--tenant", "customer", "--organization", "org-acme", env=replica_b.env)
    assert done.returncode == 0, done.stderr
    eventually(lambda: status(replica_a.url, path, token) == 403 == status(replica_b.url, path, token), timeout=1.0)


def test_a_keto_membership_removed_is_refused_on_both_replicas_after_revoke_organization(
    keto_pair: tuple[str, str, dict[str, str]], ops: Ops
) -> None:
    a_url, b_url, env = keto_pair
    org = f"org-{uuid.uuid4().hex[:8]}"
    person, _, token = new_person(ops, None)
    relationships(ops, "PUT", namespace="Organization", object=org, relation="viewer", subject_id=person)
    batches = stats(ops, "batch_check")
    assert status(a_url, "/customer/echo/x", token, org) == 200
    assert status(b_url, "/customer/echo/x", token, org) == 200
    assert stats(ops, "batch_check") == batches + 1  # the membership's answers came from Redis on B
    relationships(ops, "DELETE", namespace="Organization", object=org, subject_id=person)
    assert status(a_url, "/customer/echo/x", token, org) == 200 == status(b_url, "/customer/echo/x", token, org)
    done = run_gateway("revoke", "--tenant", "customer", "--organization", org, env=env)
    assert done.returncode == 0, done.stderr
    assert "published to 2 replica(s)" in done.stdout
    eventually(
        lambda: status(a_url, "/customer/echo/x", token, org) == 403 == status(b_url, "/customer/echo/x", token, org),
        timeout=1.0,
    )
