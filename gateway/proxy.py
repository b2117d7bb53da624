"""Forwarding to upstreams: one keep-alive aiohttp pool per upstream, bodies streamed.

The upstream's scheme and host come only from configuration; the request supplies a
canonical, re-encoded path and a query string. aiohttp errors are translated here,
once: connect error -> 502, timeout -> 504 (both JSON, rendered by the app).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from yarl import URL

from gateway.errors import BadGateway, GatewayTimeout
from gateway.headers import downstream_response_headers

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


@dataclass(slots=True)
class Fetched:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class Upstreams:
    def __init__(self, urls: Mapping[str, str], *, pool_size: int = 256) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.pool_size = pool_size
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def session(self, name: str) -> aiohttp.ClientSession:
        session = self._sessions.get(name)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self.pool_size, keepalive_timeout=30, ttl_dns_cache=300)
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

    async def fetch(
        self, name: str, method: str, path_and_query: str, headers: list[tuple[str, str]], timeout: float
    ) -> Fetched:
        """A small side call (run lookups): the whole body, errors translated."""
        try:
            async with self.session(name).request(
                method, self.url(name, path_and_query), headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:  # fmt: skip
                return Fetched(resp.status, list(resp.raw_headers), await resp.read())
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise GatewayTimeout(f"upstream {name!r} timed out") from exc
        except aiohttp.ClientError as exc:
            raise BadGateway(f"upstream {name!r} is unreachable") from exc

    async def forward(
        self,
        name: str,
        method: str,
        path_and_query: str,
        headers: list[tuple[str, str]],
        body: Body,
        send: Send,
        timeouts: Timeouts,
        whole: Callable[[bytes], bytes] | None = None,
        stream: Callable[[], BodyFilter] | None = None,
        whole_error: Callable[[bytes], bytes] | None = None,
    ) -> int:
        """Send the request upstream and stream the answer to `send`; returns the status."""
        request = self.session(name).request(
            method, self.url(name, path_and_query), headers=headers, data=body,
            allow_redirects=False, timeout=_client_timeout(timeouts.connect, timeouts.idle),
        )  # fmt: skip
        try:
            if timeouts.head == timeouts.idle and (body is None or isinstance(body, bytes)):
                resp = await request  # aiohttp's read timeout bounds the wait for the head too
            else:
                async with asyncio.timeout(timeouts.head):
                    resp = await request
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise GatewayTimeout(f"upstream {name!r} timed out") from exc
        except aiohttp.ClientError as exc:
            raise BadGateway(f"upstream {name!r} is unreachable") from exc
        ok = 200 <= resp.status < 300
        try:
            if ok and whole is not None:
                await _send_whole(resp, send, whole)
            elif not ok and whole_error is not None:
                await _send_whole(resp, send, whole_error)
            elif resp.content_length is not None and resp.content_length <= SMALL_BODY and not (ok and stream):
                await _send_whole(resp, send, None)
            else:
                await _relay(resp, send, stream() if ok and stream else None)
        except BaseException:
            resp.close()  # cancelled (client gone, session revoked) or failed: drop the upstream connection
            raise
        resp.release()
        return resp.status


@functools.cache
def _client_timeout(connect: float, idle: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=idle)


async def _send_whole(resp: aiohttp.ClientResponse, send: Send, transform: Callable[[bytes], bytes] | None) -> None:
    """Small or inspected bodies: read, (transform,) send in one message."""
    if resp.content_length is not None and resp.content_length > MAX_INSPECTED:
        raise BadGateway("upstream response too large to inspect")
    try:
        data = await _read_bounded(resp, MAX_INSPECTED + 1) if transform else await resp.read()
    except TimeoutError as exc:
        raise GatewayTimeout("upstream stalled mid-response") from exc
    except aiohttp.ClientError as exc:
        raise BadGateway("upstream closed the connection mid-response") from exc
    if transform is not None:
        if len(data) > MAX_INSPECTED:
            raise BadGateway("upstream response too large to inspect")
        data = transform(data)
    headers = downstream_response_headers(resp.raw_headers, keep_length=transform is None)
    if transform is not None:
        headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)


async def _relay(resp: aiohttp.ClientResponse, send: Send, body_filter: BodyFilter | None) -> None:
    headers = downstream_response_headers(resp.raw_headers, keep_length=body_filter is None)
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    try:
        async for chunk in resp.content.iter_any():
            out = body_filter.feed(chunk) if body_filter else chunk
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
        tail = body_filter.finish() if body_filter else b""
        await send({"type": "http.response.body", "body": tail})
    except (TimeoutError, aiohttp.ClientError, asyncio.IncompleteReadError):
        # headers are gone already: end the response; the client sees a truncated stream
        await send({"type": "http.response.body", "body": b""})
