"""OTLP export with the OpenTelemetry SDK; imported only when export is on.

Everything the SDK is given is explicit, read and checked by `gateway.config.tracing`: the
exporter's URL, headers, timeout, compression and certificates, the batch processor's
queue, batch size and delays, the sampler, the resource, the span limits. (The OTLP/HTTP
exporter 1.45 also merges `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` from the environment
itself, which the gateway has read and checked the same way; the SDK's own switches
`OTEL_PYTHON_*` stay the SDK's.) No global tracer provider is set: the gateway's spans are
its own, whatever else runs in the process.

Never on the request path: ended spans go into the `BatchSpanProcessor`'s bounded queue
(`OTEL_BSP_MAX_QUEUE_SIZE`; full means dropped, never waited for) and a background thread
sends them in batches over OTLP/HTTP (protobuf). A collector that is slow, down or
answering errors costs that thread its retries, not a request its time; the SDK's
complaints about it (logger `opentelemetry`) are let through once a minute per logger.

Attributes are chosen here, from an allow-list: tenant, route id and pattern, decision,
deny reason, status, method, principal kind, upstream, Ory service and operation. No
header, cookie, credential, query string or identity id is ever an attribute, and errors
are recorded as their fixed reason id, never as a message or stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Mapping
from contextvars import Token
from types import TracebackType
from typing import cast

from opentelemetry import trace as api
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanLimits, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.version import __version__ as sdk_version
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from gateway.config.settings import TracingSettings
from gateway.errors import GatewayError
from gateway.front.request import RequestView
from gateway.observe.spans import ACTIVE, Active, Attributes, Kind, RequestTrace, Scope
from gateway.observe.tracecontext import Parent, traceparent

#: seconds `shutdown` waits for the last batch to leave
SHUTDOWN_SECONDS = 2.0
#: the SDK's loggers that speak once per failed batch, retry or dropped span
NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk._shared_internal",
)
KINDS = {"internal": SpanKind.INTERNAL, "client": SpanKind.CLIENT}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
#: `Exchange.log` field -> server span attribute (an allow-list: nothing else is exported)
FROM_LOG = {
    "tenant": "gateway.tenant",
    "rule": "gateway.route.id",
    "decision": "gateway.decision",
    "reason": "gateway.deny_reason",
    "kind": "gateway.principal.kind",
    "upstream": "gateway.upstream",
    "stream_end": "gateway.stream_end",
}


class Export:
    def __init__(self, settings: TracingSettings) -> None:
        assert settings.endpoint is not None
        exporter = OTLPSpanExporter(
            endpoint=settings.endpoint,
            certificate_file=settings.certificate,
            client_key_file=settings.client_key,
            client_certificate_file=settings.client_certificate,
            headers=dict(settings.headers),
            timeout=settings.timeout,
            compression=Compression.Gzip if settings.compression == "gzip" else Compression.NoCompression,
        )
        self.processor = BatchSpanProcessor(
            exporter,
            max_queue_size=settings.max_queue,
            schedule_delay_millis=settings.schedule_delay * 1000,
            max_export_batch_size=settings.max_batch,
            export_timeout_millis=settings.export_timeout * 1000,
        )
        self.provider = TracerProvider(
            sampler=sdk_sampler(settings.sampler, settings.ratio),
            resource=resource(settings),
            shutdown_on_exit=False,  # `shutdown` is called by the app, with a bounded wait
            span_limits=SpanLimits(
                max_attributes=64,
                max_events=16,
                max_links=8,
                max_span_attributes=64,
                max_event_attributes=16,
                max_link_attributes=16,
                max_attribute_length=1024,
                max_span_attribute_length=1024,
            ),
        )
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("gateway")
        for name in NOISY_LOGGERS:
            logging.getLogger(name).addFilter(OncePerMinute())

    def server(self, parent: Parent | None, request: RequestView) -> RequestTrace:
        """The request's span: a child of the caller's, or the root of a new trace."""
        context = None
        if parent is not None:
            flags = TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT)
            carried = TraceState.from_header([parent.state]) if parent.state else None
            remote = SpanContext(int(parent.trace_id, 16), int(parent.span_id, 16), True, flags, carried)
            context = api.set_span_in_context(NonRecordingSpan(remote))
        method = request.method if request.method in METHODS else "_OTHER"
        attributes = {
            "http.request.method": method,
            "url.scheme": request.scheme,
            "client.address": request.client_ip,
            "gateway.request_id": request.request_id,
        }
        span = self.tracer.start_span(method, context, SpanKind.SERVER, attributes)
        state = parent.state if parent is not None else ""
        ids = span.get_span_context()
        return RequestTrace(f"{ids.trace_id:032x}", ids.trace_flags.sampled, state, headers_of(span, state), span, self)

    def finish(self, trace: RequestTrace, log: Mapping[str, object], status: int) -> None:
        span = cast(Span, trace.span)
        if not span.is_recording():  # not sampled: nothing to say
            return
        for field, attribute in FROM_LOG.items():
            value = log.get(field)
            if isinstance(value, str | bool | int | float) and value != "":
                span.set_attribute(attribute, value)
        span.set_attribute("http.response.status_code", status)
        route = (span.attributes or {}).get("http.route")
        if route:
            span.update_name(f"{span.name} {route}")
        if status >= 500:  # a server span's error: the gateway failed, not the client
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def child(self, name: str, attributes: Attributes | None, kind: Kind) -> Scope:
        """A span under the active one (a new trace's root when nothing is active)."""
        parent = ACTIVE.get()
        context = None
        if parent is not None and parent.span is not None:
            context = api.set_span_in_context(parent.span)
        span = cast(Span, self.tracer.start_span(name, context, KINDS[kind], attributes))
        return Live(span, parent.state if parent is not None else "", kind == "client", self)

    def response(self, active: Active | None, status: int) -> None:
        if isinstance(active, Live):
            active.response(status)

    def shutdown(self) -> None:
        """Flush and stop the batch processor, waiting at most SHUTDOWN_SECONDS."""
        worker = threading.Thread(target=self.provider.shutdown, name="gateway-trace-shutdown", daemon=True)
        worker.start()
        worker.join(SHUTDOWN_SECONDS)


class Live(Scope):
    """A recorded span while its `with` block runs: the active one inside it."""

    __slots__ = ("client", "export", "headers", "span", "state", "token")

    def __init__(self, span: Span, state: str, client: bool, export: Export) -> None:
        self.span = span
        self.export = export
        self.state = state
        self.headers = headers_of(span, state)
        self.client = client
        self.token: Token[Active | None] | None = None

    def __enter__(self) -> Live:
        self.token = ACTIVE.set(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.token is not None:
            ACTIVE.reset(self.token)
        if error is not None:
            failed(self.span, error)
        self.span.end()

    def set(self, key: str, value: str | bool | int | float) -> None:
        self.span.set_attribute(key, value)

    def response(self, status: int) -> None:
        self.span.set_attribute("http.response.status_code", status)
        if self.client and status >= 400:  # a client span's error (OpenTelemetry's HTTP conventions)
            self.fail(str(status))

    def fail(self, reason: str) -> None:
        self.span.set_attribute("error.type", reason)
        self.span.set_status(Status(StatusCode.ERROR, reason))


def headers_of(span: api.Span, state: str) -> tuple[tuple[bytes, bytes], ...]:
    """`traceparent` (and the caller's `tracestate`) naming `span` as the parent."""
    ids = span.get_span_context()
    parent = (b"traceparent", traceparent(f"{ids.trace_id:032x}", f"{ids.span_id:016x}", ids.trace_flags.sampled))
    return (parent, (b"tracestate", state.encode("latin-1"))) if state else (parent,)


class OncePerMinute(logging.Filter):
    """One record a minute from a logger: a collector that is down is said, not shouted."""

    def __init__(self) -> None:
        super().__init__()
        self.last = -60.0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.created - self.last < 60.0:
            return False
        self.last = record.created
        return True


def failed(span: Span, error: BaseException) -> None:
    """Record how a span's work ended early, by its fixed reason id: a denial (4xx) is an
    outcome, an outage or a bug an error; a cancel (client gone, stream ended) neither."""
    if isinstance(error, asyncio.CancelledError):
        span.set_attribute("gateway.cancelled", True)
    elif isinstance(error, GatewayError) and error.status < 500:
        span.set_attribute("gateway.deny_reason", error.reason)
    else:
        reason = error.reason if isinstance(error, GatewayError) else type(error).__name__
        span.set_attribute("error.type", reason)
        span.set_status(Status(StatusCode.ERROR, reason))


def sdk_sampler(name: str, ratio: float) -> sampling.Sampler:
    """`OTEL_TRACES_SAMPLER` as the SDK's sampler (`gateway.observe.tracing.Sampling` decides alike)."""
    roots: dict[str, sampling.Sampler] = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
    }
    root = roots[name.removeprefix("parentbased_")]
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def resource(settings: TracingSettings) -> Resource:
    """`OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` (which wins), plus the SDK's own
    attributes and an instance id per process (replicas and workers tell apart)."""
    attributes: dict[str, str] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "service.instance.id": str(uuid.uuid4()),
    }
    attributes.update(settings.resource)
    attributes["service.name"] = settings.service_name
    return Resource(attributes)
