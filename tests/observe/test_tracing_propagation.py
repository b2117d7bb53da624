"""Trace context with export off: what the upstream, Ory and the proxy in front receive, and
the access log's trace id. The gateway owns `traceparent`/`tracestate`: a client's copy never
reaches the upstream unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.ops import Ops, Replica, access_lines
from tests.support.polling import eventually
from tests.support.processes import gateway_process, header_values

CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def plain(ops: Ops) -> Iterator[Replica]:
    """No OTEL_* variable: export off. The admin tenant's Kratos is the recording upstream."""
    env = ops.env(GATEWAY_TENANT_ADMIN_KRATOS_PUBLIC_URL=ops.upstream.url)
    with gateway_process(env, timeout=60) as proc:
        yield Replica(proc, env)


@pytest.fixture(scope="module")
def distrusting(ops: Ops) -> Iterator[Replica]:
    """GATEWAY_TRACE_TRUST=proxies, and no trusted proxy."""
    env = ops.env(GATEWAY_TRACE_TRUST="proxies")
    with gateway_process(env, timeout=60) as proc:
        yield Replica(proc, env)


@pytest.fixture(scope="module")
def auth(ops: Ops) -> dict[str, str]:
    return {"Authorization": f"Bearer {ops.session()}"}


def forward(replica: Replica, ops: Ops, headers: list[tuple[str, str]]) -> tuple[dict[str, Any], dict[str, object]]:
    """One forwarded request: what the upstream received, and the request's access-log line."""
    marker = uuid.uuid4().hex[:12]
    resp = httpx.get(f"{replica.url}/customer/echo/{marker}", headers=headers)
    assert resp.status_code == 200, resp.text
    [received] = [r for r in ops.upstream.requests() if marker in r["target"]]
    rid = resp.headers["x-request-id"]
    eventually(lambda: any(line["request_id"] == rid for line in access_lines(replica.output())))
    [line] = [line for line in access_lines(replica.output()) if line["request_id"] == rid]
    return received, line


def fields(traceparent: str) -> list[str]:
    version, trace_id, span_id, flags = traceparent.split("-")
    assert (version, len(trace_id), len(span_id)) == ("00", 32, 16)
    return [trace_id, span_id, flags]


def test_a_valid_traceparent_is_continued_with_the_gateways_span_as_parent(
    plain: Replica, ops: Ops, auth: dict[str, str]
) -> None:
    trace_id = uuid.uuid4().hex
    for flags in ("01", "00"):
        sent = [
            *auth.items(),
            ("traceparent", f"00-{trace_id}-{CALLER_SPAN}-{flags}"),
            ("tracestate", "congo=t61rcWkg"),
        ]
        received, line = forward(plain, ops, sent)
        [traceparent] = header_values(received, "traceparent")
        continued, parent, kept = fields(traceparent)
        assert (continued, kept) == (trace_id, flags)  # the caller's trace and sampling decision
        assert parent != CALLER_SPAN  # the gateway's own span is the upstream's parent
        assert header_values(received, "tracestate") == ["congo=t61rcWkg"]
        assert line["trace_id"] == trace_id


@pytest.mark.parametrize(
    "sent",
    [
        [],
        [("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"), ("tracestate", "a=1")],
        [("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")],
        [("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")],
        [("traceparent", f"00-{'a' * 32}-{CALLER_SPAN}-01"), ("traceparent", f"00-{'b' * 32}-{CALLER_SPAN}-01")],
    ],
    ids=["absent", "upper-case", "version-ff", "zero-trace", "two-headers"],
)
def test_an_invalid_or_absent_traceparent_starts_a_new_trace(
    plain: Replica, ops: Ops, auth: dict[str, str], sent: list[tuple[str, str]]
) -> None:
    received, line = forward(plain, ops, [*auth.items(), *sent])
    [traceparent] = header_values(received, "traceparent")
    trace_id, _, flags = fields(traceparent)
    assert trace_id not in {"a" * 32, "b" * 32, "4bf92f3577b34da6a3ce929d0e0e4736", "0" * 32}
    assert flags == "01"  # parent-based always-on: a new trace is sampled
    assert line["trace_id"] == trace_id
    assert header_values(received, "tracestate") == []  # no valid parent: the caller's state goes too


def test_the_clients_copies_never_reach_the_upstream(plain: Replica, ops: Ops, auth: dict[str, str]) -> None:
    trace_id = uuid.uuid4().hex
    client_value = f"00-{trace_id}-{CALLER_SPAN}-01"
    sent = [
        *auth.items(),
        ("TraceParent", client_value),
        ("TRACESTATE", "vendor=1"),
        ("Connection", "traceparent, tracestate"),  # asking a proxy to drop the gateway's copies
    ]
    received, _ = forward(plain, ops, sent)
    [traceparent] = header_values(received, "traceparent")
    assert traceparent != client_value and fields(traceparent)[0] == trace_id
    assert header_values(received, "tracestate") == ["vendor=1"]  # checked, and passed on once
    assert [n for n, _ in received["headers"] if n.lower() in ("traceparent", "tracestate")] == [
        "traceparent",
        "tracestate",
    ]


def test_with_trust_proxies_an_untrusted_callers_trace_is_not_continued(
    distrusting: Replica, ops: Ops, auth: dict[str, str]
) -> None:
    trace_id = uuid.uuid4().hex
    sent = [*auth.items(), ("traceparent", f"00-{trace_id}-{CALLER_SPAN}-00"), ("tracestate", "vendor=1")]
    received, line = forward(distrusting, ops, sent)
    [traceparent] = header_values(received, "traceparent")
    assert fields(traceparent)[0] == line["trace_id"] != trace_id
    assert fields(traceparent)[2] == "01"  # the gateway's own sampling decision, not the caller's 00
    assert header_values(received, "tracestate") == []


def test_ory_calls_carry_the_requests_trace(plain: Replica, ops: Ops) -> None:
    """The admin tenant's "Kratos" is the recording upstream (its answer is garbage: 503)."""
    trace_id = uuid.uuid4().hex
    headers = {"X-Session-Token": "ory_st_" + "n" * 32, "traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"}
    assert httpx.get(plain.url + "/admin/customers/nobody", headers=headers).status_code == 503
    [whoami] = [
        r
        for r in ops.upstream.requests()
        if r["target"].startswith("/sessions/whoami") and trace_id in str(header_values(r, "traceparent"))
    ]
    [traceparent] = header_values(whoami, "traceparent")
    continued, parent, flags = fields(traceparent)
    assert (continued, flags) == (trace_id, "01") and parent != CALLER_SPAN


def test_decisions_answer_with_a_traceparent_for_the_proxy_to_forward(plain: Replica, auth: dict[str, str]) -> None:
    trace_id = uuid.uuid4().hex
    headers = auth | {"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01", "tracestate": "vendor=1"}
    resp = httpx.get(plain.url + "/decisions/customer/echo/x", headers=headers)
    assert resp.status_code == 200
    [traceparent] = resp.headers.get_list("traceparent")
    continued, parent, _ = fields(traceparent)
    assert continued == trace_id and parent != CALLER_SPAN
    assert resp.headers.get_list("tracestate") == ["vendor=1"]
