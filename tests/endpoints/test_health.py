"""/healthz and /readyz: outside tenant routing, never shadowed; readiness is this process's
alone, and a tenant's Ory trouble is reported apart (/_gateway/tenants, gateway_tenant_up)."""

from __future__ import annotations

import httpx

from tests.support.ops import ADMIN_TOKEN, Ops, Replica, metric
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


def test_a_tenants_ory_down_never_fails_readiness_and_is_reported_apart(replica_a: Replica, ops: Ops) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    tenants = replica_a.url + "/_gateway/tenants"
    eventually(lambda: httpx.get(tenants, headers=admin).json()["tenants"]["dealer"]["kratos"]["up"], timeout=10)
    ops.emulator.control("POST", "faults", {"mode": "status", "status": 503, "project": "dealer"})
    try:
        junk = {"Authorization": "Bearer ory_at_unknown.token"}
        assert httpx.get(replica_a.url + "/dealer/partner-api/inventory", headers=junk).status_code == 503
        dealer = httpx.get(tenants, headers=admin).json()["tenants"]["dealer"]["hydra"]
        assert dealer["up"] is False and "503" in dealer["reason"] and dealer["since"].endswith("Z")
        assert httpx.get(tenants, headers=admin).json()["tenants"]["customer"]["kratos"]["up"] is True
        ready = httpx.get(replica_a.url + "/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})  # one tenant's outage is its own
        metrics = httpx.get(replica_a.url + "/metrics").text
        assert metric(metrics, "gateway_tenant_up", tenant="dealer", service="hydra") == 0
        assert metric(metrics, "gateway_tenant_up", tenant="customer", service="kratos") == 1
    finally:
        ops.emulator.control("DELETE", "faults")
    assert httpx.get(replica_a.url + "/dealer/partner-api/inventory", headers=junk).status_code == 401
    assert httpx.get(tenants, headers=admin).json()["tenants"]["dealer"]["hydra"]["up"] is True


def test_tenant_health_is_never_shown_to_anonymous_callers(replica_a: Replica, replica_b: Replica) -> None:
    assert httpx.get(replica_a.url + "/_gateway/tenants").status_code == 401
    assert httpx.get(replica_b.url + "/_gateway/tenants").status_code == 404  # no admin token configured
    assert replica_b.metrics_url is not None  # ... but the metrics listener serves it
    doc = httpx.get(replica_b.metrics_url + "/_gateway/tenants").json()
    assert set(doc["tenants"]) == set(replica_b.env["GATEWAY_TENANTS"].split(","))
    assert {"kratos"} <= set(doc["tenants"]["customer"]) and set(doc["tenants"]["customer"]["kratos"]) == {
        "up",
        "since",
        "reason",
    }
