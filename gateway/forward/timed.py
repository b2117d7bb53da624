"""`TimedUpstreams`: the upstreams of `gateway.forward.proxy`, each forward timed for the
request's metrics (`gateway.observe.metrics.CURRENT`) and each failure counted."""

from __future__ import annotations

import time
from collections.abc import Mapping

from gateway.errors import BadGateway, GatewayTimeout
from gateway.forward.proxy import Answer, ForwardPlan, Send, Upstreams
from gateway.observe import tracing
from gateway.observe.metrics import CURRENT, Metrics


class TimedUpstreams(Upstreams):
    """`Upstreams` that also time each forward and count its failures."""

    def __init__(self, urls: Mapping[str, str], metrics: Metrics, *, pool_size: int = 256) -> None:
        super().__init__(urls, pool_size=pool_size)
        self.metrics = metrics

    async def forward(self, plan: ForwardPlan, send: Send) -> int:
        times = CURRENT.get()  # (`_started`, inline: the hot path)
        if times is not None:
            times.upstream_started = time.perf_counter()
        try:
            status = await super().forward(plan, send)
        except (GatewayTimeout, BadGateway) as exc:
            self._failed(plan.upstream, exc)
            raise
        if tracing.recording():  # on the upstream call's span (gateway.pipeline opened it)
            tracing.response(status)
        return status

    async def open(self, plan: ForwardPlan) -> Answer:
        """The same for an answer relayed by its caller (`gateway.forward.keepalive`)."""
        _started()
        try:
            answer = await super().open(plan)
        except (GatewayTimeout, BadGateway) as exc:
            self._failed(plan.upstream, exc)
            raise
        if tracing.recording():
            tracing.response(answer.status)
        return answer

    def _failed(self, name: str, exc: GatewayTimeout | BadGateway) -> None:
        kind = "timeout" if isinstance(exc, GatewayTimeout) else "unreachable"
        self.metrics.upstream_errors.labels(name, kind).inc()


def _started() -> None:
    times = CURRENT.get()
    if times is not None:
        times.upstream_started = time.perf_counter()
