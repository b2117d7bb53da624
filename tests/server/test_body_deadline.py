"""GATEWAY_BODY_TIMEOUT against real processes: bodies trickled on raw sockets through the
gateway to the recording upstream. The deadline counts from the request's first byte."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.ops import Ops, Replica, access_lines
from tests.support.polling import eventually
from tests.support.processes import gateway_process
from tests.support.rawhttp import address, build, connect

#: in the "serial" group under pytest-xdist (tests/conftest.py): deadlines measured to a fraction of a second
pytestmark = pytest.mark.xdist_group("serial")

BODY_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def gateway(ops: Ops) -> Iterator[Replica]:
    env = ops.env(GATEWAY_HEADER_TIMEOUT="1", GATEWAY_BODY_TIMEOUT=str(BODY_TIMEOUT))
    with gateway_process(env) as proc:
        yield Replica(proc, env)


def trickle(url: str, head: bytes, pieces: Iterator[bytes], every: float = 0.2) -> tuple[bytes, float]:
    """Send `head`, then one piece every `every` seconds until the server answers or closes;
    everything the server sent until it closed, and when it closed (seconds after the head)."""
    with connect(url, timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head)
        sock.settimeout(every)
        data = b""
        for piece in pieces:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                with contextlib.suppress(OSError):  # the server may be closing: keep reading
                    sock.sendall(piece)
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data, time.monotonic() - started


def forever(piece: bytes, seconds: float = 8.0) -> Iterator[bytes]:
    """`piece` again and again, for at most `seconds` (the test's own bound)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        yield piece


def requests_to(ops: Ops, marker: str) -> list[dict[str, Any]]:
    return [r for r in ops.upstream.requests() if marker in r["target"]]


def post_head(ops: Ops, marker: str, framing: tuple[str, str], *, auth: bool = True) -> bytes:
    headers = [("Host", "gw.test"), framing]
    if auth:
        headers.append(("Authorization", f"Bearer {ops.session()}"))
    return build("POST", f"/customer/echo/{marker}", headers)


def check_408(answer: bytes, took: float) -> None:
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b'"error":"request_timeout"' in answer and b"connection: close" in answer.lower()
    assert BODY_TIMEOUT - 0.3 < took < BODY_TIMEOUT + 1.5, took


def test_a_trickled_plain_body_is_408_and_closed_and_nothing_is_forwarded(gateway: Replica, ops: Ops) -> None:
    head = post_head(ops, "trickle-plain", ("Content-Length", "1000"))
    answer, took = trickle(gateway.url, head, forever(b"x"))
    check_408(answer, took)
    time.sleep(0.3)
    assert requests_to(ops, "trickle-plain") == []
    line = next(x for x in access_lines(gateway.output()) if x.get("reason") == "body_timeout")
    assert line["status"] == 408 and line["decision"] == "deny"


def test_a_trickled_chunked_body_is_408_and_the_streamed_upstream_request_aborted(gateway: Replica, ops: Ops) -> None:
    head = post_head(ops, "trickle-chunked", ("Transfer-Encoding", "chunked"))
    answer, took = trickle(gateway.url, head, forever(b"1\r\nx\r\n"))
    check_408(answer, took)
    # streamed (not inspected): the upstream got the head and part of the body, then the close
    seen = eventually(lambda: requests_to(ops, "trickle-chunked"), timeout=5, what="the aborted request")
    assert [r["complete"] for r in seen] == [False]
    assert 0 < len(seen[0]["body"]) < 20


def test_a_trickled_large_body_streamed_upstream_is_aborted_too(gateway: Replica, ops: Ops) -> None:
    head = post_head(ops, "trickle-large", ("Content-Length", str(200_000)))  # > 64 KiB: streamed
    answer, took = trickle(gateway.url, head, forever(b"y" * 100))
    check_408(answer, took)
    seen = eventually(lambda: requests_to(ops, "trickle-large"), timeout=5, what="the aborted request")
    assert [r["complete"] for r in seen] == [False]
    assert len(seen[0]["body"]) < 200_000


def test_the_deadline_counts_from_the_request_start_not_the_end_of_its_head(gateway: Replica, ops: Ops) -> None:
    head = post_head(ops, "slow-head", ("Content-Length", "3"))
    with connect(gateway.url, timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head[:20])
        time.sleep(0.8)  # within GATEWAY_HEADER_TIMEOUT (1 s)
        sock.sendall(head[20:])
        sock.settimeout(BODY_TIMEOUT + 2)
        answer = sock.recv(65536)  # the body never comes
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert BODY_TIMEOUT - 0.3 < took < BODY_TIMEOUT + 1.0, took


def test_a_body_in_time_is_forwarded_and_the_connection_kept(gateway: Replica, ops: Ops) -> None:
    head = post_head(ops, "in-time", ("Content-Length", "10"))
    with connect(gateway.url, timeout=10) as sock:
        sock.sendall(head)
        for _ in range(5):  # 1 s of trickling, within the 2 s deadline
            time.sleep(0.2)
            sock.sendall(b"ab")
        answer = sock.recv(65536)
        while not answer.endswith(b"0\r\n\r\n"):  # the recorder's answer is chunked
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        time.sleep(BODY_TIMEOUT + 0.5)  # the deadline ended with the body: the connection stays
        sock.sendall(build("GET", "/healthz", [("Host", "gw.test")]))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert [r["body"] for r in requests_to(ops, "in-time")] == [b"ab" * 5]


def test_after_an_early_answer_a_trickling_body_still_ends_the_connection(gateway: Replica, ops: Ops) -> None:
    """No credential: 401 before a byte of the body is read; the trickle then cannot hold the
    connection past the deadline (no second answer: the first was given)."""
    head = post_head(ops, "early-answer", ("Content-Length", "1000"), auth=False)
    answer, took = trickle(gateway.url, head, forever(b"z"))
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1
    assert took < BODY_TIMEOUT + 1.5, took
    assert requests_to(ops, "early-answer") == []


def test_keep_alive_requests_without_a_body_outlive_the_deadline(gateway: Replica) -> None:
    """Keep-alive GETs with no body are not affected: 20 on one connection over 2.5 s."""
    host, port = address(gateway.url)
    with socket.create_connection((host, port), timeout=5) as sock:
        for _ in range(20):
            sock.sendall(build("GET", "/healthz", [("Host", "gw.test")]))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            time.sleep(0.125)
