"""The raw-socket HTTP/1.1 client, for what higher-level clients refuse to send.

httpx and aiohttp normalise requests before sending them (they resolve or reject
odd targets, merge duplicate headers, frame the body themselves). The security
corpus, the robustness suite and the limit tests need the exact bytes on the wire:
request smuggling, malformed or fuzzed request targets, duplicate or oddly spelt
headers, upgrades, slow headers, bodies announced and never sent.

    resp = exchange(url, build("GET", "@evil.example/x", [("Host", "gw")]))
    resp.status, resp.header("content-type"), resp.body

    replies = exchange_all(url, raw_bytes)   # every response the server sent (pipelining)
    outcome = slow_headers(url, b"GET / HTTP/1.1\\r\\nHost: x\\r\\n", wait=3.0)
    resp = raw_request(url, "GET", b"/a/%2e%2e/b")   # one request, read to the close
    resp.complete                                   # False: the body was cut short
    with connect(url) as sock: ...                   # a bare connection, for the rest

Everything is bounded by timeouts: a server that stops answering makes the read
end, it never hangs the test.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Header = tuple[str, str]


class RawHTTPError(Exception):
    """The server's answer could not be parsed as HTTP/1.1."""


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    #: the body was framed to its end (last chunk, or all of Content-Length)
    complete: bool = True

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        want = name.lower()
        return [v for k, v in self.headers if k.lower() == want]

    def json(self) -> object:
        import json

        return json.loads(self.body)


@dataclass
class SlowOutcome:
    """What the server did while headers trickled in."""

    #: seconds until the server closed (or answered), None if it waited the whole time
    closed_after: float | None
    #: the response it sent before closing, if any
    response: RawResponse | None


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    """A fresh connection to the server at `url`, every read and write bounded by `timeout`."""
    return socket.create_connection(address(url), timeout=timeout)


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def build(
    method: str,
    target: str,
    headers: Sequence[Header] = (),
    body: bytes = b"",
    *,
    version: str = "HTTP/1.1",
    content_length: bool = True,
) -> bytes:
    """The request bytes exactly as given: no normalisation, no added headers except
    ``Content-Length`` for a non-empty body when `content_length` is true and the
    caller set neither Content-Length nor Transfer-Encoding."""
    lines = [f"{method} {target} {version}"]
    names = {k.lower() for k, _ in headers}
    lines += [f"{k}: {v}" for k, v in headers]
    if body and content_length and not names & {"content-length", "transfer-encoding"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(url: str, data: bytes, *, timeout: float = 5.0, head: bool = False) -> RawResponse:
    """Send `data` on a fresh connection and parse the first response."""
    replies = exchange_all(url, data, timeout=timeout, head=head, limit=1)
    if not replies:
        raise RawHTTPError("the server closed the connection without answering")
    return replies[0]


def exchange_all(
    url: str, data: bytes, *, timeout: float = 5.0, head: bool = False, limit: int = 16, settle: float = 0.5
) -> list[RawResponse]:
    """Send `data` and parse every response until the server closes the connection,
    `limit` responses arrived, or nothing more came for `settle` seconds."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(data)
        reader = _Reader(sock, time.monotonic() + timeout)
        replies: list[RawResponse] = []
        while len(replies) < limit:
            if replies and not reader.more_within(settle):
                break
            if not replies and not reader.more_within(timeout):
                break
            reply = _read_response(reader, head)
            if 100 <= reply.status < 200 and reply.status != 101:
                continue  # interim (100 Continue): the final response follows
            replies.append(reply)
        return replies


def slow_headers(url: str, prefix: bytes, *, wait: float, trickle: float = 0.5) -> SlowOutcome:
    """Send `prefix` (an incomplete head), then one harmless header byte every
    `trickle` seconds, for at most `wait` seconds; report whether the server gave up."""
    start = time.monotonic()
    with socket.create_connection(address(url), timeout=wait + 2) as sock:
        sock.sendall(prefix)
        reader = _Reader(sock, start + wait + 2)
        while time.monotonic() - start < wait:
            if reader.more_within(trickle):
                elapsed = time.monotonic() - start
                try:
                    return SlowOutcome(elapsed, _read_response(reader, False))
                except RawHTTPError:
                    return SlowOutcome(elapsed, None)
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return SlowOutcome(time.monotonic() - start, None)
        return SlowOutcome(None, None)


def raw_request(
    url: str,
    method: str,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    timeout: float = 10.0,
) -> RawResponse:
    """One request on a fresh connection (``Connection: close``), target bytes verbatim,
    the answer read to the close; `complete` is false when its body was cut short."""
    host, port = address(url)
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: " + f"{host}:{port}".encode()]
    lines += [n + b": " + v for n, v in headers]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    with connect(url, timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = read_to_close(sock)
    head, _, rest = data.partition(b"\r\n\r\n")
    response = _parse_head(head.decode("latin-1"))
    if response.header("transfer-encoding") is not None:
        response.body, response.complete = dechunk(rest)
    else:
        length = response.header("content-length")
        response.body, response.complete = rest, length is None or len(rest) == int(length)
    return response


def dechunk(data: bytes) -> tuple[bytes, bool]:
    """A chunked body decoded as far as it goes, and whether its last chunk came."""
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            return out, True
        out, data = out + data[:size], data[size + 2 :]
    return out, False


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buf = b""
        self.eof = False

    def _fill(self, until: float) -> bool:
        """Read once; False on EOF or timeout."""
        if self.eof:
            return False
        remaining = min(until, self.deadline) - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def more_within(self, seconds: float) -> bool:
        return bool(self.buf) or self._fill(time.monotonic() + seconds)

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if not self._fill(self.deadline):
                raise RawHTTPError(f"incomplete response: {self.buf[:200]!r}")
        head, _, self.buf = self.buf.partition(marker)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill(self.deadline):
                raise RawHTTPError("response body shorter than announced")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest(self) -> bytes:
        while self._fill(self.deadline):
            pass
        data, self.buf = self.buf, b""
        return data


def _read_response(reader: _Reader, head: bool) -> RawResponse:
    response = _parse_head(reader.until(b"\r\n\r\n").decode("latin-1"))
    status = response.status
    if head or status < 200 or status in (204, 304):
        return response
    te = (response.header("transfer-encoding") or "").lower()
    length = response.header("content-length")
    if "chunked" in te:
        response.body = _chunked(reader)
    elif length is not None:
        response.body = reader.exactly(int(length))
    else:
        response.body = reader.rest()
    return response


def _parse_head(raw: str) -> RawResponse:
    status_line, *header_lines = raw.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise RawHTTPError(f"bad status line {status_line!r}")
    status = int(parts[1])
    headers: list[Header] = []
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise RawHTTPError(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return RawResponse(status, parts[2] if len(parts) > 2 else "", headers)


def _chunked(reader: _Reader) -> bytes:
    body = b""
    while True:
        size = int(reader.until(b"\r\n").split(b";")[0].strip(), 16)
        if size == 0:
            while reader.until(b"\r\n"):  # trailers, up to the empty line
                pass
            return body
        body += reader.exactly(size)
        reader.exactly(2)
