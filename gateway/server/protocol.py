"""The HTTP/1.1 connection `gateway serve` runs (see gateway.cli.main): uvicorn's httptools protocol
plus what it lacks, with its per-request timers made cheap.

- a deadline for the request head (GATEWAY_HEADER_TIMEOUT: 408 and close; also for idle new
  connections) and a bound on the bytes buffered before the head is complete (431 and close);
- a deadline for the whole request, body included (GATEWAY_BODY_TIMEOUT), counted from the
  same start as the head's (the request's first byte; for a connection's first request, its
  accept), as Go's `http.Server.ReadTimeout` and Envoy's `request_timeout` count: a body
  trickled a byte at a time cannot outlast it, which nginx's `client_body_timeout` (a bound
  on the gap between reads) does not stop. When it passes, the request's task is cancelled
  (which aborts an upstream request its body was being streamed to: that connection is
  closed, never reused) and the app answers 408 (`Cycle.expire`); if the response head has
  left already, the connection is closed instead (the client sees a truncated response);
- uvicorn's keep-alive timeout, unchanged in effect;
- all three are `Deadline`s: one timer per connection, re-armed only when it fires,
  instead of a timer created and cancelled for every request;
- the scope is built once, when the head is complete, and the request's `Cycle` directly
  (uvicorn builds both in steps, then the gateway re-classed its cycle);
- responses are written by `gateway.server.response_cycle.Cycle`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httptools
import orjson
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from gateway.config.settings import Limits
from gateway.front.trusted_proxies import new_request_id
from gateway.server.response_cycle import Cycle, body_late

access = logging.getLogger("gateway.access")

LINGER_SECONDS = 1.0
#: every scope's `asgi` entry (uvicorn builds one per request; nobody writes to it)
ASGI = {"version": "3.0", "spec_version": "2.3"}


def raw_error(status: int, reason: bytes, code: str, description: str) -> bytes:
    rid = new_request_id()
    body = orjson.dumps({"error": code, "error_description": description, "request_id": rid})
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\ncache-control: no-store\r\nx-request-id: %s\r\n\r\n"
    ) % (status, reason, len(body), rid.encode())
    return head + body


class Deadline:
    """A point in loop time after which `expired` runs, unless cleared first.

    Setting or clearing it only writes an attribute; its one timer is re-armed when it fires
    and finds the deadline moved (a deadline only moves later: its timeout is fixed)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float, expired: Callable[[], None]) -> None:
        self.loop = loop
        self.timeout = timeout
        self.expired = expired
        self.at: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        return self.at is not None

    def start(self, at: float | None = None) -> None:
        """From now on, or until `at` (loop time) if given."""
        self.at = self.loop.time() + self.timeout if at is None else at
        if self._timer is None:
            self._timer = self.loop.call_at(self.at, self._check)

    def clear(self) -> None:
        self.at = None

    def cancel(self) -> None:
        self.at = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self.at is None:
            return
        if self.loop.time() < self.at:
            self._timer = self.loop.call_at(self.at, self._check)
            return
        self.at = None
        self.expired()


