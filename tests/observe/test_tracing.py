"""The request's trace (gateway.observe.tracing): continued or started, who is believed, the
sampled flag, and what calls made inside a span carry. End to end, with a collector that
decodes what arrives: test_tracing_export.py; with export off: test_tracing_propagation.py."""

from __future__ import annotations

import contextvars
import ipaddress
import random
from collections.abc import Callable
from typing import TypeVar

import pytest
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import SpanContext, TraceFlags, set_span_in_context
from opentelemetry.trace.span import NonRecordingSpan

from gateway.config.settings import TracingSettings
from gateway.config.tracing import SAMPLERS
from gateway.front.request import RequestView
from gateway.front.trusted_proxies import TrustedProxies
from gateway.observe import tracing
from gateway.observe.export import sdk_sampler
from gateway.observe.spans import ACTIVE, NOOP, RequestTrace
from gateway.observe.tracecontext import Parent, parse
from gateway.observe.tracing import Sampling, Tracing

T = TypeVar("T")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
PROXY = "10.0.0.1"
PROXIES = TrustedProxies((ipaddress.ip_network("10.0.0.0/8"),))


def alone(run: Callable[[], T]) -> T:
    """Run in a copy of the context, as each request does (the active span stays in there)."""
    return contextvars.copy_context().run(run)


def request(*headers: tuple[bytes, bytes]) -> RequestView:
    return RequestView(method="GET", path="", raw_query=b"", headers=list(headers), client_ip="192.0.2.7")


def begin(settings: TracingSettings, *headers: tuple[bytes, bytes], peer: str = "192.0.2.7") -> RequestTrace:
    return alone(lambda: Tracing(settings, PROXIES).begin(request(*headers), peer))


def header(trace: RequestTrace, name: bytes) -> str | None:
    values = [v.decode() for n, v in trace.headers if n == name]
    return values[0] if values else None


def span_id(trace: RequestTrace) -> str:
    """The gateway's span id: the parent id of what it sends."""
    return str(header(trace, b"traceparent")).split("-")[2]


def test_a_valid_traceparent_is_continued_with_the_gateways_own_span() -> None:
    trace = begin(
        TracingSettings(), (b"traceparent", f"00-{TRACE}-{SPAN}-01".encode()), (b"tracestate", b"vendor=opaque")
    )
    assert trace.trace_id == TRACE
    assert span_id(trace) != SPAN and len(span_id(trace)) == 16
    assert header(trace, b"traceparent") == f"00-{TRACE}-{span_id(trace)}-01"
    assert header(trace, b"tracestate") == "vendor=opaque"


def test_an_invalid_or_absent_traceparent_starts_a_new_trace_without_the_callers_state() -> None:
    for headers in ([], [(b"traceparent", f"00-{TRACE.upper()}-{SPAN}-01".encode()), (b"tracestate", b"v=1")]):
        trace = begin(TracingSettings(), *headers)
        assert trace.trace_id != TRACE.lower() and len(trace.trace_id) == 32
        assert header(trace, b"traceparent") == f"00-{trace.trace_id}-{span_id(trace)}-01"  # always_on root
        assert header(trace, b"tracestate") is None


def test_with_trust_proxies_only_a_trusted_peers_traceparent_is_continued() -> None:
    settings = TracingSettings(trust="proxies")
    sent = (b"traceparent", f"00-{TRACE}-{SPAN}-01".encode())
    assert begin(settings, sent, peer=PROXY).trace_id == TRACE
    assert begin(settings, sent, peer="192.0.2.7").trace_id != TRACE
    assert begin(TracingSettings(), sent, peer="192.0.2.7").trace_id == TRACE  # the default: anyone


def test_the_callers_sampled_flag_is_honoured_by_parent_based_samplers() -> None:
    unsampled = (b"traceparent", f"00-{TRACE}-{SPAN}-00".encode())
    assert not begin(TracingSettings(), unsampled).sampled
    assert begin(TracingSettings(sampler="always_on"), unsampled).sampled
    assert not begin(TracingSettings(sampler="parentbased_always_off")).sampled
    trace = begin(TracingSettings(sampler="parentbased_always_off"), (b"traceparent", f"00-{TRACE}-{SPAN}-01".encode()))
    assert trace.sampled and header(trace, b"traceparent") == f"00-{TRACE}-{span_id(trace)}-01"


