"""Tracing: every request is part of a W3C trace; its spans go out over OTLP when export is on.

Per request, `Tracing.begin` reads the caller's `traceparent`/`tracestate`
(`gateway.observe.tracecontext`): a valid one is continued (same trace id, the caller's
span as parent), anything else starts a new trace. With `GATEWAY_TRACE_TRUST=proxies` only
a peer in `GATEWAY_TRUSTED_PROXIES` is believed (default `anyone`, as Envoy and Pomerium;
the risks are in docs/operations.md, "Tracing"). The trace id goes into the access-log line.

What leaves the gateway carries the gateway's own context, never the client's copy
(`gateway.forward.headers` strips it): forwarded requests, WebSocket handshakes and the
label profiles' look-ups, every Ory call (`gateway.ory.http.ory_request`), and `/decisions`
answers (for the proxy in front to copy upstream). `outgoing()` gives those headers for
a call made now: its parent is the active span.

Export off (no OTLP endpoint configured): the gateway's span is only an id. A request
costs the parse, two random ids and the header; no OpenTelemetry object is made, and the
hooks below are no-ops. The sampled flag is still decided (the configured sampler,
default parent-based always-on), so the gateway heads the trace either way.

Export on: `gateway.observe.export` (the OpenTelemetry SDK, imported only then) records
the request as a server span and these as its children:

    authenticate                           span("authenticate") in gateway.pipeline
      kratos whoami / hydra introspect ... ory_span(...) in gateway.ory.http, for every Ory call
    permission.check (or any other)        span(name, attributes): a generic hook
    upstream <name>                        upstream_span(name) in gateway.pipeline, WebSockets

The active span lives in a context variable, so work started in a task (the decision
cache's single-flight load) is a child of the span that started it. The exporter travels
with it (`RequestTrace.export`): the hooks below find it there, so nothing about tracing is
set for the whole process at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway.config.settings import TracingSettings
from gateway.front.request import RequestView
from gateway.observe.spans import ACTIVE, NOOP, Attributes, AttributeValue, Header, Kind, RequestTrace, Scope
from gateway.observe.tracecontext import Parent, new_ids, parse, traceparent

if TYPE_CHECKING:
    from gateway.front.trusted_proxies import TrustedProxies
    from gateway.observe.export import Export

_new = tuple.__new__

LOW_64 = (1 << 64) - 1


class Sampling:
    """The sampled flag, decided as OpenTelemetry's samplers decide it (`OTEL_TRACES_SAMPLER`):
    parent-based ones follow the caller's flag; the root decision is always, never, or
    `traceidratio` (the trace id's low 64 bits below ratio x 2^64)."""

    def __init__(self, name: str = "parentbased_always_on", ratio: float = 1.0) -> None:
        self.parent_based = name.startswith("parentbased_")
        root = name.removeprefix("parentbased_")
        #: a new trace is sampled when its id's low 64 bits are below this
        self.bound = 1 << 64 if root == "always_on" else 0 if root == "always_off" else round(ratio * (1 << 64))

    def sampled(self, trace_id: str, parent: Parent | None) -> bool:
        if parent is not None and self.parent_based:
            return parent.sampled
        return int(trace_id[16:], 16) < self.bound


def started(sampling: Sampling) -> RequestTrace:
    """A new trace whose root is the gateway's span (export off), built with as few calls as
    can be: this runs for every request."""
    ids = new_ids()
    trace_id = ids[:32]
    bound = sampling.bound
    sampled = bound > LOW_64 or (bound > 0 and int(ids[16:32], 16) < bound)
    header = f"00-{trace_id}-{ids[32:]}-{'01' if sampled else '00'}".encode()
    return _new(RequestTrace, (trace_id, sampled, "", ((b"traceparent", header),), None, None))


def continued(parent: Parent, sampling: Sampling) -> RequestTrace:
    """The caller's trace, the gateway's span under the caller's (export off)."""
    sampled = sampling.sampled(parent.trace_id, parent)
    header = (b"traceparent", traceparent(parent.trace_id, new_ids()[32:], sampled))
    headers = (header, (b"tracestate", parent.state.encode("latin-1"))) if parent.state else (header,)
    return RequestTrace(parent.trace_id, sampled, parent.state, headers)


class Tracing:
    """The gateway's tracing, built from `TracingSettings`; `start()` turns export on (if configured)."""

    def __init__(self, settings: TracingSettings, proxies: TrustedProxies) -> None:
        self.settings = settings
        self.sampling = Sampling(settings.sampler, settings.ratio)
        self.anyone = settings.trust == "anyone"
        self.proxies = proxies
        self.export: Export | None = None

    def start(self) -> None:
        """Build the exporter (a background thread sends batches): requests begun from now on are recorded."""
        if self.settings.endpoint is not None and self.export is None:
            from gateway.observe.export import Export

            self.export = Export(self.settings)

    def shutdown(self) -> None:
        """Send what is queued (bounded wait: a collector that does not answer loses it)."""
        if self.export is not None:
            export, self.export = self.export, None
            export.shutdown()

    def begin(self, request: RequestView, peer: str) -> RequestTrace:
        """The request's trace, made active for everything the request does from here on."""
        values = request.header_values(b"traceparent") if b"traceparent" in request.first else None
        parent = None
        if values and (self.anyone or self.proxies.trusts(peer)):
            parent = parse(values, request.header_values(b"tracestate"))
        if self.export is not None:
            trace = self.export.server(parent, request)
        else:
            trace = started(self.sampling) if parent is None else continued(parent, self.sampling)
        ACTIVE.set(trace)
        return trace

    def finish(self, trace: RequestTrace, log: Mapping[str, object], status: int) -> None:
        """End the request's span with what the pipeline learned (`Exchange.log`) and the status."""
        if trace.span is not None and self.export is not None:
            self.export.finish(trace, log, status)


# -- hooks for the rest of the gateway: no-ops when export is off -------------------------------

#: the sampler of a call made outside any request (its own trace)
_ALONE = Sampling()


def _export() -> Export | None:
    """The exporter recording the active trace, if any."""
    active = ACTIVE.get()
    return None if active is None else active.export


def recording() -> bool:
    """Whether the active trace's spans are exported: a hot path asks before it builds attributes."""
    return _export() is not None


def span(name: str, attributes: Attributes | None = None, *, kind: Kind = "internal") -> Scope:
    """A child span of the active one for the `with` block, e.g.
    `with tracing.span("permission.check", {"keto.namespace": ns}):`. Never put a credential,
    cookie, token or query string in `attributes`: they are exported as they are."""
    export = _export()
    return NOOP if export is None else export.child(name, attributes, kind)


def upstream_span(upstream: str, method: str) -> Scope:
    """The upstream call (a client span): the `traceparent` the upstream gets names it as parent."""
    export = _export()
    if export is None:
        return NOOP
    return export.child(f"upstream {upstream}", {"gateway.upstream": upstream, "http.request.method": method}, "client")


def ory_span(service: str, operation: str, method: str) -> Scope:
    """One Ory call (a client span): `kratos whoami`, `hydra introspect`, `keto permission_check`..."""
    export = _export()
    if export is None:
        return NOOP
    attributes = {"ory.service": service, "ory.operation": operation, "http.request.method": method}
    return export.child(f"{service} {operation}", attributes, "client")


def note(key: str, value: AttributeValue) -> None:
    """An attribute on the active span (nothing when export is off)."""
    active = ACTIVE.get()
    if active is not None and active.span is not None:
        active.span.set_attribute(key, value)


def response(status: int) -> None:
    """The answer's status on the active (client) span."""
    active = ACTIVE.get()
    if active is not None and active.export is not None:
        active.export.response(active, status)


def outgoing() -> tuple[Header, ...]:
    """`traceparent` (and `tracestate`) for a call made now, as the active span's child."""
    active = ACTIVE.get()
    return started(_ALONE).headers if active is None else active.headers  # outside any request: a trace of its own


def outgoing_text() -> dict[str, str]:
    """`outgoing()` for clients that take text headers (httpx)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in outgoing()}
