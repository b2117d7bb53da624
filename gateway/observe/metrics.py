"""Prometheus metrics, cheap on the hot path.

Per request: one count and one histogram observation, kept in plain dicts by label values
and turned into metric families at scrape time (`Counts`, `Histograms`): prometheus_client's
label children take a lock per `inc` and walk the buckets in Python per `observe`. Ory and
upstream timings are observed only where those calls happen (Ory: cache misses; upstream:
once per forwarded request). The decision-cache counters, the Redis layer's counters and the
open-stream count are read at scrape time by a custom collector, so the authentication path
never touches Prometheus.

Names (see docs/operations.md):

    gateway_requests_total{tenant,rule,decision,status}
    gateway_request_duration_seconds{tenant,rule}           (streams excluded)
    gateway_ory_request_duration_seconds{tenant,operation}
    gateway_upstream_duration_seconds{upstream}             (time to response headers)
    gateway_upstream_errors_total{upstream,error}
    gateway_decision_cache_{hits,misses,joins,negative_hits}_total{tenant}
    gateway_decision_cache_entries{tenant}
    gateway_tenant_up{tenant,service}                       (each tenant's Ory services: gateway.ory.health)
    gateway_ory_saturated_total{tenant}                     (calls refused for want of a slot in the tenant's pool)
    gateway_too_many_attempts_total{tenant}                 (unknown credentials refused past an address's budget)
    gateway_open_streams
    gateway_shared_cache_{hits,misses,errors}_total          (Redis, when configured)
    gateway_revocations_total{source}
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from gateway.ory.http import operation as ory_operation

if TYPE_CHECKING:
    from gateway.authn import TenantAuthenticator
    from gateway.front.exchange import Exchange
    from gateway.ory.pool import OryPool

log = logging.getLogger("gateway")

LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RequestTimes:
    """What one request learned about where its time went (set per request, see `CURRENT`)."""

    __slots__ = ("log", "ory", "upstream", "upstream_started")

    def __init__(self, log: dict[str, object]) -> None:
        self.log = log
        self.ory = 0.0
        self.upstream = 0.0
        self.upstream_started = 0.0


#: the current request's timings; Ory loads run in their own task, which copies this context
CURRENT: ContextVar[RequestTimes | None] = ContextVar("gateway_request_times", default=None)


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counts(
            "gateway_requests",
            "Requests by tenant, rule, decision and status",
            ("tenant", "rule", "decision", "status"),
        )
        r.register(self.requests)
        self.request_seconds = Histograms(
            "gateway_request_duration_seconds",
            "Whole request, first byte in to last byte out (not streams)",
            ("tenant", "rule"),
        )
        r.register(self.request_seconds)
        self.ory_seconds = Histogram(
            "gateway_ory_request_duration_seconds",
            "Ory calls (decision-cache misses, relays), to response headers",
            ["tenant", "operation"],
            buckets=LATENCY,
            registry=r,
        )
        self.upstream_seconds = Histograms(
            "gateway_upstream_duration_seconds", "Upstream calls, request start to response headers", ("upstream",)
        )
        r.register(self.upstream_seconds)
        self.upstream_errors = Counter(
            "gateway_upstream_errors",
            "Upstream calls that failed (unreachable, timeout)",
            ["upstream", "error"],
            registry=r,
        )
        self.revocations = Counter(
            "gateway_revocations", "Revocations applied to this replica's decision cache", ["source"], registry=r
        )

    def request(self, tenant: str, rule: str, decision: str, status: int, seconds: float | None) -> None:
        self.requests.inc((tenant, rule, decision, status))
        if seconds is not None:
            self.request_seconds.observe((tenant, rule), seconds)

    def upstream(self, name: str, seconds: float) -> None:
        self.upstream_seconds.observe((name,), seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    async def answer(self, ex: Exchange) -> None:
        """`GET /metrics` on the main listener (unless GATEWAY_METRICS_LISTEN gives them their own)."""
        body, content_type = self.render()
        await ex.send_start(200, [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")])
        await ex.send({"type": "http.response.body", "body": body})

    # -- Ory: httpx event hooks on the control-plane client ------------------------------------

    def ory_hooks(self) -> dict[str, list[Callable[[Any], Any]]]:
        async def started(request: httpx.Request) -> None:
            request.extensions["gateway_started"] = time.perf_counter()

        async def answered(response: httpx.Response) -> None:
            began = response.request.extensions.get("gateway_started")
            if began is None:
                return
            seconds = time.perf_counter() - began
            times = CURRENT.get()
            tenant = ""
            if times is not None:
                times.ory += seconds
                tenant = str(times.log.get("tenant", ""))
            self.ory_seconds.labels(tenant, ory_operation(response.request.url.path)).observe(seconds)

        return {"request": [started], "response": [answered]}

    # -- Prometheus' own HTTP server on GATEWAY_METRICS_LISTEN ----------------------------------

    def serve(self, host: str, port: int, pages: Mapping[str, Callable[[], bytes]]) -> Callable[[], None]:
        """Start the scrape endpoint on its own port (a daemon thread), with `pages` (path -> JSON
        body) beside it; returns its stopper."""
        from gateway.observe.listener import start

        server, thread = start(host, port, self.registry, pages)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=2)

        return stop


class StateCollector(Collector):
    """Counters kept by other parts of the gateway, read at scrape time: the decision caches,
    the open streams, the Redis layer's. Registered in `Metrics.registry` once they exist."""

    def __init__(
        self,
        authn: Mapping[str, TenantAuthenticator],
        ory: Mapping[str, OryPool],
        open_streams: Callable[[], int],
        shared: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self.authn = authn
        self.ory = ory
        self.open_streams = open_streams
        self.shared = shared
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            families = {
                name: CounterMetricFamily(f"gateway_decision_cache_{name}", f"Decision cache {name}", labels=["tenant"])
                for name in ("hits", "misses", "joins", "negative_hits")
            }
            entries = GaugeMetricFamily("gateway_decision_cache_entries", "Cached decisions", labels=["tenant"])
            for tenant, authenticator in list(self.authn.items()):
                stats = authenticator.stats
                for name, family in families.items():
                    family.add_metric([tenant], getattr(stats, name))
                entries.add_metric([tenant], len(authenticator.cache))
            yield from families.values()
            yield entries
            yield from self._tenants()
            yield GaugeMetricFamily("gateway_open_streams", "Long-lived responses open now", value=self.open_streams())
            if self.shared is not None:
                for name, value in self.shared().items():
                    yield CounterMetricFamily(f"gateway_shared_cache_{name}", f"Redis decision cache {name}", value)

    def _tenants(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "gateway_tenant_up", "A tenant's Ory service answers (1) or not (0)", labels=["tenant", "service"]
        )
        saturated = CounterMetricFamily(
            "gateway_ory_saturated", "Ory calls refused: no free slot in the tenant's pool in time", labels=["tenant"]
        )
        attempts = CounterMetricFamily(
            "gateway_too_many_attempts", "Unknown credentials refused past an address's budget", labels=["tenant"]
        )
        for tenant, pool in list(self.ory.items()):
            for service, state in list(pool.health.services.items()):
                up.add_metric([tenant, service], 1 if state.up else 0)
            saturated.add_metric([tenant], pool.saturated)
            authenticator = self.authn.get(tenant)
            attempts.add_metric([tenant], authenticator.refused if authenticator is not None else 0)
        yield from (up, saturated, attempts)


class Counts(Collector):
    """A counter family by label values (the last one may be an int, rendered as text)."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name, self.documentation, self.labels = name, documentation, labels
        self._counts: dict[tuple[str | int, ...], int] = {}

    def inc(self, key: tuple[str | int, ...]) -> None:
        self._counts[key] = self._counts.get(key, 0) + 1

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, count in list(self._counts.items()):  # a copy: a scrape may run on another thread
            family.add_metric([str(v) for v in key], count)
        yield family


class Histograms(Collector):
    """A histogram family by label values. The event loop is the only writer; a scrape reads copies."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...], buckets: Sequence[float] = LATENCY):
        self.name, self.documentation, self.labels = name, documentation, labels
        self.bounds = tuple(buckets)
        self._le = [floatToGoString(b) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        #: label values -> observations per bucket (not cumulative; the last is +Inf), then their sum
        self._rows: dict[tuple[str, ...], list[float]] = {}

    def observe(self, key: tuple[str, ...], seconds: float) -> None:
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = [0.0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, seconds)] += 1  # the first bucket with seconds <= bound
        row[-1] += seconds

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, row in list(self._rows.items()):
            copy = list(row)
            family.add_metric(list(key), list(zip(self._le, accumulate(copy[:-1]), strict=True)), copy[-1])
        yield family
