"""`Relay`: sends a forward plan upstream and relays the answer back.

A short answer is the upstream call's own coroutine (no frame of this one to resume). A
long-lived one (SSE, a streamed run) is held under the stream cap (`StreamCap`: the process's,
the tenant's and the principal's shares) and ends when
the upstream ends it, when the client goes away (the upstream connection is closed with it),
or when a re-check of the principal fails (`StreamRecheck`). A label-enforced event stream
is relayed by `gateway.forward.keepalive` (its own head, heartbeats while quiet).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import Any

from gateway.decision import Decision
from gateway.errors import GatewayError
from gateway.forward import keepalive
from gateway.forward.proxy import Body, ForwardPlan, Upstreams
from gateway.forward.recheck import StreamRecheck
from gateway.forward.stream_cap import StreamCap
from gateway.front.exchange import Exchange, Send

Message = dict[str, Any]


class Relay:
    def __init__(self, upstreams: Upstreams, cap: StreamCap, recheck: StreamRecheck, heartbeat: float) -> None:
        self.upstreams = upstreams
        self.cap = cap
        self.recheck = recheck
        #: seconds between SSE heartbeats on a quiet label-enforced event stream (0: none)
        self.heartbeat = heartbeat

    def forward(self, ex: Exchange, decision: Decision, plan: ForwardPlan) -> Awaitable[object]:
        """Send the plan upstream and relay the answer; a long-lived one is bounded and re-checked."""
        ex.log["upstream"] = plan.upstream
        # the exchange's status is set as the response starts (by the app's `Tracker`): from
        # there on errors can only end the stream
        send = _with_added(ex) if ex.cors or ex.quota or ex.session_cookie else ex.send
        if not plan.long_lived:
            return self.upstreams.forward(plan, send)
        if self.heartbeat and plan.stream is not None:  # a label-enforced event stream: early head, heartbeats
            return self._long_lived(ex, decision, plan, keepalive.forward(self.upstreams, plan, send, self.heartbeat))
        return self._long_lived(ex, decision, plan, self.upstreams.forward(plan, send))

    async def _long_lived(
        self, ex: Exchange, decision: Decision, plan: ForwardPlan, call: Coroutine[Any, Any, int]
    ) -> None:
        try:
            held = self.cap.take(decision.tenant, decision.principal)
        except GatewayError:
            call.close()  # never sent
            raise
        try:
            await self._stream(ex, decision, call, watch_disconnect=not _is_stream(plan.body))
        finally:
            self.cap.release(decision.tenant, held)

    async def _stream(self, ex: Exchange, decision: Decision, call: Awaitable[int], *, watch_disconnect: bool) -> None:
        relay = asyncio.ensure_future(call)
        watchers: list[asyncio.Task[GatewayError | None]] = []
        if watch_disconnect:  # the request body is consumed: receive() now only reports a disconnect
            watchers.append(asyncio.create_task(_disconnected(ex)))
        if decision.principal is not None:
            watchers.append(asyncio.create_task(self._recheck(ex, decision)))
        try:
            await asyncio.wait([relay, *watchers], return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # this request was cancelled (body deadline, shutdown): so is its relay
            relay.cancel()
            raise
        finally:
            for task in watchers:
                task.cancel()
        if relay.done():
            relay.result()  # the upstream ended the stream (or failed before the head: 502/504)
            return
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        ended = next((t.result() for t in watchers if t.done() and not t.cancelled()), None)
        ex.log["stream_end"] = ended.reason if ended is not None else "client_disconnected"
        if ex.status:  # head sent: end the body (a no-op if the client is gone)
            await ex.send({"type": "http.response.body", "body": b""})
        elif ended is not None:
            raise ended

    async def _recheck(self, ex: Exchange, decision: Decision) -> GatewayError | None:
        return await self.recheck.until_refused(ex, decision)


def _is_stream(body: Body) -> bool:
    return body is not None and not isinstance(body, bytes)


async def _disconnected(ex: Exchange) -> None:
    while (await ex.receive())["type"] != "http.disconnect":
        pass


def _with_added(ex: Exchange) -> Send:
    """`ex.send` adding the gateway's own headers to the response start: its CORS answer (the
    upstream's own was dropped: `gateway.forward.headers`), the route's RateLimit fields and a
    refreshed session cookie."""

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            ex.status = message["status"]
            message = {**message, "headers": [*message["headers"], *ex.added()]}
        await ex.send(message)

    return send
