"""How `gateway serve` writes a response: uvicorn's `RequestResponseCycle` with `send` ported
(uvicorn 0.54.0, pinned in pyproject.toml: re-check on upgrade) to do the same work for less.

- Header names and values are validated with one `bytes.translate` over all of them against
  every byte uvicorn's patterns refuse (both are single-character classes, so the test is the
  same, and a regular expression over the identity headers cost measurably more:
  docs/performance.md).
- The response head waits for the first body chunk so both leave in one system call: one
  trip through the kernel instead of two. A head without a length (a stream) or with a
  length of 0 leaves at the latest at the end of the event-loop turn, so a stream's head is
  never held back; a head with a length has nothing to tell before its body.
- Built directly by the protocol (not uvicorn's constructor), with its own `run`; uvicorn's
  access-log line is not written (`gateway serve` logs each request itself).
- A request whose body missed GATEWAY_BODY_TIMEOUT is `expire`d: its task is cancelled with
  `BODY_TIMEOUT` (the app answers 408: `body_timed_out`), or, once a response head is out,
  the connection is closed at once. A connection closed with request bytes still unread
  lingers (the protocol's `linger`): a plain close would make the kernel reset it, and the
  reset can overtake the answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE, RequestResponseCycle
from uvicorn.server import ServerState

#: the message a request's task is cancelled with when its body missed the deadline
BODY_TIMEOUT = "gateway: the request body missed GATEWAY_BODY_TIMEOUT"


def body_timed_out(cancel: BaseException) -> bool:
    """True if `cancel` (a CancelledError) is the body deadline's, not a shutdown's."""
    return cancel.args == (BODY_TIMEOUT,)


def body_late(timeout: float) -> str:
    return f"request body not received within {timeout:g} s"


#: every byte uvicorn's header name and value patterns refuse
_BAD_NAME = bytes(b for b in range(256) if HEADER_RE.match(bytes([b])))
_BAD_VALUE = bytes(b for b in range(256) if HEADER_VALUE_RE.match(bytes([b])))


class Connection(Protocol):
    """What a cycle uses of its connection (`gateway.server.protocol.HeaderLimitsProtocol`)."""

    transport: asyncio.Transport
    flow: FlowControl
    loop: asyncio.AbstractEventLoop
    logger: logging.Logger
    server_state: ServerState

    def on_response_complete(self) -> None: ...

    def linger(self) -> None: ...


class Cycle(RequestResponseCycle):
    """One request's response writer; see the module docstring for what differs from uvicorn's."""

    #: the response head, until the first body chunk (or the end of this loop turn) sends it
    held = b""
    #: given by the protocol (`asyncio.get_running_loop()` costs a getpid() system call in 3.11)
    loop: asyncio.AbstractEventLoop
    #: the connection (for its lingering close)
    connection: Connection
    #: the request's task, once started (cancelled by `expire`)
    task: asyncio.Task[None] | None = None

    def __init__(
        self, scope: dict[str, Any], connection: Connection, keep_alive: bool, expect_100_continue: bool
    ) -> None:
        """uvicorn's state, set directly (its `__init__` takes eleven arguments, most of them
        the same for every request of a connection)."""
        self.scope = scope  # type: ignore[assignment]
        self.connection = connection
        self.transport = connection.transport
        self.flow = connection.flow
        self.loop = connection.loop
        self.logger = connection.logger
        self.default_headers = connection.server_state.default_headers
        self.message_event = asyncio.Event()
        self.on_response = connection.on_response_complete
        self.disconnected = False
        self.keep_alive = keep_alive
        self.waiting_for_100_continue = expect_100_continue
        self.body = bytearray()
        self.more_body = True
        self.response_started = False
        self.response_complete = False
        self.chunked_encoding: bool | None = None
        self.expected_content_length = 0

    async def run(self, app: Any) -> None:
        """uvicorn's `run_asgi` (0.54.0) less its per-request closure; the access log is off."""
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                await self.send_500_response()
            else:
                self.transport.close()
        else:
            if not self.response_started and not self.disconnected:
                self.logger.error("ASGI callable returned without starting response.")
                await self.send_500_response()
            elif not self.response_complete and not self.disconnected:
                self.logger.error("ASGI callable returned without completing response.")
                self.transport.close()
        finally:
            self.on_response = _nothing

    def expire(self) -> None:
        """The request body missed its deadline: the request ends here, and so does the connection."""
        self.keep_alive = False
        if self.response_started:  # too late for a 408: cut the response, drop the connection
            self.disconnected = True
            self.held = b""
            self.transport.close()
        if self.task is not None and not self.task.done():
            self.task.cancel(BODY_TIMEOUT)

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            if message["type"] != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message['type']}'.")
            self.response_started = True
            self.waiting_for_100_continue = False
            headers = message.get("headers", [])
            if self.default_headers:  # none in `gateway serve` (no Server, no Date)
                headers = self.default_headers + list(headers)
            self.held = self._head(message["status"], headers)
            if self.chunked_encoding or not self.expected_content_length:
                # a stream (or an empty body) may be a while coming: the head leaves this turn.
                # A head with a length waits for its first body bytes instead, whenever they come
                self.loop.call_soon(self._flush)
        elif not self.response_complete:
            if message["type"] != "http.response.body":
                self._flush()
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message['type']}'.")
            self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after response already completed.")

    def _head(self, status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
        names, values = zip(*headers, strict=True) if headers else ((), ())
        joined = b"".join(names)
        if len(joined.translate(None, _BAD_NAME)) != len(joined):
            raise RuntimeError("Invalid HTTP header name.")
        joined = b"".join(values)
        if len(joined.translate(None, _BAD_VALUE)) != len(joined):
            raise RuntimeError("Invalid HTTP header value.")
        content = [STATUS_LINE[status]]
        has_connection_close = False
        for name, value in headers:
            name = name.lower()
            if name == b"content-length" and self.chunked_encoding is None:
                self.expected_content_length = int(value.decode())
                self.chunked_encoding = False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.expected_content_length = 0
                self.chunked_encoding = True
            elif name == b"connection" and b"close" in [token.lower().strip() for token in value.split(b",")]:
                self.keep_alive = False
                has_connection_close = True
            content.extend((name, b": ", value, b"\r\n"))
        if not self.keep_alive and not has_connection_close:
            content.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked_encoding = True  # neither Content-Length nor Transfer-Encoding given
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        return b"".join(content)

    def _body(self, body: bytes, more_body: bool) -> None:
        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
            data = b""
        elif self.chunked_encoding:
            content = [b"%x\r\n" % len(body), body, b"\r\n"] if body else []
            if not more_body:
                content.append(b"0\r\n\r\n")
            data = b"".join(content)
        else:
            if len(body) > self.expected_content_length:
                self._flush()
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= len(body)
            data = body
        self._write(data)
        if not more_body:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                if self.more_body:  # the request's body is still coming: close without a reset
                    self.connection.linger()
                else:
                    self.transport.close()
            self.on_response()

    def _write(self, data: bytes) -> None:
        held, self.held = self.held, b""
        if held and data:
            self.transport.writelines((held, data))  # one writev (uvloop): the body is not copied
        elif held or data:
            self.transport.write(held or data)

    def _flush(self) -> None:
        if self.held and not self.disconnected and not self.transport.is_closing():
            self._write(b"")


def _nothing() -> None:
    pass
