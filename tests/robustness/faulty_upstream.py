"""A small upstream that misbehaves on request, run as its own process (raw asyncio, HTTP/1.1).

    python -m tests.robustness.faulty_upstream --port 9000

The behaviour is chosen by the path the upstream receives (its first segment is the
gateway route's, e.g. ``/f``; the second picks the behaviour), so a test needs no control calls:

    /<route>/slow/<seconds>/...     wait, then answer the echo
    /<route>/reset/...              read the request, then reset the connection (RST, no answer)
    /<route>/midreset/...           send the head and half the declared body, then reset
    /<route>/garbage/...            answer bytes that are not HTTP, then close
    /<route>/sse/eof/<n>/...        SSE: n events, close-delimited body, then half-close (FIN): a clean end
    /<route>/sse/chunked/<n>/...    SSE: n events, chunked, then FIN without the last chunk: a broken end
    /<route>/sse/forever/...        SSE: an event every 0.1 s until the peer goes away
    anything else                   200 JSON echo: {"path", "org", "user", "client", "tenant", "kind"}

Every request is recorded (method, target, headers); ``GET /__faulty/requests`` lists
them, ``DELETE /__faulty/requests`` forgets them, ``GET /__faulty/stats`` counts open
connections and requests seen. With ``--record FILE`` each request is appended to FILE as a
JSON line instead (flushed at once, so a process killed and restarted loses none; the soak
uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
from typing import Any

RECORDED: list[dict[str, Any]] = []
STATS = {"open": 0, "requests": 0}
RECORD_TO: list[Any] = []  # the open --record file, if any


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str, list[tuple[str, str]]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return method, target, headers


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    values = {k.lower(): v for k, v in headers}
    if values.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await _line(reader)).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await _line(reader)
                return body
            body += await reader.readexactly(size)
            await _line(reader)
    length = int(values.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


async def _line(reader: asyncio.StreamReader) -> bytes:
    """One CRLF-ended line; a connection that ends first is a body cut short, not its end."""
    line = await reader.readline()
    if not line.endswith(b"\n"):
        raise asyncio.IncompleteReadError(line, None)
    return line


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _json(status: int, doc: Any, *, close: bool = False) -> bytes:
    body = json.dumps(doc).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if close:
        headers.append(("Connection", "close"))
    return _head(status, headers) + body


def _event(n: int) -> bytes:
    return f"id: {n}\ndata: {json.dumps({'n': n})}\n\n".encode()


async def _sse(writer: asyncio.StreamWriter, kind: str, count: int) -> None:
    if kind == "eof":
        writer.write(_head(200, [("Content-Type", "text/event-stream"), ("Connection", "close")]))
        for n in range(count):
            writer.write(_event(n))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write_eof()  # half-close: the body ends here, the read side stays open
        await writer.drain()
        await asyncio.sleep(0.5)
        return
    writer.write(_head(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]))
    n = 0
    while kind == "forever" or n < count:
        data = _event(n)
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()
        n += 1
        await asyncio.sleep(0.1 if kind == "forever" else 0.02)
    writer.write_eof()  # no terminating chunk: the stream breaks off
    await writer.drain()
    await asyncio.sleep(0.5)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    STATS["open"] += 1
    try:
        while True:
            head = await _read_head(reader)
            if head is None:
                return
            method, target, headers = head
            body = await _read_body(reader, headers)
            if await _answer(method, target, headers, body, writer):
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        STATS["open"] -= 1
        with contextlib.suppress(Exception):
            writer.close()


async def _answer(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, writer: asyncio.StreamWriter
) -> bool:
    """Answer one request; True if the connection is finished."""
    if target.startswith("/__faulty/"):
        if method == "DELETE":
            RECORDED.clear()
        doc: Any = STATS if target.startswith("/__faulty/stats") else RECORDED
        writer.write(_json(200, doc))
        await writer.drain()
        return False
    STATS["requests"] += 1
    entry = {"method": method, "target": target, "headers": headers, "body": body.decode("latin-1")}
    if RECORD_TO:
        RECORD_TO[0].write(json.dumps(entry) + "\n")
        RECORD_TO[0].flush()
    else:
        RECORDED.append(entry)
    parts = target.split("?")[0].split("/")  # ["", <route>, <behaviour>, <argument>, ...]
    kind = parts[2] if len(parts) > 2 else ""
    if kind == "slow":
        await asyncio.sleep(float(parts[3]))
    elif kind == "reset":
        _reset(writer)
        return True
    elif kind == "midreset":
        writer.write(_head(200, [("Content-Type", "application/json"), ("Content-Length", "1000")]) + b"{" * 500)
        await writer.drain()
        await asyncio.sleep(0.05)
        _reset(writer)
        return True
    elif kind == "garbage":
        writer.write(b"\x00\x01 this is not HTTP at all\r\n\r\n")
        await writer.drain()
        return True
    elif kind == "sse":
        await _sse(writer, parts[3], int(parts[4]) if len(parts) > 4 and parts[4].isdigit() else 0)
        return True
    seen = {k.lower(): v for k, v in headers}
    echo = {
        "path": target,
        "org": seen.get("x-org-id"),
        "user": seen.get("x-user-id"),
        "client": seen.get("x-client-id"),
        "tenant": seen.get("x-tenant"),
        "kind": seen.get("x-principal-kind"),
    }
    writer.write(_json(200, echo))
    await writer.drain()
    return False


async def serve(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", help="append each request to this file (JSON lines), not to memory")
    args = parser.parse_args()
    if args.record:
        RECORD_TO.append(open(args.record, "a"))  # noqa: SIM115 - open for the process's life
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
