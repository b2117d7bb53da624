"""Attack classes "Long-lived streams", "Resource exhaustion" (open SSE streams)
and "Redirects".

Streams: the security gateway re-checks a stream's principal every
GATEWAY_STREAM_RECHECK_SECONDS=1 with a decision cache of GATEWAY_CACHE_MAX_TTL=2, so
a revoked session's stream ends within about 3 s (bound: re-check interval + cache
TTL); at most GATEWAY_MAX_STREAMS=3 are open at once.

Redirects: the gateway has no redirect logic of its own (no `return_to`): it never
answers with a `Location` built from request input, passes an upstream's `Location`
through unchanged, and never follows an upstream's redirect itself.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import quote

import httpx
import pytest

from tests.security.support import Case, Sec, check_status, ids, run_case
from tests.support.rawhttp import address, build, exchange


def _open_stream(sec: Sec, token: str, path: str = "/customer/sse/x") -> socket.socket:
    sock = socket.create_connection(address(sec.url), timeout=5)
    sock.sendall(build("GET", path, [("Host", "gw.test"), ("Authorization", f"Bearer {token}")]))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the stream closed before its head"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return sock


def _seconds_until_closed(sock: socket.socket, limit: float) -> float | None:
    """Read the stream until the gateway ends it (final chunk or close)."""
    started = time.monotonic()
    tail = b""
    while time.monotonic() - started < limit:
        sock.settimeout(max(0.1, limit - (time.monotonic() - started)))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        tail = (tail + chunk)[-16:]
        if not chunk or tail.endswith(b"0\r\n\r\n"):
            return time.monotonic() - started
    return None


def _logout(sec: Sec, token: str) -> None:
    emu = sec.world.emulator.base_url
    httpx.request("DELETE", f"{emu}/customer/self-service/logout/api", json={"session_token": token}).raise_for_status()


def test_stream_of_a_revoked_session_is_closed_within_the_bound(sec: Sec) -> None:
    token = sec.world.session("alice")
    sock = _open_stream(sec, token)
    try:
        assert _seconds_until_closed(sock, 1.5) is None, "the stream ended while the session was valid"
        _logout(sec, token)
        closed = _seconds_until_closed(sock, 8)
    finally:
        sock.close()
    assert closed is not None, "the stream of a revoked session stayed open for 8 s"
    assert closed < 1 + 2 + 2  # re-check interval + cache TTL + scheduling margin


def test_open_streams_are_bounded(sec: Sec) -> None:
    token = sec.token("carol")
    streams = [_open_stream(sec, token) for _ in range(3)]
    try:
        sec.clear()
        response = exchange(sec.url, build("GET", "/customer/sse/x", [("Host", "gw.test"), *sec.auth("carol")]))
        assert response.status == 503
        assert response.header("retry-after") is not None
        time.sleep(0.05)
        assert sec.recorded() == [], "the stream over the limit reached the upstream"
    finally:
        for sock in streams:
            sock.close()


EVIL = [
    "https://evil.example/x",
    "//evil.example/x",
    "/\\evil.example",
    "https://customer.example.evil.example/",
    "javascript:alert(1)",
    "https://evil.example%2F@customer.example/",
]

GATEWAY_ANSWERS = [
    Case(f"{kind}-{i}", "GET", f"{path}?return_to={quote(to, safe='')}&next={quote(to, safe='')}", status=status)
    for i, to in enumerate(EVIL)
    for kind, path, status in (
        ("unauthenticated", "/customer/echo/r", 401),
        ("no-route", "/customer/nowhere", 404),
        ("ambiguous-path", "/customer/echo/%2e%2e/r", 400),
    )
]


@pytest.mark.parametrize("case", GATEWAY_ANSWERS, ids=ids(GATEWAY_ANSWERS))
def test_the_gateway_never_redirects_on_request_input(sec: Sec, case: Case) -> None:
    response, seen = run_case(sec, case)
    check_status(response, case.status, case.id)
    assert seen == []
    assert response.header("location") is None and response.header("refresh") is None
    assert not 300 <= response.status < 400


@pytest.mark.parametrize("to", EVIL, ids=[f"upstream-location-{i}" for i in range(len(EVIL))])
def test_upstream_location_passes_through_and_is_not_followed(sec: Sec, to: str) -> None:
    sec.redirector.targets.clear()
    sec.clear()
    response = exchange(sec.url, build("GET", f"/customer/redirect/x?to={quote(to, safe='')}", [("Host", "gw.test")]))
    assert response.status == 302
    assert response.header_values("location") == [to]
    assert sec.redirector.targets == [f"/redirect/x?to={quote(to, safe='')}"]


def test_upstream_redirect_to_another_upstream_is_not_followed(sec: Sec) -> None:
    recorder = sec.recorder.url + "/public/followed"
    sec.clear()
    response = exchange(
        sec.url, build("GET", f"/customer/redirect/y?to={quote(recorder, safe='')}", [("Host", "gw.test")])
    )
    assert response.status == 302 and response.header("location") == recorder
    time.sleep(0.05)
    assert sec.recorded() == [], "the gateway followed an upstream redirect"
