"""The lean upstream client (gateway.forward.h1) against scripted upstreams on real loopback sockets.

Each upstream is an asyncio server whose handler plays one part (answer, hang, close,
misbehave); the tests assert on what the client returned and on what the upstream saw
(connections opened, bytes received, EOF when the client gave up).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from gateway.forward import h1

Handler = Callable[["Upstream", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'


@dataclass
class Upstream:
    handler: Handler
    port: int = 0
    connections: int = 0
    heads: list[bytes] = field(default_factory=list)
    eofs: int = 0

    async def read_head(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        return head


@contextlib.asynccontextmanager
async def upstream(handler: Handler) -> AsyncIterator[Upstream]:
    up = Upstream(handler)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up.connections += 1
        try:
            await handler(up, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    up.port = server.sockets[0].getsockname()[1]
    try:
        yield up
    finally:
        server.close()


async def keep_answering(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await up.read_head(reader)
        writer.write(OK)
        await writer.drain()


async def silent(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the request, never answers, and counts the close when the client gives up."""
    await up.read_head(reader)
    await reader.read()
    up.eofs += 1


async def get(
    pool: h1.Pool,
    target: str = "/x",
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    head: float = 2.0,
    idle: float = 2.0,
) -> tuple[int, bytes]:
    conn = await pool.request(method, target, headers or [], body, head, idle, 2.0)
    try:
        status, data = conn.status, await conn.read()
    except BaseException:
        conn.abandon()
        raise
    conn.release()
    return status, data


async def wait_for_eof(up: Upstream, count: int = 1) -> None:
    for _ in range(200):
        if up.eofs >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the upstream saw {up.eofs} closes, expected {count}")


async def test_keep_alive_connection_is_reused_and_the_head_is_exact() -> None:
    async with upstream(keep_answering) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        for _ in range(3):
            assert await get(pool, "/x?a=1", headers=[(b"x-user-id", b"alice")]) == (200, b'{"ok":true}')
        assert up.connections == 1
        assert up.heads[0] == f"GET /x?a=1 HTTP/1.1\r\nhost: 127.0.0.1:{up.port}\r\nx-user-id: alice\r\n\r\n".encode()


async def test_body_is_framed_with_its_length_and_empty_post_says_zero() -> None:
    bodies: list[bytes] = []

    async def echo(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await up.read_head(reader)
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length")), 0
            )
            bodies.append(await reader.readexactly(length))
            writer.write(OK)

    async with upstream(echo) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        await get(pool, method="POST", body=b'{"a":1}')
        await get(pool, method="POST")
        await get(pool, method="DELETE")
    assert bodies == [b'{"a":1}', b"", b""]
    assert b"content-length: 7\r\n" in up.heads[0]
    assert b"content-length: 0\r\n" in up.heads[1]
    assert b"content-length" not in up.heads[2]


