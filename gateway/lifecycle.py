"""Request lifecycle: limits before any work, the request id on every response, graceful drain.

- `Tracker`: wraps one request's ASGI send/receive. Every response start gets exactly one
  `X-Request-Id` (ours; an upstream's own is replaced); the status and the time the upstream
  took to answer are noted for the access log and metrics. Once the request body has been
  read, a `receive()` (only stream watchers call it then) also returns `http.disconnect`
  when the gateway starts draining, so open streams end cleanly (final chunk sent).
- `Drain`: on SIGTERM/SIGINT, before uvicorn's own handler runs (it stops accepting and
  waits up to GATEWAY_SHUTDOWN_TIMEOUT for in-flight requests), open streams are ended.
- `HeaderLimitsProtocol`: uvicorn's httptools protocol plus what it lacks: a deadline for
  the request head (GATEWAY_HEADER_TIMEOUT: 408 and close; also for idle new connections)
  and a bound on the bytes buffered before the head is complete (431 and close).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.config import Limits
from gateway.forwarded import new_request_id
from gateway.metrics import RequestTimes

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]

DISCONNECT: Message = {"type": "http.disconnect"}
access = logging.getLogger("gateway.access")


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
    __slots__ = ("_receive", "_send", "body_done", "drain", "request_id", "status", "stream", "times")

    def __init__(self, send: Send, receive: Receive, request_id: str, times: RequestTimes, drain: Drain) -> None:
        self._send = send
        self._receive = receive
        self.request_id = (b"x-request-id", request_id.encode())
        self.times = times
        self.drain = drain
        self.status = 0
        self.stream = False
        self.body_done = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: list[tuple[bytes, bytes]] = []
            for header in message.get("headers", ()):
                name = header[0].lower()
                if name == b"x-request-id":
                    continue
                if name == b"content-type" and header[1].startswith(b"text/event-stream"):
                    self.stream = True
                headers.append(header)
            headers.append(self.request_id)
            message = {**message, "headers": headers}
            self.status = message["status"]
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


# -- uvicorn protocol with a request-head deadline and size bound --------------------------------

#: set from the settings by the app (each worker builds its app before serving)
LIMITS = Limits()
LINGER_SECONDS = 1.0


def configure(limits: Limits) -> None:
    global LIMITS
    LIMITS = limits


def raw_error(status: int, reason: bytes, code: str, description: str) -> bytes:
    rid = new_request_id()
    body = orjson.dumps({"error": code, "error_description": description, "request_id": rid})
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\ncache-control: no-store\r\nx-request-id: %s\r\n\r\n"
    ) % (status, reason, len(body), rid.encode())
    return head + body


class HeaderLimitsProtocol(HttpToolsProtocol):
    """`gateway serve` runs uvicorn with this protocol (see gateway.cli)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        if not self.url.startswith(b"/") or b"#" in self.url:
            # absolute-form (`GET http://evil/x`), authority-form or `*`: httptools would keep only
            # the path and drop the authority; the gateway is no forward proxy, so refuse it whole.
            # A fragment is never sent by a client; httptools would drop it silently.
            self._refuse(400, b"Bad Request", "bad_request_target", "the request target must start with '/'")
            return
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # refused: what the client still sends is read and dropped until we close
        super().data_received(data)
        if self._head_timer is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > LIMITS.max_header_bytes + 8192:
                self._refuse(431, b"Request Header Fields Too Large", "headers_too_large",
                             f"request headers exceed {LIMITS.max_header_bytes} bytes")  # fmt: skip

    def _arm(self) -> None:
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(LIMITS.header_timeout, self._head_timeout)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a pipelined head behind a response still being written: look again later
            return
        self._refuse(408, b"Request Timeout", "request_timeout",
                     f"request headers not received within {LIMITS.header_timeout:g} s")  # fmt: skip

    def _linger(self) -> None:
        """Close without losing the answer: closing a socket with unread input makes the kernel
        send a reset that can overtake the response, so half-close, drop what still arrives
        for a moment (as nginx's lingering close does), then close."""
        if self._lingering:
            return
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _refuse(self, status: int, reason: bytes, code: str, description: str) -> None:
        self._disarm()
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(raw_error(status, reason, code, description))
        self._linger()
        if access.isEnabledFor(logging.INFO):
            client = self.client[0] if self.client else ""
            access.info(orjson.dumps({"ts": round(time.time(), 3), "client": client, "status": status,
                                      "decision": "deny", "reason": code}).decode())  # fmt: skip
