"""Spans exported over OTLP/HTTP, checked by what a real receiver process decodes
(tests.support.otlp), against what the recording upstream and a recording "Kratos" received."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.ops import Ops, Replica, access_lines
from tests.support.otlp import Collector, otlp_receiver
from tests.support.polling import eventually
from tests.support.processes import free_port, gateway_process, header_values

CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced(ops: Ops, collector: Collector) -> Iterator[Replica]:
    """Export on; the admin tenant's Kratos is the recording upstream (to see what Ory is sent)."""
    env = ops.env(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_SERVICE_NAME="gateway-under-test",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,service.namespace=identity",
        OTEL_BSP_SCHEDULE_DELAY="100",
        GATEWAY_TENANT_ADMIN_KRATOS_PUBLIC_URL=ops.upstream.url,
    )
    with gateway_process(env, timeout=60) as proc:
        yield Replica(proc, env)


def new_trace() -> str:
    return uuid.uuid4().hex


def recorded(ops: Ops, marker: str) -> dict[str, Any]:
    [request] = [r for r in ops.upstream.requests() if marker in r["target"]]
    return request


def test_the_callers_trace_continues_through_the_gateways_spans_to_the_upstream(
    traced: Replica, ops: Ops, collector: Collector
) -> None:
    token = ops.session()  # a fresh session: the decision cache asks Ory
    trace_id, marker = new_trace(), f"trace-{uuid.uuid4().hex[:8]}"
    resp = httpx.get(
        f"{traced.url}/customer/echo/{marker}?access_token=query-secret-value",
        headers={
            "Authorization": f"Bearer {token}",
            "traceparent": f"00-{trace_id}-{CALLER_SPAN}-01",
            "tracestate": "vendor=opaque",
            "Cookie": "other=cookie-secret-value",
        },
    )
    assert resp.status_code == 200
    spans = collector.trace(trace_id, 4)
    assert set(spans) == {"GET /echo/**", "authenticate", "kratos whoami", "upstream inventory"}
    server, auth, kratos, upstream = (
        spans[n] for n in ("GET /echo/**", "authenticate", "kratos whoami", "upstream inventory")
    )
    # parent links: caller -> the gateway's request span -> authenticate -> Ory; request span -> upstream
    assert (server["kind"], server["parent_span_id"]) == ("server", CALLER_SPAN)
    assert (auth["kind"], auth["parent_span_id"]) == ("internal", server["span_id"])
    assert (kratos["kind"], kratos["parent_span_id"]) == ("client", auth["span_id"])
    assert (upstream["kind"], upstream["parent_span_id"]) == ("client", server["span_id"])
    assert {s["trace_state"] for s in spans.values()} == {"vendor=opaque"}
    # the upstream's parent is the exported upstream span, in the caller's trace
    got = recorded(ops, marker)
    assert header_values(got, "traceparent") == [f"00-{trace_id}-{upstream['span_id']}-01"]
    assert header_values(got, "tracestate") == ["vendor=opaque"]
    # attributes present
    assert (
        server["attributes"]
        | {
            "gateway.tenant": "customer",
            "gateway.route.id": "customer:ops-echo",
            "http.route": "/echo/**",
            "gateway.decision": "allow",
            "http.response.status_code": 200,
            "http.request.method": "GET",
            "gateway.principal.kind": "human",
            "gateway.upstream": "inventory",
        }
        == server["attributes"]
    )
    assert auth["attributes"] == {"gateway.credential_source": "kratos-token", "gateway.authn.cache": "miss"}
    assert kratos["attributes"]["ory.service"] == "kratos" and kratos["attributes"]["http.response.status_code"] == 200
    assert upstream["attributes"]["http.response.status_code"] == 200
    assert server["resource"]["service.name"] == "gateway-under-test"
    assert server["resource"]["deployment.environment"] == "test"
    # and absent: no credential, cookie, query string or identity anywhere in what was exported
    exported = b"".join(collector.raw())
    for secret in (token, "query-secret-value", "cookie-secret-value", "access_token", marker, "org-acme"):
        assert secret.encode() not in exported, f"{secret[:12]} was exported"
    # access lines are written in batches (every ~100 ms): wait for this request's
    identity = eventually(
        lambda: next((line for line in access_lines(traced.output()) if line.get("trace_id") == trace_id), None)
    )
    assert str(identity["principal"]).encode() not in exported