async def test_connection_close_answer_is_not_reused() -> None:
    async def closing(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nhi")

    async with upstream(closing) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        assert await get(pool) == (200, b"hi")
        assert await get(pool) == (200, b"hi")
        assert up.connections == 2


async def test_chunked_answer_is_assembled_and_streamed() -> None:
    async def chunked(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await up.read_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for part in (b"data: 1\n\n", b"data: 2\n\n"):
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
                await asyncio.sleep(0.02)
            writer.write(b"0\r\n\r\n")

    async with upstream(chunked) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        assert await get(pool) == (200, b"data: 1\n\ndata: 2\n\n")
        conn = await pool.request("GET", "/s", [], None, 2.0, 2.0, 2.0)
        assert conn.content_length is None
        parts = [chunk async for chunk in conn.chunks()]
        conn.release()
        assert parts == [b"data: 1\n\n", b"data: 2\n\n"]
        assert up.connections == 1  # chunked answers keep the connection


async def test_body_delimited_by_close_ends_at_eof_and_is_not_reused() -> None:
    async def until_close(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        await writer.drain()

    async with upstream(until_close) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        assert await get(pool) == (200, b"all of it")
        assert await get(pool) == (200, b"all of it")
        assert up.connections == 2


async def test_informational_answers_are_skipped() -> None:
    async def hints(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n" + OK)

    async with upstream(hints) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        conn = await pool.request("GET", "/", [], None, 2.0, 2.0, 2.0)
        assert conn.status == 200
        assert all(name != b"link" for name, _ in conn.raw_headers)
        assert await conn.read() == b'{"ok":true}'
        conn.release()


async def test_no_head_in_time_is_a_timeout_and_the_connection_is_closed() -> None:
    async with upstream(silent) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        with pytest.raises(h1.UpstreamTimeout):
            await get(pool, head=0.2)
        await wait_for_eof(up)
        assert pool._busy == 0


async def test_stall_mid_body_is_a_timeout() -> None:
    async def stall(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
        await reader.read()
        up.eofs += 1

    async with upstream(stall) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        with pytest.raises(h1.UpstreamTimeout):
            await get(pool, idle=0.2)
        await wait_for_eof(up)


async def test_slow_but_steady_body_is_not_a_timeout() -> None:
    async def trickle(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n")
        for byte in b"abcdef":
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
            await writer.drain()

    async with upstream(trickle) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        assert await get(pool, head=0.25, idle=0.25) == (200, b"abcdef")  # 0.6 s in all, never 0.25 s silent


async def test_kept_alive_connection_closed_meanwhile_is_retried_for_get_only() -> None:
    async def one_then_close(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(OK)
        await writer.drain()
        await up.read_head(reader)  # the next request arrives, and the upstream hangs up without answering

    async with upstream(one_then_close) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        assert await get(pool) == (200, b'{"ok":true}')
        assert await get(pool) == (200, b'{"ok":true}')  # the second went out on the old one, then again fresh
        assert up.connections == 2
        assert len(up.heads) == 3
        with pytest.raises(h1.UpstreamClosed):
            await get(pool, method="POST", body=b"x")  # not idempotent: never sent twice
        assert [h.split(b" ")[0] for h in up.heads].count(b"POST") == 1
        assert up.connections == 2


async def test_bytes_after_the_answer_poison_the_connection() -> None:
    async def two_answers(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await up.read_head(reader)
            writer.write(OK + OK)  # a second answer nobody asked for (a desynchronised upstream)

    async with upstream(two_answers) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        assert await get(pool) == (200, b'{"ok":true}')
        assert await get(pool) == (200, b'{"ok":true}')
        assert up.connections == 2


async def test_header_that_would_split_the_request_is_refused_before_sending() -> None:
    async with upstream(keep_answering) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        for value in (b"a\r\nx-injected: 1", b"a\nb", b"a\0b"):
            with pytest.raises(ValueError):
                await get(pool, headers=[(b"x-org-id", value)])
        with pytest.raises(ValueError):
            await get(pool, target="/x HTTP/1.1\r\nx-injected: 1")
        assert up.heads == []


async def test_unparsable_answer_is_closed_error() -> None:
    async def garbage(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nxx")
        await reader.read()

    async with upstream(garbage) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        with pytest.raises(h1.UpstreamClosed):
            await get(pool)


async def test_pool_limit_queues_requests_on_one_connection() -> None:
    async def slow(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await up.read_head(reader)
            await asyncio.sleep(0.05)
            writer.write(OK)

    async with upstream(slow) as up:
        pool = h1.Pool("127.0.0.1", up.port, limit=1)
        results = await asyncio.gather(*(get(pool) for _ in range(4)))
        assert results == [(200, b'{"ok":true}')] * 4
        assert up.connections == 1


async def test_cancel_while_waiting_closes_the_connection_and_frees_the_slot() -> None:
    async with upstream(silent) as up:
        pool = h1.Pool("127.0.0.1", up.port, limit=1)
        task = asyncio.create_task(get(pool))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_for_eof(up)
        assert pool._busy == 0 and not pool._idle


async def test_slow_reader_pauses_the_upstream_and_gets_every_byte() -> None:
    size = 3 * h1.HIGH_WATER

    async def big(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        writer.write(b"x" * size)
        await writer.drain()

    async with upstream(big) as up:
        pool = h1.Pool("127.0.0.1", up.port)
        conn = await pool.request("GET", "/", [], None, 2.0, 2.0, 2.0)
        got = 0
        async for chunk in conn.chunks():
            assert len(chunk) <= h1.HIGH_WATER + (1 << 18)  # never much more than the high-water mark at once
            got += len(chunk)
            await asyncio.sleep(0.01)
        conn.release()
        assert got == size


async def test_refused_connection_is_closed_error() -> None:
    async with upstream(keep_answering) as up:
        port = up.port
    pool = h1.Pool("127.0.0.1", port)
    with pytest.raises(h1.UpstreamClosed):
        await get(pool)
    assert pool._busy == 0


async def test_idle_connections_are_closed_after_the_keepalive_time() -> None:
    async def counting(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await keep_answering(up, reader, writer)
        finally:
            up.eofs += 1

    async with upstream(counting) as up:
        pool = h1.Pool("127.0.0.1", up.port, keepalive=0.3)
        await asyncio.gather(*(get(pool) for _ in range(3)))  # three at once: three connections
        assert up.connections == 3 and len(pool._idle) == 3
        await wait_for_eof(up, 3)  # nothing asked for them: every one closed by the pool
        assert not pool._idle
