"""The response writer (gateway.server.response_cycle): uvicorn's cycle with a cheaper `send`."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl

from gateway.server.response_cycle import Cycle, body_timed_out


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.writes.append(b"".join(parts))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


class Connection:
    """What a cycle takes from its connection: transport, flow, loop, logger, server state,
    the response-complete callback, and the lingering close."""

    def __init__(self, transport: Transport) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport = transport
        self.flow = FlowControl(transport)  # type: ignore[arg-type]
        self.logger = logging.getLogger("test")
        self.server_state = SimpleNamespace(default_headers=[])
        self.lingered = False
        self.done: list[bool] = []

    def on_response_complete(self) -> None:
        self.done.append(True)

    def linger(self) -> None:
        self.lingered = True
        self.transport.close()


def cycle(transport: Transport, method: str = "GET", keep_alive: bool = True, body_read: bool = True) -> Cycle:
    scope = {"method": method, "http_version": "1.1"}
    made = Cycle(scope, Connection(transport), keep_alive, False)  # type: ignore[arg-type]
    made.more_body = not body_read
    return made


def start(headers: list[tuple[bytes, bytes]], status: int = 200) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers}


def body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def test_head_and_body_leave_in_one_write() -> None:
    t = Transport()
    c = cycle(t)
    await c.send(start([(b"Content-Type", b"application/json"), (b"content-length", b"2")]))
    await c.send(body(b"{}"))
    assert t.writes == [b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"]
    assert c.response_complete


async def test_a_head_without_a_body_yet_leaves_at_the_end_of_the_loop_turn() -> None:
    t = Transport()
    c = cycle(t)
    await c.send(start([(b"content-type", b"text/event-stream")]))
    assert t.writes == []
    await asyncio.sleep(0)
    assert t.writes == [b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"]
    await c.send(body(b"data: 1\n\n", more=True))
    await c.send(body(b""))
    assert t.writes[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


async def test_head_requests_get_the_head_only() -> None:
    t = Transport()
    c = cycle(t, method="HEAD")
    await c.send(start([(b"content-length", b"5")]))
    await c.send(body(b""))
    assert t.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"]


async def test_connection_close_is_written_and_closes() -> None:
    t = Transport()
    c = cycle(t, keep_alive=False)
    await c.send(start([(b"content-length", b"0")], status=204))
    await c.send(body(b""))
    assert t.writes == [b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"]
    assert t.closed


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ([(b"x-bad name", b"v")], "Invalid HTTP header name."),
        ([(b"x-ok", b"v"), (b"x:colon", b"v")], "Invalid HTTP header name."),
        ([(b"x-split", b"a\r\nset-cookie: x=1")], "Invalid HTTP header value."),
        ([(b"x-nul", b"a\x00b")], "Invalid HTTP header value."),
        ([(b"x-del", b"a\x7f")], "Invalid HTTP header value."),
    ],
)
async def test_header_injection_is_refused_like_uvicorn_does(headers: list[tuple[bytes, bytes]], error: str) -> None:
    t = Transport()
    with pytest.raises(RuntimeError, match=error):
        await cycle(t).send(start(headers))
    await asyncio.sleep(0)
    assert t.writes == []


async def test_tabs_and_high_bytes_are_valid_values() -> None:
    t = Transport()
    c = cycle(t)
    await c.send(start([(b"x-v", b"a\tb\xe9"), (b"content-length", b"0")]))
    await c.send(body(b""))
    assert t.writes == [b"HTTP/1.1 200 OK\r\nx-v: a\tb\xe9\r\ncontent-length: 0\r\n\r\n"]


async def test_a_body_longer_than_announced_still_sends_the_head_first() -> None:
    t = Transport()
    c = cycle(t)
    await c.send(start([(b"content-length", b"1")]))
    with pytest.raises(RuntimeError, match="longer than Content-Length"):
        await c.send(body(b"too long"))
    assert t.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n"]


async def test_closing_with_the_request_body_unread_lingers_instead() -> None:
    t = Transport()
    c = cycle(t, keep_alive=False, body_read=False)
    await c.send(start([(b"content-length", b"0")], status=408))
    await c.send(body(b""))
    assert t.closed and c.connection.lingered  # type: ignore[attr-defined]


async def test_an_expired_cycle_cancels_its_task_with_the_body_deadline_message() -> None:
    t = Transport()
    c = cycle(t, body_read=False)
    c.task = asyncio.ensure_future(asyncio.sleep(10))
    await asyncio.sleep(0)
    c.expire()
    with pytest.raises(asyncio.CancelledError) as cancelled:
        await c.task
    assert body_timed_out(cancelled.value)
    assert not c.keep_alive and not t.closed  # the app answers 408, then the connection closes


async def test_an_expired_cycle_whose_answer_started_is_cut_and_closed() -> None:
    t = Transport()
    c = cycle(t, body_read=False)
    await c.send(start([(b"content-length", b"10")]))
    await c.send(body(b"12345", more=True))
    c.expire()
    await c.send(body(b"67890"))  # dropped: the connection is gone
    assert t.closed and c.disconnected
    assert t.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345"]