def test_a_cached_credential_is_a_cache_hit_without_an_ory_span(
    traced: Replica, ops: Ops, collector: Collector
) -> None:
    auth = {"Authorization": f"Bearer {ops.session()}"}
    assert httpx.get(traced.url + "/customer/echo/warm", headers=auth).status_code == 200
    trace_id = new_trace()
    parent = f"00-{trace_id}-{CALLER_SPAN}-01"
    assert httpx.get(traced.url + "/customer/echo/hit", headers=auth | {"traceparent": parent}).status_code == 200
    spans = collector.trace(trace_id, 3)
    assert set(spans) == {"GET /echo/**", "authenticate", "upstream inventory"}
    assert spans["authenticate"]["attributes"]["gateway.authn.cache"] == "hit"


def test_a_permission_check_is_a_span_with_its_keto_call_then_a_cache_hit(
    traced: Replica, ops: Ops, collector: Collector
) -> None:
    auth = {"Authorization": f"Bearer {ops.session()}"}  # alice: Report:org-acme/q3#view through her group
    cold, warm = new_trace(), new_trace()
    for trace_id in (cold, warm):
        parent = f"00-{trace_id}-{CALLER_SPAN}-01"
        resp = httpx.get(traced.url + "/customer/orgs/org-acme/reports/q3", headers=auth | {"traceparent": parent})
        assert resp.status_code == 200, resp.text
    route = "GET /orgs/{org}/reports/{report}"
    spans = collector.trace(cold, 6)  # request, authenticate, kratos whoami, permission, keto, upstream
    [keto] = [name for name in spans if name.startswith("keto ")]
    assert set(spans) == {route, "authenticate", "kratos whoami", "permission", keto, "upstream inventory"}
    check = spans["permission"]
    assert check["parent_span_id"] == spans[route]["span_id"] and spans[keto]["parent_span_id"] == check["span_id"]
    assert check["attributes"]["gateway.permission.cache"] == "miss"
    assert check["attributes"]["gateway.permission.allowed"] is True
    assert (check["attributes"]["keto.namespace"], check["attributes"]["keto.relation"]) == ("Report", "view")
    spans = collector.trace(warm, 4)
    assert set(spans) == {route, "authenticate", "permission", "upstream inventory"}  # no Keto call
    assert spans["permission"]["attributes"]["gateway.permission.cache"] == "hit"
    assert b"org-acme/q3" not in b"".join(collector.raw())  # the object names the organization: not exported


def test_a_denial_is_a_server_span_with_its_reason_and_no_upstream_span(traced: Replica, collector: Collector) -> None:
    resp = httpx.get(traced.url + "/customer/echo/denied")  # no traceparent: a new trace
    assert resp.status_code == 401
    rid = resp.headers["x-request-id"]
    eventually(lambda: any(line["request_id"] == rid for line in access_lines(traced.output())))
    [line] = [line for line in access_lines(traced.output()) if line["request_id"] == rid]
    spans = collector.trace(str(line["trace_id"]), 2)
    assert set(spans) == {"GET /echo/**", "authenticate"}
    server = spans["GET /echo/**"]
    assert server["parent_span_id"] == ""  # the root of its trace
    assert server["attributes"]["gateway.decision"] == "deny"
    assert server["attributes"]["gateway.deny_reason"] == "no_credentials"
    assert server["attributes"]["http.response.status_code"] == 401
    assert server["status"] == "unset"  # a 4xx is the client's doing, not a server error
    assert spans["authenticate"]["attributes"]["gateway.deny_reason"] == "no_credentials"


