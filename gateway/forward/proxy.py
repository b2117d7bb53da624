"""Forwarding to upstreams: keep-alive pools per upstream, bodies streamed.

`Upstreams.forward(plan, send)` sends one `ForwardPlan` (built by the pipeline: upstream,
method, canonical re-encoded path and query, headers, body, timeouts, response filters)
and streams the answer back. The upstream's scheme and host come only from
configuration. Two clients behind one `Answer`: the lean one of `gateway.forward.h1` for
the common case, aiohttp for the rest (TLS, bodies streamed up, HEAD, side calls). Their
errors are translated here, once: connect error or closed connection -> 502, timeout ->
504 (both JSON, rendered by the app).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from gateway.errors import BadGateway, GatewayTimeout
from gateway.forward import h1
from gateway.forward.headers import downstream_response_headers

Send = Callable[[dict[str, Any]], Awaitable[None]]
Body = bytes | AsyncIterator[bytes] | None
SMALL_BODY = 64 << 10
MAX_INSPECTED = 16 << 20


class BodyFilter(Protocol):
    """Rewrites a response body on its way back (label second line of defence)."""

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Timeouts:
    """`head`: the upstream must answer (status line and headers) within this many seconds
    of the request starting; `idle`: then never pause longer than this between reads. There
    is deliberately no total: long downloads and SSE are bounded by `idle` only."""

    head: float | None
    connect: float = 5.0
    idle: float | None = None


# a NamedTuple, not a frozen dataclass: built per request
class ForwardPlan(NamedTuple):
    """Everything about one upstream request, decided before it is sent."""

    #: the upstream's configured name (its URL comes from configuration only)
    upstream: str
    method: str
    #: canonical, re-encoded path and the (possibly rewritten) query string
    path_and_query: str
    headers: list[tuple[bytes, bytes]]
    body: Body
    timeouts: Timeouts
    #: applied to a 2xx response body read whole (bounded), or to a 2xx stream chunk by chunk
    whole: Callable[[bytes], bytes] | None = None
    stream: Callable[[], BodyFilter] | None = None
    #: applied to a non-2xx response body (bounded)
    error_whole: Callable[[bytes], bytes] | None = None
    #: an SSE or other long-lived answer (counted against GATEWAY_MAX_STREAMS, re-checked)
    long_lived: bool = False


@dataclass(slots=True)
class Fetched:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class Answer(Protocol):
    """An upstream's answer once its head is in, whichever client fetched it. Reads raise
    `TimeoutError` (stalled) or `ConnectionError` (closed, unparsable)."""

    @property
    def status(self) -> int: ...

    @property
    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]: ...

    @property
    def content_length(self) -> int | None: ...

    async def read(self, limit: int | None = None) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    def release(self) -> None: ...

    def abandon(self) -> None: ...


class Upstreams:
    """Plain `http://` upstreams go through the lean keep-alive client of `gateway.forward.h1` for
    everything it does (no body or one in memory, not HEAD); the rest through aiohttp."""

    def __init__(self, urls: Mapping[str, str], *, pool_size: int = 256) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.pool_size = pool_size
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._plain = {name: where for name, url in self.urls.items() if (where := _plain_http(url)) is not None}
        self._pools: dict[str, h1.Pool] = {}

    def session(self, name: str) -> aiohttp.ClientSession:
        session = self._sessions.get(name)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.pool_size, keepalive_timeout=h1.KEEPALIVE_SECONDS, ttl_dns_cache=300
            )
            session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._sessions[name] = session
        return session

    def url(self, name: str, path_and_query: str) -> URL:
        return URL(self.urls[name] + path_and_query, encoded=True)

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()

    async def fetch(
        self, name: str, method: str, path_and_query: str, headers: list[tuple[bytes, bytes]], timeout: float
    ) -> Fetched:
        """A small side call (run lookups): the whole body, errors translated."""
        try:
            answer = await self._open(ForwardPlan(name, method, path_and_query, headers, None, timeouts_of(timeout)))
            try:
                fetched = Fetched(answer.status, list(answer.raw_headers), await answer.read())
            except BaseException:
                answer.abandon()
                raise
            answer.release()
            return fetched
        except (TimeoutError, ConnectionError) as exc:
            raise _unanswered(name, exc) from exc

    async def forward(self, plan: ForwardPlan, send: Send) -> int:
        """Send the planned request upstream and stream the answer to `send`; returns the status."""
        try:
            answer = await self._open(plan)
        except (TimeoutError, ConnectionError) as exc:
            raise _unanswered(plan.upstream, exc) from exc
        ok = 200 <= answer.status < 300
        stream = plan.stream
        try:
            if ok and plan.whole is not None:
                await _send_whole(answer, send, plan.whole)
            elif not ok and plan.error_whole is not None:
                await _send_whole(answer, send, plan.error_whole)
            elif answer.content_length is not None and answer.content_length <= SMALL_BODY and not (ok and stream):
                await _send_whole(answer, send, None)
            else:
                await relay(answer, send, stream() if ok and stream else None)
        except BaseException:
            answer.abandon()  # cancelled (client gone, session revoked) or failed: drop the upstream connection
            raise
        status = answer.status
        answer.release()  # the lean client's connection serves the next request from here on
        return status

    async def open(self, plan: ForwardPlan) -> Answer:
        """Send the planned request; the answer once its head is in (for callers that relay it
        themselves, `gateway.forward.keepalive`); 502 or 504 when none comes."""
        try:
            return await self._open(plan)
        except (TimeoutError, ConnectionError) as exc:
            raise _unanswered(plan.upstream, exc) from exc

    def _open(self, plan: ForwardPlan) -> Awaitable[Answer]:
        """Send the request; the answer once its head is in (the client's own coroutine: no
        frame of this one to resume while the upstream answers)."""
        name, method, body = plan.upstream, plan.method, plan.body
        if name in self._plain and method != "HEAD" and (body is None or isinstance(body, bytes)):
            host, port, base = self._plain[name]
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = h1.Pool(host, port, limit=self.pool_size)
            target, wait = base + plan.path_and_query, plan.timeouts
            return pool.request(method, target, plan.headers, body, wait.head, wait.idle, wait.connect)
        return self._aiohttp(plan)

    async def _aiohttp(self, plan: ForwardPlan) -> Answer:
        name, timeouts = plan.upstream, plan.timeouts
        request = self.session(name).request(
            plan.method,
            self.url(name, plan.path_and_query),
            data=plan.body,
            allow_redirects=False,
            headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in plan.headers],
            timeout=_client_timeout(timeouts.connect, timeouts.idle),
        )
        try:
            async with asyncio.timeout(timeouts.head):
                return _AiohttpAnswer(await request)
        except aiohttp.ServerTimeoutError as exc:
            raise TimeoutError(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise ConnectionError(str(exc)) from exc


class _AiohttpAnswer:
    """An aiohttp response read as an `Answer` (its errors as the built-in ones)."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.status = resp.status
        self.raw_headers = resp.raw_headers
        self.content_length = resp.content_length

    async def read(self, limit: int | None = None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                break
        return b"".join(chunks)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.resp.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
            raise ConnectionError(str(exc)) from exc

    def release(self) -> None:
        self.resp.release()

    def abandon(self) -> None:
        self.resp.close()


def _unanswered(name: str, exc: Exception) -> GatewayTimeout | BadGateway:
    """An upstream that gave no answer: 504 if it timed out, else 502."""
    if isinstance(exc, TimeoutError):
        return GatewayTimeout(f"upstream {name!r} timed out")
    return BadGateway(f"upstream {name!r} is unreachable")


def _plain_http(url: str) -> tuple[str, int, str] | None:
    """(host, port, base path) of an upstream the lean client can serve: `http://`, no
    credentials or query in the URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password or parts.query:
        return None
    return parts.hostname, parts.port or 80, parts.path


@functools.cache
def timeouts_of(wait: float) -> Timeouts:
    """One shared `Timeouts` per wait (head and idle alike): none is built per request."""
    return Timeouts(head=wait, idle=wait)


@functools.cache
def _client_timeout(connect: float, idle: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=idle)


async def _send_whole(answer: Answer, send: Send, transform: Callable[[bytes], bytes] | None) -> None:
    """Small or inspected bodies: read, (transform,) send in one message."""
    if answer.content_length is not None and answer.content_length > MAX_INSPECTED:
        raise BadGateway("upstream response too large to inspect")
    try:
        data = await answer.read(MAX_INSPECTED if transform else None)
    except TimeoutError as exc:
        raise GatewayTimeout("upstream stalled mid-response") from exc
    except ConnectionError as exc:
        raise BadGateway("upstream closed the connection mid-response") from exc
    if transform is not None:
        if len(data) > MAX_INSPECTED:
            raise BadGateway("upstream response too large to inspect")
        data = transform(data)
    headers = downstream_response_headers(answer.raw_headers, keep_length=transform is None)
    if transform is not None:
        headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def relay(answer: Answer, send: Send, body_filter: BodyFilter | None) -> None:
    headers = downstream_response_headers(answer.raw_headers, keep_length=body_filter is None)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    try:
        async for chunk in answer.chunks():
            out = body_filter.feed(chunk) if body_filter else chunk
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
        tail = body_filter.finish() if body_filter else b""
        await send({"type": "http.response.body", "body": tail})
    except (TimeoutError, ConnectionError):
        # headers are gone already: end the response; the client sees a truncated stream
        await send({"type": "http.response.body", "body": b""})
