"""Request lifecycle: limits before any work, the request id on every response, graceful drain.

- `Tracker`: wraps one request's ASGI send/receive. Every response start gets exactly one
  `X-Request-Id` (ours; an upstream's own is replaced); the status (on the exchange too) and
  the time the upstream took to answer are noted for the access log and metrics. Once the request body has been
  read, a `receive()` (only stream watchers call it then) also returns `http.disconnect`
  when the gateway starts draining, so open streams end cleanly (final chunk sent).
- `Drain`: on SIGTERM/SIGINT, before uvicorn's own handler runs (it stops accepting and
  waits up to GATEWAY_SHUTDOWN_TIMEOUT for in-flight requests), open streams are ended.

The request-head limits (408, 431) live with the connection, in gateway.server.protocol.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from gateway.observe.metrics import RequestTimes

if TYPE_CHECKING:
    from gateway.front.exchange import Exchange

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]

DISCONNECT: Message = {"type": "http.disconnect"}


class Drain:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    @property
    def draining(self) -> bool:
        return self.event.is_set()

    def install(self) -> None:
        """Chain in front of uvicorn's SIGTERM/SIGINT handlers (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)

            def handler(
                signum: int, frame: FrameType | None, previous: Any = previous
            ) -> None:  # runs between bytecodes in the main thread
                loop.call_soon_threadsafe(self.event.set)
                if callable(previous):
                    previous(signum, frame)

            signal.signal(sig, handler)


class Tracker:
    __slots__ = ("_receive", "_send", "body_done", "drain", "exchange", "request_id", "status", "stream", "times")

    def __init__(self, send: Send, receive: Receive, request_id: str, times: RequestTimes, drain: Drain) -> None:
        self._send = send
        self._receive = receive
        self.request_id = (b"x-request-id", request_id.encode())
        self.times = times
        self.drain = drain
        self.status = 0
        self.stream = False
        self.body_done = False
        #: the request's exchange: its status is set as the response starts (from then on an
        #: error can only end the stream), whoever sends it
        self.exchange: Exchange | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
            # an event stream (not timed as a request): looked for by name only if a value says so
            if b"\ntext/event-stream" in b"\n" + b"\n".join([h[1] for h in headers]):
                for name, value in headers:
                    if name.lower() == b"content-type" and value.startswith(b"text/event-stream"):
                        self.stream = True
            headers.append(self.request_id)
            message["headers"] = headers  # the app's own message, built for this one send
            self.status = status = message["status"]
            if self.exchange is not None:
                self.exchange.status = status
            times = self.times
            if times.upstream_started:
                times.upstream = time.perf_counter() - times.upstream_started
        await self._send(message)

    async def receive(self) -> Message:
        if not self.body_done:
            message = await self._receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                self.body_done = True
            return message
        # The body is read: whoever still listens is waiting for a disconnect. A drain is one.
        if self.drain.draining:
            self.times.log["drained"] = True
            return DISCONNECT
        incoming = asyncio.ensure_future(self._receive())
        drained = asyncio.ensure_future(self.drain.event.wait())
        try:
            await asyncio.wait((incoming, drained), return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
            if not incoming.done():
                incoming.cancel()
        if incoming.done() and not incoming.cancelled():
            return incoming.result()
        self.times.log["drained"] = True
        return DISCONNECT
