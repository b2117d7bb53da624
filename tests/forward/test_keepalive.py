"""SSE streams that stay up (gateway.forward.keepalive) against scripted upstreams on real
loopback sockets: the head when the upstream holds its own, heartbeats only between whole
events, errors relayed as the upstream answered, and nothing of a late refusal relayed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.forward import keepalive
from gateway.forward.proxy import ForwardPlan, Upstreams, timeouts_of
from gateway.labels.registry import BUILT_IN
from gateway.labels.scope import Scope

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]
BEAT = 0.2
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
SSE_HEAD += b"transfer-encoding: chunked\r\n\r\n"


def event(org: str, n: int) -> bytes:
    labels = {"organizationId": org, "tenant": "customer"}
    return b"data: " + json.dumps({"type": "run:progress", "n": n, "labels": labels}).encode() + b"\n\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def answer_json(status: bytes, body: bytes, after: float = 0.0) -> Script:
    """An upstream that answers `status` with a JSON `body`, `after` seconds late."""

    async def script(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(after)
        writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n")
        writer.write(b"content-length: %d\r\n\r\n%s" % (len(body), body))

    return script


@contextlib.asynccontextmanager
async def upstream(script: Script) -> AsyncIterator[Upstreams]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await script(writer)
            await writer.drain()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstreams = Upstreams({"jobs": f"http://127.0.0.1:{port}"})
    try:
        yield upstreams
    finally:
        await upstreams.close()
        server.close()


class Client:
    """What the browser gets: ASGI messages with the time they were sent."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.messages: list[tuple[float, dict[str, Any]]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append((time.monotonic() - self.t0, message))

    @property
    def head(self) -> tuple[float, dict[str, Any]]:
        return next((t, m) for t, m in self.messages if m["type"] == "http.response.start")

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for _, m in self.messages if m["type"] == "http.response.body")

    @property
    def ended(self) -> bool:
        last = self.messages[-1][1]
        return last["type"] == "http.response.body" and not last.get("more_body", False)


def plan() -> ForwardPlan:
    return ForwardPlan(
        upstream="jobs",
        method="GET",
        path_and_query="/api/durably/runs/subscribe",
        headers=[],
        body=None,
        timeouts=timeouts_of(1.0),  # replaced: a stream of events has no read deadline
        stream=Scope(BUILT_IN["durably"], "org-a", "customer").sse_filter,  # the durably profile's filter
        long_lived=True,
    )


async def relay(script: Script) -> Client:
    client = Client()
    async with upstream(script) as upstreams:
        await keepalive.forward(upstreams, plan(), client.send, BEAT)
    return client


async def test_a_held_head_is_answered_by_the_gateway_with_heartbeats_until_the_first_event() -> None:
    async def held(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1.2)  # a Node adapter that sends its head with the first event
        writer.write(SSE_HEAD + chunk(event("org-a", 1)) + b"0\r\n\r\n")

    client = await relay(held)
    at, head = client.head
    assert head["status"] == 200 and (b"content-type", b"text/event-stream") in head["headers"]
    assert at < 1.0  # within the grace, not when the upstream finally answered
    before, _, after = client.body.partition(b"data:")
    assert before.count(keepalive.HEARTBEAT) >= 2 and before == keepalive.HEARTBEAT * before.count(b":")
    assert b'"n": 1' in after and client.ended


async def test_a_quiet_stream_outlives_its_read_timeout_and_heartbeats_never_split_an_event() -> None:
    async def quiet(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        await writer.drain()
        await asyncio.sleep(1.3)  # longer than the plan's 1 s timeout
        whole = event("org-a", 2)
        writer.write(chunk(whole[:20]))  # half an event, then a pause of several heartbeats
        await writer.drain()
        await asyncio.sleep(0.8)
        writer.write(chunk(whole[20:]) + chunk(event("org-b", 3)) + chunk(event("org-a", 4)) + b"0\r\n\r\n")

    client = await relay(quiet)
    assert client.head[1]["status"] == 200
    body = client.body
    events = [part for part in body.split(b"\n\n") if part]
    assert all(part == b": keep-alive" or part.startswith(b"data: ") for part in events), body
    data = [json.loads(part[6:]) for part in events if part.startswith(b"data: ")]
    assert [d["n"] for d in data] == [2, 4]  # org-b's event filtered out, org-a's whole
    assert body.index(b'"n": 2') > body.rindex(keepalive.HEARTBEAT, 0, body.index(b"data:"))
    between = body[body.index(b"data:") : body.index(b'"n": 2')]
    assert keepalive.HEARTBEAT not in between  # none inside the event that arrived in halves
    assert body.count(keepalive.HEARTBEAT) >= 5 and client.ended


async def test_an_upstream_error_in_time_is_relayed_as_it_answered() -> None:
    client = await relay(answer_json(b"404 Not Found", b'{"error":"Run not found"}'))
    assert client.head[1]["status"] == 404
    assert client.body == b'{"error":"Run not found"}'


async def test_a_late_refusal_ends_the_stream_and_none_of_its_body_is_relayed() -> None:
    client = await relay(answer_json(b"500 Internal Server Error", b'{"error":"secret detail"}', after=0.9))
    assert client.head[1]["status"] == 200  # sent before the upstream answered
    assert b"secret" not in client.body and set(client.body.split(b"\n\n")) <= {b": keep-alive", b""}
    assert client.ended


async def test_a_2xx_that_is_not_an_event_stream_still_goes_through_the_filter() -> None:
    client = await relay(answer_json(b"200 OK", b'[{"labels":{"organizationId":"org-b"}}]'))
    assert client.head[1]["status"] == 200 and b"org-b" not in client.body


async def test_a_client_that_goes_away_closes_the_upstream_connection() -> None:
    closed = asyncio.Event()

    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            while not writer.is_closing():
                writer.write(chunk(event("org-a", 0)))
                await writer.drain()
                await asyncio.sleep(0.05)
        closed.set()

    client = Client()
    async with upstream(endless) as upstreams:
        task = asyncio.ensure_future(keepalive.forward(upstreams, plan(), client.send, BEAT))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(closed.wait(), 5)
    assert client.head[1]["status"] == 200 and b'"n": 0' in client.body