@pytest.mark.parametrize("name", SAMPLERS)
def test_the_sampled_flag_is_what_the_sdks_sampler_decides(name: str) -> None:
    """With export off the gateway decides the flag itself, exactly as the SDK would with export on."""
    ours, theirs = Sampling(name, 0.25), sdk_sampler(name, 0.25)
    rng = random.Random(7)
    for _ in range(2000):
        trace_id = f"{rng.getrandbits(128):032x}"
        parent = None
        context = None
        if rng.random() < 0.5:
            parent = Parent(trace_id, SPAN, rng.random() < 0.5, "")
            remote = SpanContext(int(trace_id, 16), int(SPAN, 16), True, TraceFlags(int(parent.sampled)))
            context = set_span_in_context(NonRecordingSpan(remote))
        decision = theirs.should_sample(context, int(trace_id, 16), "span").decision
        assert ours.sampled(trace_id, parent) == (decision == sampling.Decision.RECORD_AND_SAMPLE)


def test_ratio_sampling_samples_about_the_ratio_of_new_traces() -> None:
    sampled = sum(begin(TracingSettings(sampler="traceidratio", ratio=0.1)).sampled for _ in range(4000))
    assert 300 < sampled < 500


def test_calls_carry_the_active_spans_context_and_a_new_trace_outside_any_request() -> None:
    def inside() -> tuple[str, str]:
        trace = Tracing(TracingSettings(), PROXIES).begin(request(), "192.0.2.7")
        return trace.headers[0][1].decode(), tracing.outgoing_text()["traceparent"]

    own, sent = alone(inside)
    assert own == sent
    outside = [alone(tracing.outgoing)[0][1].decode() for _ in range(2)]
    assert outside[0] != outside[1] and all(parse([v.encode()], []) for v in outside)


def test_with_export_off_every_hook_is_a_no_op() -> None:
    def inside() -> None:
        trace = Tracing(TracingSettings(), PROXIES).begin(request(), "192.0.2.7")
        assert tracing.span("permission.check", {"keto.namespace": "orgs"}) is NOOP
        assert tracing.upstream_span("jobs", "GET") is NOOP
        assert tracing.ory_span("keto", "permission_check", "POST") is NOOP
        with tracing.span("permission.check") as scope:
            scope.set("a", 1)
            scope.response(500)
            scope.fail("why")
            tracing.note("b", 2)
            tracing.response(200)
            assert ACTIVE.get() is trace  # no span was made: calls still name the request's span
        assert trace.span is None

    alone(inside)


def test_with_export_on_spans_nest_and_calls_name_the_innermost() -> None:
    """In-process, against a port nothing listens on (the export thread's failures are its own)."""
    settings = TracingSettings(endpoint="http://127.0.0.1:9/v1/traces", schedule_delay=60.0)
    gateway = Tracing(settings, PROXIES)
    gateway.start()

    def inside() -> None:
        trace = gateway.begin(request((b"traceparent", f"00-{TRACE}-{SPAN}-01".encode())), "192.0.2.7")
        assert trace.trace_id == TRACE and trace.span is not None
        assert trace.span.parent.span_id == int(SPAN, 16)
        with tracing.span("authenticate") as auth, tracing.ory_span("kratos", "whoami", "GET") as call:
            sent = tracing.outgoing_text()["traceparent"]
            call.response(401)
        inner = call.span  # type: ignore[attr-defined]
        assert sent == f"00-{TRACE}-{inner.context.span_id:016x}-01"
        assert inner.parent.span_id == auth.span.context.span_id  # type: ignore[attr-defined]
        assert auth.span.parent.span_id == trace.span.context.span_id  # type: ignore[attr-defined]
        assert inner.attributes["http.response.status_code"] == 401
        assert inner.status.status_code.name == "ERROR"  # a client span's 4xx
        assert ACTIVE.get() is trace  # the spans have ended: back to the request's
        gateway.finish(trace, {"tenant": "customer", "credential_hash": "secret-hash", "decision": "deny"}, 401)
        assert trace.span.attributes["gateway.tenant"] == "customer"
        assert "credential_hash" not in str(dict(trace.span.attributes))  # an allow-list, not the log

    try:
        alone(inside)
    finally:
        gateway.shutdown()
    assert tracing.span("after") is NOOP  # a stopped gateway's hooks are no-ops again
