"""A lean HTTP/1.1 client for the forwarding path: keep-alive connections per upstream,
the request written as one buffer, the answer parsed by httptools (llhttp, the parser
uvicorn reads our own requests with).

Why not aiohttp here: a GET through aiohttp costs several times what uvicorn spends
serving the same request (request object, multidicts, writer, stream reader, timers); this
costs a fraction of that (figures: docs/performance.md). It does only the common case:
plain `http://` upstreams, no body or a body already in memory, never HEAD or an upgrade.
`gateway.forward.proxy` sends everything else through aiohttp.

Errors are `UpstreamTimeout` (a `TimeoutError`) and `UpstreamClosed` (a
`ConnectionError`); `gateway.forward.proxy` turns them into 504 and 502. A connection is reused
only after a complete answer the upstream allows to keep alive; anything else (a
timeout, a parse error, bytes nobody asked for, a reader that gave up) closes it.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools

#: a streamed answer stops reading from the upstream while this much waits for the client
HIGH_WATER = 1 << 20
#: methods where a request can be sent again on a fresh connection when a reused one was
#: found closed before a byte of the answer came back (RFC 9110 9.2.2)
IDEMPOTENT = frozenset({"GET", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: methods that carry content: an empty one is sent as `content-length: 0`
WITH_CONTENT = frozenset({"POST", "PUT", "PATCH"})


class UpstreamTimeout(TimeoutError):
    pass


class UpstreamClosed(ConnectionError):
    pass


class Connection(asyncio.Protocol):
    """One keep-alive connection; while a request is in flight it is also the answer."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self.lent = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        #: when the answer's head is due (loop time)
        self._due = 0.0
        self.reset()

    def reset(self) -> None:
        """Ready for the next exchange (the parser continues: llhttp resets itself per message)."""
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.content_length: int | None = None
        self.in_flight = False
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.got_bytes = False
        self._until_close = False
        self._informational = False
        self._stray = False
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._idle: float | None = None
        self._last = 0.0

    # -- the exchange, as the forwarding code sees it --------------------------------------------

    def send(self, data: bytes, head: float | None, idle: float | None) -> None:
        """Write a whole request; the head must come back within `head` seconds, then the
        body must never pause longer than `idle` while somebody waits for it."""
        assert self.transport is not None
        self.in_flight = True
        self._idle = idle
        self._last = now = self.loop.time()
        if head is not None:
            self._due = now + head
            if self._timer is None or self._timer_at > self._due:
                self._arm(self._due)
        self.transport.write(data)

    async def head(self) -> None:
        while not self.head_done:
            await self._wait()

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body (stops early once more than `limit` bytes are in)."""
        while not self.complete and (limit is None or self._buffered <= limit):
            await self._wait()
        return self._take()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, whatever is buffered in one piece."""
        while True:
            if self._chunks:
                yield self._take()
            elif self.complete:
                return
            else:
                await self._wait()

    def release(self) -> None:
        """The answer was read to its end: the connection may serve the next request."""
        self.pool.give_back(self)

    def abandon(self) -> None:
        """The answer will not be read to its end (an error, a cancel): drop the connection."""
        self.close()
        self.pool.give_back(self)

    def close(self) -> None:
        self._cancel_timer()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _probe_when_quiet(sock)

    def data_received(self, data: bytes) -> None:
        if not self.in_flight or self.complete:  # bytes nobody asked for: never reuse this connection
            self.close()
            return
        self.got_bytes = True
        if self.head_done:
            self._last = self.loop.time()
        try:
            self.parser.feed_data(data)
            if self._stray:  # a second answer behind the first: the upstream is out of step
                self.close()
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamClosed("the upstream switched protocols unasked"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamClosed(f"unparsable answer from the upstream: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if not self.in_flight or self.complete:
            return
        if self.head_done and self._until_close and exc is None:  # a body delimited by the close
            self._finish()
        else:
            self._fail(UpstreamClosed("the upstream closed the connection"))

    # -- httptools callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self._stray = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._stray:
            self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 103 Early Hints and the like: not the answer
            self._informational = True
            self.raw_headers = []
            return
        self.status = status
        chunked = False
        for name, value in self.raw_headers:
            lowered = name.lower()
            if lowered == b"content-length":
                self.content_length = int(value)  # llhttp accepted it: digits, one value
            elif lowered == b"transfer-encoding":
                chunked = True
        self._until_close = self.content_length is None and not chunked and status not in (204, 304)
        self.head_done = True
        self._last = self.loop.time()
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._stray:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._stray:
            return
        if self._informational:
            self._informational = False
            return
        self.keep_alive = self.parser.should_keep_alive()  # asked now: llhttp forgets once the message is done
        self._finish()

    # -- internals --------------------------------------------------------------------------------

    def _finish(self) -> None:
        self.complete = True  # the timer, if any, stays: it finds nothing due, or the next request's
        self._wake()

    def _take(self) -> bytes:
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self._error is None:  # the first cause wins (a timeout closes, then the close is reported)
            self._error = error
        self.close()
        self._wake()

    def _arm(self, at: float) -> None:
        """One timer per connection, not per request: re-armed only when it fires too early
        (a later request moved the deadline) or would fire too late (a shorter timeout)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.complete or self.closed or not self.in_flight:
            return
        now = self.loop.time()
        if not self.head_done:
            if now < self._due:  # armed for an earlier request of this connection
                self._arm(self._due)
                return
            self._fail(UpstreamTimeout("the upstream did not answer in time"))
            return
        if self._idle is None:
            return
        left = self._last + self._idle - now
        if left > 0 or self._waiter is None:  # data came meanwhile, or nobody is waiting for more
            self._arm(now + max(left, self._idle / 4))
            return
        self._fail(UpstreamTimeout("the upstream stalled mid-answer"))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


#: TCP keep-alive: first probe after this many quiet seconds, then one every 10 s, 3 unanswered
#: ones close the connection. A stream with no read deadline (`gateway.forward.keepalive`)
#: learns so within about a minute that its upstream host is gone.
PROBE_AFTER, PROBE_EVERY, PROBES = 30, 10, 3


def _probe_when_quiet(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; elsewhere the system's defaults
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, PROBE_AFTER)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, PROBE_EVERY)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, PROBES)


#: how long an idle connection is kept: below the 5 s after which Node's and uvicorn's servers
#: close idle connections themselves (a request sent just as the upstream closes would fail),
#: and short enough that the connections a burst opened are soon given back
KEEPALIVE_SECONDS = 4.0


class Pool:
    """Keep-alive connections to one `http://host:port` upstream, at most `limit` at once."""

    def __init__(self, host: str, port: int, *, limit: int = 256, keepalive: float = KEEPALIVE_SECONDS) -> None:
        self.host, self.port = host, port
        self.limit = limit
        self.keepalive = keepalive
        self.loop = asyncio.get_running_loop()
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal
        self.host_line = b"host: " + (name if port == 80 else f"{name}:{port}").encode("idna")
        self._idle: deque[Connection] = deque()
        self._pruner: asyncio.TimerHandle | None = None
        self._busy = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    def head_bytes(self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes | None) -> bytes:
        """The request head, refused if any header could split it (CR, LF or NUL in a name or value)."""
        if " " in target or "\r" in target or "\n" in target:
            raise ValueError("the request target would split the request line")
        block = b"\r\n".join(map(b": ".join, headers))  # "name: value" lines, joined in C
        breaks = len(headers) - 1 if headers else 0
        if block.count(b"\n") != breaks or block.count(b"\r") != breaks or b"\0" in block:
            raise ValueError("a header would split the request (CR, LF or NUL)")
        start = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self.host_line
        if body:
            length = b"\r\ncontent-length: %d" % len(body)
        else:
            length = b"\r\ncontent-length: 0" if method in WITH_CONTENT else b""
        return start + length + (b"\r\n" + block if headers else b"") + b"\r\n\r\n"

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        head: float | None,
        idle: float | None,
        connect: float,
    ) -> Connection:
        """Send the request and wait for the answer's head; the caller reads the body and
        then calls `release()` (read to the end) or `close()` (anything else)."""
        data = self.head_bytes(method, target, headers, body)
        if body:
            data += body
        retry = method in IDEMPOTENT
        while True:
            conn = self._warm() or await self._acquire(connect)
            try:
                conn.send(data, head, idle)
                while not conn.head_done:  # (`Connection.head`, inlined: one frame fewer per wake-up)
                    await conn._wait()
                return conn
            except UpstreamClosed:
                conn.abandon()
                if not (retry and conn.reused and not conn.got_bytes):
                    raise
                retry = False  # a kept-alive connection the upstream closed meanwhile: once more, fresh
            except BaseException:
                conn.abandon()
                raise

    def give_back(self, conn: Connection) -> None:
        if not conn.lent:
            return
        conn.lent = False
        self._done()
        if not (conn.complete and conn.keep_alive and not conn.closed):
            conn.close()
            return
        conn.reset()
        conn.reused = True
        conn.idle_since = self.loop.time()
        self._idle.append(conn)
        if self._pruner is None:
            self._pruner = self.loop.call_later(self.keepalive, self._prune)

    def _prune(self) -> None:
        """Close connections idle for `keepalive` seconds (the oldest are at the left: the pool
        takes from the right, so under low load the surplus ages out instead of lingering)."""
        self._pruner = None
        now = self.loop.time()
        while self._idle and (self._idle[0].closed or now - self._idle[0].idle_since >= self.keepalive):
            self._idle.popleft().close()
        if self._idle:
            self._pruner = self.loop.call_later(self._idle[0].idle_since + self.keepalive - now, self._prune)

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            self._pruner = None
        while self._idle:
            self._idle.pop().close()

    def _warm(self) -> Connection | None:
        """`_acquire` without a wait: a fresh idle connection, lent, if the pool has room."""
        if self._busy >= self.limit or not self._idle:
            return None
        now = self.loop.time()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: warm, least likely closed by the upstream
            if not conn.closed and now - conn.idle_since < self.keepalive:
                self._busy += 1
                conn.lent = True
                return conn
            conn.close()
        return None

    async def _acquire(self, connect: float) -> Connection:
        while self._busy >= self.limit:
            waiter = self.loop.create_future()
            self._queue.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():  # woken and cancelled at once: pass it on
                    self._wake_next()
                raise
        self._busy += 1
        now = self.loop.time()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: warm, least likely closed by the upstream
            if not conn.closed and now - conn.idle_since < self.keepalive:
                conn.lent = True
                return conn
            conn.close()
        try:
            async with asyncio.timeout(connect):
                _, conn = await self.loop.create_connection(lambda: Connection(self), self.host, self.port)
        except OSError as exc:
            self._done()
            raise UpstreamClosed(f"cannot connect: {exc}") from exc
        except TimeoutError as exc:
            self._done()
            raise UpstreamTimeout("connecting timed out") from exc
        except BaseException:
            self._done()
            raise
        conn.lent = True
        return conn

    def _done(self) -> None:
        self._busy -= 1
        self._wake_next()

    def _wake_next(self) -> None:
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
