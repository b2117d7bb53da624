"""Limits (431, 408, 413, 503 for streams) and graceful shutdown on SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.ops import Ops, Replica, access_lines
from tests.support.processes import gateway_process

#: in the "serial" group under pytest-xdist (tests/conftest.py): deadlines measured to a fraction of a second
pytestmark = pytest.mark.xdist_group("serial")


@pytest.fixture(scope="module")
def gateway(ops: Ops) -> Iterator[Replica]:
    env = ops.env(
        GATEWAY_MAX_STREAMS="2",
        GATEWAY_MAX_STREAMS_PER_TENANT="2",  # the process cap is what is tested (shares: test_isolation)
        GATEWAY_MAX_STREAMS_PER_PRINCIPAL="2",
        GATEWAY_HEADER_TIMEOUT="1",
        GATEWAY_MAX_HEADER_BYTES="8192",
        GATEWAY_SHUTDOWN_TIMEOUT="10",
    )
    with gateway_process(env) as proc:
        yield Replica(proc, env)


def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_oversized_headers_are_431_json_before_any_work(gateway: Replica, ops: Ops) -> None:
    ops.upstream.clear()
    resp = httpx.get(gateway.url + "/sse/never", headers={"X-Big": "x" * 10_000})
    assert resp.status_code == 431
    assert resp.json()["error"] == "headers_too_large"
    assert resp.headers["x-request-id"] == resp.json()["request_id"]
    assert ops.upstream.requests() == []


def test_a_header_flood_is_cut_off_before_it_is_buffered(gateway: Replica) -> None:
    with _raw(gateway.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        # the server answers and closes while we are still sending (the kernel may absorb the
        # rest of the flood in its buffers, so the send need not fail)
        with contextlib.suppress(OSError):
            for _ in range(200):
                sock.sendall(b"X-Flood: " + b"y" * 4000 + b"\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b'"headers_too_large"' in answer


def test_slow_request_headers_get_408_and_the_connection_closed(gateway: Replica) -> None:
    with _raw(gateway.url) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # ... and never the blank line
        time.sleep(0.5)
        sock.sendall(b"X-Slow: 1\r\n")  # trickling does not extend the deadline
        answer = _read_all(sock)
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"request_timeout"' in answer and b"x-request-id: " in answer
    assert 0.9 < took < 3


def test_an_idle_new_connection_is_closed_too(gateway: Replica) -> None:
    with _raw(gateway.url) as sock:
        started = time.monotonic()
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 3


def test_keep_alive_requests_are_not_affected_by_the_head_deadline(gateway: Replica) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        for _ in range(3):
            assert http.get("/healthz").status_code == 200
            time.sleep(0.6)  # 1.8 s on one connection, longer than GATEWAY_HEADER_TIMEOUT


def test_inspected_body_over_the_limit_is_413_before_reading(gateway: Replica, ops: Ops) -> None:
    token = ops.session()
    resp = httpx.post(
        gateway.url + "/customer/api/durably/trigger",
        content=b"{" + b" " * (2 << 20) + b"}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.json()["error"] == "payload_too_large"


class Stream(threading.Thread):
    """An SSE client in a thread: how many events it saw and how the stream ended."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events = 0
        self.status = 0
        self.ended: str = ""
        self.started = threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, timeout=20) as resp:
                self.status = resp.status_code
                self.started.set()
                for chunk in resp.iter_raw():
                    self.events += chunk.count(b"data:")
            self.ended = "clean"
        except httpx.HTTPError as exc:
            self.ended = f"error: {type(exc).__name__}"
        finally:
            self.started.set()


def test_streams_limit_then_sigterm_drains_cleanly(gateway: Replica, ops: Ops) -> None:
    streams = [Stream(gateway.url + f"/sse/{i}") for i in range(2)]
    for stream in streams:
        stream.start()
        assert stream.started.wait(10)
        assert stream.status == 200
    time.sleep(0.5)
    resp = httpx.get(gateway.url + "/sse/third")
    assert resp.status_code == 503
    assert resp.headers["retry-after"]
    assert resp.json()["error"] == "too_many_streams"

    # a slow request in flight when SIGTERM arrives: Hydra answers after 1.5 s
    ops.emulator.control(
        "POST", "faults", {"mode": "delay", "seconds": 1.5, "project": "dealer", "operation": "token", "count": 1}
    )
    slow: dict[str, httpx.Response] = {}

    def token_request() -> None:
        slow["resp"] = httpx.post(
            gateway.url + "/dealer/oauth2/token",
            auth=("partner-inventory", "partner-inventory-secret"),
            data={"grant_type": "client_credentials", "scope": "inventory:read"},
            timeout=20,
        )

    worker = threading.Thread(target=token_request)
    worker.start()
    time.sleep(0.5)
    process = gateway.proc.process
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    for stream in streams:
        stream.join(5)
        assert stream.ended == "clean", stream.ended
        assert stream.events >= 1
    streams_closed = time.monotonic() - started
    worker.join(10)
    assert slow["resp"].status_code == 200, slow["resp"].text  # finished, not cut off
    assert "access_token" in slow["resp"].json()
    process.wait(10)
    assert streams_closed < 1.5
    with pytest.raises(httpx.ConnectError):  # no longer accepting
        httpx.get(gateway.url + "/healthz")
    drained = [line for line in access_lines(gateway.output()) if line.get("drained")]
    assert len(drained) == 2
    ops.emulator.control("DELETE", "faults")
