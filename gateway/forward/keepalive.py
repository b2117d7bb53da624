"""Server-sent event streams that stay up: an early head and a heartbeat on quiet streams.

Durably's streams send nothing while idle, and behind some Node adapters not even their
head until the first event. Relayed as they are, a quiet stream is cut by a proxy's read
timeout (or the route's idle timeout), a stream still waiting for its first event can be
answered 504, and a browser's `EventSource` reconnects after every cut: a fresh request,
each authorized again. On label-enforced SSE routes (`gateway.forward.dispatch` picks them:
a long-lived answer with an event filter, and `GATEWAY_SSE_HEARTBEAT_SECONDS` > 0) the
gateway therefore relays the stream itself:

- **head**: an upstream that answers within `HEAD_GRACE` is relayed as it answered (an
  error stays that error). One that holds its head longer gets the gateway's own
  `200 text/event-stream` head at once; if its own head later says anything but a 2xx
  event stream, the stream is ended there and none of its body is relayed.
- **heartbeat**: `: keep-alive` (an SSE comment, which clients ignore) whenever the stream
  was quiet for the interval, written only while the event filter holds no part of an
  event, so it never lands inside one.
- **no read deadline**: upstream silence is what an idle stream is, so neither the head
  nor the reads are timed; the stream ends when the upstream ends it, when the client goes
  away, or when the principal's re-check fails (`gateway.forward.dispatch`). A vanished
  upstream host is found by TCP keep-alive probes (`gateway.forward.h1`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from gateway.errors import GatewayError
from gateway.forward.headers import downstream_response_headers
from gateway.forward.proxy import Answer, BodyFilter, ForwardPlan, Send, Timeouts, Upstreams, relay

#: how long an upstream may take to answer before the gateway sends the head itself
HEAD_GRACE = 0.5
HEARTBEAT = b": keep-alive\n\n"
#: the gateway's own head (nginx and similar proxies are told not to buffer it)
HEAD = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
UNTIMED = Timeouts(head=None, idle=None)

log = logging.getLogger("gateway")


@runtime_checkable
class EventFilter(BodyFilter, Protocol):
    """A response filter that passes whole events and knows when it holds none in part."""

    @property
    def between_events(self) -> bool: ...


async def forward(upstreams: Upstreams, plan: ForwardPlan, send: Send, heartbeat: float) -> int:
    """`Upstreams.forward` for an SSE answer with an event filter; returns the status sent."""
    plan = plan._replace(timeouts=UNTIMED)
    opening = asyncio.ensure_future(upstreams.open(plan))
    try:
        done, _ = await asyncio.wait({opening}, timeout=HEAD_GRACE)
        if done:
            return await _relay_answered(opening.result(), plan, send, heartbeat)
        await send({"type": "http.response.start", "status": 200, "headers": HEAD})
        answer = await _beating(opening, send, heartbeat, _Quiet())
    except BaseException:
        opening.cancel()
        if opening.done() and not opening.cancelled() and opening.exception() is None:
            opening.result().abandon()  # answered just as this ended: give the connection back
        raise
    if answer is not None:
        await _relay_late(answer, plan, send, heartbeat)
    return 200


async def _relay_answered(answer: Answer, plan: ForwardPlan, send: Send, heartbeat: float) -> int:
    """The upstream answered in time: a 2xx event stream is relayed with heartbeats, anything
    else as `Upstreams.forward` relays it (the filter on any 2xx body, none on an error)."""
    ok = 200 <= answer.status < 300
    try:
        if not (ok and _is_event_stream(answer)) or plan.stream is None:
            await relay(answer, send, plan.stream() if ok and plan.stream else None)
        else:
            headers = downstream_response_headers(answer.raw_headers, keep_length=False)
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await _pump(answer, send, plan.stream(), heartbeat)
    except BaseException:
        answer.abandon()
        raise
    answer.release()
    return answer.status


async def _relay_late(answer: Answer, plan: ForwardPlan, send: Send, heartbeat: float) -> None:
    """The head is sent already: only a 2xx event stream can follow it."""
    try:
        if 200 <= answer.status < 300 and _is_event_stream(answer) and plan.stream is not None:
            await _pump(answer, send, plan.stream(), heartbeat)
            answer.release()
            return
        log.info("stream ended: the upstream answered %d after the head", answer.status)
    except BaseException:
        answer.abandon()
        raise
    answer.abandon()
    await send({"type": "http.response.body", "body": b""})


async def _beating(opening: asyncio.Future[Answer], send: Send, heartbeat: float, quiet: EventFilter) -> Answer | None:
    """Heartbeats until the upstream's head is in; None (stream ended) if it never comes."""
    while True:
        done, _ = await asyncio.wait({opening}, timeout=heartbeat)
        if not done:
            await _beat(send, quiet)
            continue
        try:
            return opening.result()
        except GatewayError as error:  # no answer after all: the head is out, so end the stream
            log.info("stream ended: %s", error.description)
            await send({"type": "http.response.body", "body": b""})
            return None


async def _pump(answer: Answer, send: Send, events: BodyFilter, heartbeat: float) -> None:
    """The upstream's events through the filter, a heartbeat whenever none came for a while."""
    chunks: AsyncIterator[bytes] = answer.chunks()
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(chunks))
            done, _ = await asyncio.wait({pending}, timeout=heartbeat)
            if not done:
                await _beat(send, events)
                continue
            read, pending = pending, None
            try:
                out = events.feed(read.result())
            except StopAsyncIteration:
                break
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
        await send({"type": "http.response.body", "body": events.finish()})
    except (TimeoutError, ConnectionError):  # the head is out: end the response (a truncated stream)
        await send({"type": "http.response.body", "body": b""})
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


async def _beat(send: Send, events: BodyFilter) -> None:
    if isinstance(events, EventFilter) and events.between_events:
        await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})


def _is_event_stream(answer: Answer) -> bool:
    for name, value in answer.raw_headers:
        if name.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() == b"text/event-stream"
    return False


class _Quiet:
    """Before the upstream's head: nothing of an event is held."""

    between_events = True

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""