def test_ory_is_sent_the_ory_spans_id_as_parent(traced: Replica, ops: Ops, collector: Collector) -> None:
    """The admin tenant's "Kratos" here is the recording upstream: it answers garbage (503)."""
    trace_id = new_trace()
    headers = {"X-Session-Token": "ory_st_" + "n" * 32, "traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"}
    resp = httpx.get(traced.url + "/admin/customers/nobody", headers=headers)
    assert resp.status_code == 503
    spans = collector.trace(trace_id, 3)
    kratos = spans["kratos whoami"]
    [whoami] = [
        r
        for r in ops.upstream.requests()
        if r["target"].startswith("/sessions/whoami") and trace_id in "".join(header_values(r, "traceparent"))
    ]
    assert header_values(whoami, "traceparent") == [f"00-{trace_id}-{kratos['span_id']}-01"]
    assert spans["authenticate"]["status"] == "error"  # an outage is an error
    assert spans["authenticate"]["attributes"]["error.type"] == "ory_garbage"
    assert spans["GET /customers/{id}"]["status"] == "error"


def test_an_unsampled_callers_trace_is_propagated_not_exported(traced: Replica, ops: Ops, collector: Collector) -> None:
    auth = {"Authorization": f"Bearer {ops.session()}"}
    quiet, loud = new_trace(), new_trace()
    marker = f"quiet-{uuid.uuid4().hex[:8]}"
    headers = auth | {"traceparent": f"00-{quiet}-{CALLER_SPAN}-00"}
    assert httpx.get(f"{traced.url}/customer/echo/{marker}", headers=headers).status_code == 200
    [sent] = header_values(recorded(ops, marker), "traceparent")
    assert sent.startswith(f"00-{quiet}-") and sent.endswith("-00") and CALLER_SPAN not in sent
    headers = auth | {"traceparent": f"00-{loud}-{CALLER_SPAN}-01"}
    assert httpx.get(traced.url + "/customer/echo/loud", headers=headers).status_code == 200
    collector.trace(loud, 3)  # exported after the quiet one: it would have arrived by now
    assert not [s for s in collector.spans() if s["trace_id"] == quiet]


def test_decisions_answer_with_the_decision_spans_traceparent(traced: Replica, ops: Ops, collector: Collector) -> None:
    trace_id = new_trace()
    headers = {"Authorization": f"Bearer {ops.session()}", "traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"}
    resp = httpx.get(traced.url + "/decisions/customer/echo/x", headers=headers)
    assert resp.status_code == 200
    server = collector.trace(trace_id, 3)["GET /echo/**"]
    assert resp.headers.get_list("traceparent") == [f"00-{trace_id}-{server['span_id']}-01"]


@pytest.mark.parametrize("collector_fault", ["unreachable", "--stall", "--fail=503"])
def test_a_failing_collector_never_fails_or_slows_a_request(ops: Ops, collector_fault: str) -> None:
    """Export every 20 ms into a small queue, against a collector that is not there, hangs, or
    answers 503 (the exporter retries): every request is answered as usual, none waits for it,
    and stopping the gateway waits for the collector a bounded time only."""
    with otlp_receiver(*([] if collector_fault == "unreachable" else [collector_fault])) as sink:
        endpoint = f"http://127.0.0.1:{free_port()}" if collector_fault == "unreachable" else sink.url
        tight = {
            "OTEL_BSP_SCHEDULE_DELAY": "20",
            "OTEL_BSP_MAX_QUEUE_SIZE": "64",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
        }
        env = ops.env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, **tight)
        with gateway_process(env, timeout=60) as gateway:
            auth = {"Authorization": f"Bearer {ops.session()}"}
            slowest = 0.0
            with httpx.Client(base_url=gateway.url, headers=auth, timeout=10) as http:
                for i in range(150):  # ~4 spans each: the queue fills and drops, the export thread waits
                    started = time.monotonic()
                    assert http.get(f"/customer/echo/{i}").status_code == 200
                    slowest = max(slowest, time.monotonic() - started)
            if collector_fault != "unreachable":
                assert sink.exports() > 0  # the exports were attempted, and hung or failed
            assert slowest < 2.0  # a request that waited for a 10 s export timeout would show
            started = time.monotonic()
            gateway.stop()
            assert time.monotonic() - started < 8.0