class HeaderLimitsProtocol(HttpToolsProtocol):
    """uvicorn builds one per connection: `gateway serve` gives it the limits
    (`functools.partial(HeaderLimitsProtocol, limits=...)` as uvicorn's `http`)."""

    def __init__(self, *args: Any, limits: Limits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        #: the request head being received must be complete by then (408)
        self._head = Deadline(self.loop, limits.header_timeout, self._head_timeout)
        #: uvicorn's keep-alive: an idle connection is closed then
        self._idle = Deadline(self.loop, self.timeout_keep_alive, self.timeout_keep_alive_handler)
        #: the whole request, body included, must be in by then (408); started with the head's
        self._body = Deadline(self.loop, limits.body_timeout, self._body_timeout)
        self._head_bytes = 0
        #: bytes buffered before the head is complete past which it is refused (431)
        self._head_limit = limits.max_header_bytes + 8192
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head.cancel()
        self._idle.cancel()
        self._body.cancel()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """uvicorn's, without its scope: it is built once, when the head is complete."""
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        if self._head.at is None:  # (`Deadline`s are read and cleared inline on the hot path)
            self._arm()

    def on_headers_complete(self) -> None:
        head_until = self._head.at
        self._head.at = None
        if not self.url.startswith(b"/") or b"#" in self.url:
            # absolute-form (`GET http://evil/x`), authority-form or `*`: httptools would keep only
            # the path and drop the authority; the gateway is no forward proxy, so refuse it whole.
            # A fragment is never sent by a client; httptools would drop it silently.
            self._refuse(400, b"Bad Request", "bad_request_target", "the request target must start with '/'")
            return
        parser = self.parser
        http_version = parser.get_http_version()
        scope = self._scope(http_version, parser.get_method().decode("ascii"))
        self.scope = scope  # type: ignore[assignment]  # a plain dict: same keys
        if parser.should_upgrade() and self._should_upgrade():
            return  # uvicorn hands the connection to its WebSocket protocol (`handle_websocket_upgrade`)
        app = self.app
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        existing = self.cycle
        keep_alive = http_version != "1.0" and parser.should_keep_alive()
        self.cycle = Cycle(scope, self, keep_alive, self.expect_100_continue)
        if existing is None or existing.response_complete:
            self._start_asgi_task(self.cycle, app)
        else:  # pipelined: queued behind the response being written
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, app))
        # the request began when the head's deadline was started
        body = self._body
        begun = self.loop.time() if head_until is None else head_until - self._head.timeout
        body.start(begun + body.timeout)

    def _scope(self, http_version: str, method: str) -> dict[str, Any]:
        """The ASGI scope (uvicorn's, less `state`: the app keeps no lifespan state)."""
        parsed = httptools.parse_url(self.url)
        raw_path = parsed.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        return {
            "type": "http",
            "asgi": ASGI,
            "http_version": http_version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": "",
            "headers": self.headers,
            "method": method,
            "path": path,
            "raw_path": raw_path,
            "query_string": parsed.query or b"",
        }

    def on_message_complete(self) -> None:
        """uvicorn's, with the body deadline cleared."""
        self._body.at = None
        cycle = self.cycle
        if cycle is None or cycle.response_complete or (self.parser.should_upgrade() and self._should_upgrade()):
            return
        cycle.more_body = False
        cycle.message_event.set()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # refused: what the client still sends is read and dropped until we close
        super().data_received(data)
        if self._head.at is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self._head_limit:
                self._refuse(
                    431,
                    b"Request Header Fields Too Large",
                    "headers_too_large",
                    f"request headers exceed {self.limits.max_header_bytes} bytes",
                )

    def on_response_complete(self) -> None:
        """uvicorn's (0.54.0), with the keep-alive timeout as a `Deadline`."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._idle.at = None
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle.start()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """uvicorn's (0.54.0, without its opt-in `reset_contextvars`), keeping the task on the
        cycle so that a missed body deadline can cancel it."""
        assert isinstance(cycle, Cycle)
        task = self.loop.create_task(cycle.run(app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
        cycle.task = task

    def _unset_keepalive_if_required(self) -> None:
        """uvicorn calls this when data arrives or the connection is lost."""
        self._idle.at = None

    def _arm(self) -> None:
        self._head_bytes = 0
        self._head.start()

    def _head_timeout(self) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a pipelined head behind a response still being written: look again later
            return
        self._refuse(
            408,
            b"Request Timeout",
            "request_timeout",
            f"request headers not received within {self.limits.header_timeout:g} s",
        )

    def _body_timeout(self) -> None:
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None or not cycle.more_body:
            return
        if isinstance(cycle, Cycle) and cycle.task is not None:
            cycle.expire()
            return
        # a pipelined request still queued behind a response: nothing to cancel, only to close
        self._refuse(408, b"Request Timeout", "request_timeout", body_late(self.limits.body_timeout))

    def linger(self) -> None:
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
        self._head.clear()
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(raw_error(status, reason, code, description))
        self.linger()
        if access.isEnabledFor(logging.INFO):
            client = self.client[0] if self.client else ""
            access.info(
                orjson.dumps(
                    {
                        "ts": round(time.time(), 3),
                        "client": client,
                        "status": status,
                        "decision": "deny",
                        "reason": code,
                    }
                ).decode()
            )
