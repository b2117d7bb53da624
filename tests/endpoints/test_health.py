"""/healthz and /readyz: outside tenant routing, never shadowed, naming a failing tenant."""

from __future__ import annotations

import httpx

from tests.support.ops import Ops, Replica
from tests.support.polling import eventually


def test_healthz_is_not_shadowed_by_a_policy_route(replica_a: Replica, ops: Ops) -> None:
    ops.upstream.clear()
    resp = httpx.get(replica_a.url + "/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}
    assert resp.headers["x-request-id"]
    assert ops.upstream.requests() == []  # the default tenant's /healthz route was not used
    # ... although that route exists and is reachable under the tenant prefix
    resp = httpx.get(replica_a.url + "/customer/healthz")
    assert resp.status_code == 200
    assert [r["target"] for r in ops.upstream.requests()] == ["/healthz"]


def test_healthz_is_not_routed_by_host_either(replica_a: Replica, ops: Ops) -> None:
    ops.upstream.clear()
    resp = httpx.get(replica_a.url + "/healthz", headers={"Host": "admin.example"})
    assert resp.json() == {"status": "ok"}
    assert ops.upstream.requests() == []


def test_readyz_names_the_tenant_whose_ory_is_down(replica_a: Replica, ops: Ops) -> None:
    eventually(lambda: httpx.get(replica_a.url + "/readyz").status_code == 200, timeout=5)
    ops.emulator.control(
        "POST", "faults", {"mode": "status", "status": 503, "project": "dealer", "operation": "whoami"}
    )
    try:
        eventually(lambda: httpx.get(replica_a.url + "/readyz").status_code == 503, timeout=5)
        resp = httpx.get(replica_a.url + "/readyz")
        assert resp.status_code == 503
        assert resp.headers["retry-after"]
        doc = resp.json()
        assert doc["status"] == "not_ready"
        assert set(doc["failing"]) == {"dealer"}
        assert "503" in doc["failing"]["dealer"]
        ops.emulator.control("DELETE", "faults")
        ops.emulator.control("POST", "faults", {"mode": "drop", "project": "admin", "operation": "whoami"})
        eventually(lambda: set(httpx.get(replica_a.url + "/readyz").json()["failing"]) == {"admin"}, timeout=5)
    finally:
        ops.emulator.control("DELETE", "faults")
    eventually(lambda: httpx.get(replica_a.url + "/readyz").status_code == 200, timeout=5)
