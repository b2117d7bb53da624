"""Prometheus /metrics: requests, latencies, decision cache, upstream errors, streams."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.ops import Ops, Replica, metric


def scrape(replica: Replica) -> str:
    resp = httpx.get((replica.metrics_url or replica.url) + "/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return resp.text


def test_requests_latencies_and_cache_counters(replica_a: Replica, ops: Ops) -> None:
    before = scrape(replica_a)
    token = ops.session()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=replica_a.url) as http:
        assert http.get("/customer/echo/one", headers=auth).status_code == 200  # cache miss: Ory
        assert http.get("/customer/echo/two", headers=auth).status_code == 200  # cache hit
        assert http.get("/customer/echo/three").status_code == 401
        assert http.get("/customer/dead/x").status_code == 502
    after = scrape(replica_a)

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    allowed = {"tenant": "customer", "rule": "customer:ops-echo"}
    assert delta("gateway_requests_total", **allowed, decision="allow", status="200") == 2
    assert delta("gateway_requests_total", **allowed, decision="deny", status="401") == 1
    assert delta("gateway_request_duration_seconds_count", **allowed) == 3
    assert delta("gateway_ory_request_duration_seconds_count", tenant="customer", operation="whoami") == 1
    assert delta("gateway_upstream_duration_seconds_count", upstream="inventory") == 2
    assert delta("gateway_upstream_errors_total", upstream="dead", error="unreachable") == 1
    assert delta("gateway_requests_total", tenant="customer", rule="customer:ops-dead", status="502") == 1
    assert delta("gateway_decision_cache_misses_total", tenant="customer") == 1
    assert delta("gateway_decision_cache_hits_total", tenant="customer") == 1
    assert "gateway_open_streams" in after
    assert "gateway_shared_cache_errors_total" in after  # Redis configured on this replica


def test_concurrent_misses_join_one_ory_call(replica_a: Replica, ops: Ops) -> None:
    token = ops.session()
    before = scrape(replica_a)
    calls = ops.whoami_calls()
    ops.emulator.control(
        "POST", "faults", {"mode": "delay", "seconds": 0.5, "project": "customer", "operation": "whoami", "count": 1}
    )

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=replica_a.url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {token}"}
            answers = await asyncio.gather(*(http.get(f"/customer/echo/{i}", headers=auth) for i in range(8)))
        return [a.status_code for a in answers]

    try:
        assert asyncio.run(burst()) == [200] * 8
    finally:
        ops.emulator.control("DELETE", "faults")
    after = scrape(replica_a)
    assert ops.whoami_calls() == calls + 1
    joins = metric(after, "gateway_decision_cache_joins_total", tenant="customer")
    assert joins - metric(before, "gateway_decision_cache_joins_total", tenant="customer") >= 1


def test_metrics_on_their_own_port(replica_b: Replica) -> None:
    assert replica_b.metrics_url is not None
    with httpx.Client() as http:
        http.get(replica_b.url + "/healthz")
        text = scrape(replica_b)
        assert metric(text, "gateway_requests_total", rule="", status="200") >= 1
        # not served on the main port: there /metrics is an ordinary (unrouted) path
        resp = http.get(replica_b.url + "/metrics")
        assert resp.status_code == 404
        assert "gateway_requests_total" not in resp.text
