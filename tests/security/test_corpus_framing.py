"""Attack classes "Smuggling", "Upgrades" and "Resource exhaustion".

Raw bytes on one connection; every response the gateway sends is read. The upstream
must see either nothing or exactly the well-framed requests the client really sent,
each authorized on its own - never a request hidden in another one's body.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import pytest

from tests.security.support import ANONYMOUS, Expect, Sec, check_status, check_upstream, upstream_host
from tests.support.rawhttp import address, build, exchange, exchange_all, slow_headers

H = b"Host: gw.test\r\n"
POST = b"POST /customer/public/a HTTP/1.1\r\n" + H
SMUGGLED = b"GET /customer/public/smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n"


@dataclass(frozen=True)
class Raw:
    id: str
    data: bytes
    #: status of the first response
    status: int | tuple[int, ...]
    #: what the recorder must hold afterwards: (method, target, body) per request
    upstream: tuple[tuple[str, str, bytes], ...] = ()
    #: statuses of all responses on the connection (None: not checked)
    statuses: tuple[int, ...] | None = None


def refused(case_id: str, data: bytes) -> Raw:
    return Raw(case_id, data, 400)


def one(case_id: str, data: bytes, body: bytes = b"hello", method: str = "POST", target: str = "/public/a") -> Raw:
    return Raw(case_id, data, 200, ((method, target, body),))


SMUGGLING = [
    refused("cl-te", POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    refused("te-cl", POST + b"Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + SMUGGLED),
    refused("cl-te-identity", POST + b"Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello"),
    refused("cl-duplicate-different", POST + b"Content-Length: 5\r\nContent-Length: 47\r\n\r\nhello" + SMUGGLED),
    refused("cl-duplicate-same", POST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
    refused("cl-list", POST + b"Content-Length: 5, 5\r\n\r\nhello"),
    refused("cl-list-different", POST + b"Content-Length: 5, 47\r\n\r\nhello" + SMUGGLED),
    refused("cl-plus", POST + b"Content-Length: +5\r\n\r\nhello"),
    refused("cl-negative", POST + b"Content-Length: -1\r\n\r\nhello"),
    refused("cl-hex", POST + b"Content-Length: 0x5\r\n\r\nhello"),
    refused("cl-overflow", POST + b"Content-Length: 99999999999999999999999\r\n\r\nhello"),
    refused("cl-space-before-colon", POST + b"Content-Length : 5\r\n\r\nhello"),
    refused("te-space-before-colon", POST + b"Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused("te-chunked-identity", POST + b"Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused("te-identity-chunked", POST + b"Transfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused("te-gzip-chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused("te-xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused("te-chunked-chunked", POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused("te-chunked-param", POST + b"Transfer-Encoding: chunked;q=1\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused("te-empty-with-cl", POST + b"Transfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello"),
    refused("te-vertical-tab", POST + b"Transfer-Encoding: \x0bchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused(
        "te-duplicate",
        POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    refused("te-obs-fold", POST + b"Transfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    refused(
        "te-http10",
        b"POST /customer/public/a HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    refused(
        "obs-fold-identity-header", b"GET /customer/public/a HTTP/1.1\r\n" + H + b"X-Keep: a\r\n X-Org-Id: evil\r\n\r\n"
    ),
    refused("obs-fold-tab", b"GET /customer/public/a HTTP/1.1\r\n" + H + b"X-Keep: a\r\n\tb\r\n\r\n"),
    refused("chunk-size-space", POST + b"Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
    refused(
        "chunk-size-overflow", POST + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n"
    ),
    refused("chunk-size-negative", POST + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"),
    refused("chunk-missing-crlf", POST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n" + SMUGGLED),
    refused("chunk-bare-lf", POST + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n" + SMUGGLED),
    refused("headers-bare-lf", b"GET /customer/public/a HTTP/1.1\nHost: gw.test\nX-Keep: 1\n\n"),
    refused("header-bare-cr", b"GET /customer/public/a HTTP/1.1\r\n" + H + b"X-Keep: a\rX-Org-Id: evil\r\n\r\n"),
    refused("header-nul", b"GET /customer/public/a HTTP/1.1\r\n" + H + b"X-Keep: a\x00b\r\n\r\n"),
    refused("header-no-colon", b"GET /customer/public/a HTTP/1.1\r\n" + H + b"X-Keep a\r\n\r\n"),
    refused("header-empty-name", b"GET /customer/public/a HTTP/1.1\r\n" + H + b": a\r\n\r\n"),
    refused("method-lower-case", b"get /customer/public/a HTTP/1.1\r\n" + H + b"\r\n"),
    refused("method-unknown", b"FOO /customer/public/a HTTP/1.1\r\n" + H + b"\r\n"),
    refused("version-1-2", b"GET /customer/public/a HTTP/1.2\r\n" + H + b"\r\n"),
    refused("request-line-tab", b"GET\t/customer/public/a HTTP/1.1\r\n" + H + b"\r\n"),
    refused("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    refused("connect", b"CONNECT customer.example:443 HTTP/1.1\r\n" + H + b"\r\n"),
    refused("host-twice", b"GET /customer/public/a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"),
    # accepted framings: exactly one well-formed request reaches the upstream
    one("te-chunked", POST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    one("te-chunked-upper", POST + b"Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    one("te-chunked-tab", POST + b"Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    one("chunk-extension", POST + b"Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\n\r\n"),
    one("te-underscore-is-not-te", POST + b"Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"),
    one("cl-underscore-is-not-cl", POST + b"Content_Length: 47\r\nContent-Length: 5\r\n\r\nhello"),
    one("expect-100-continue", POST + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"),
    one(
        "get-body-holds-a-request",
        b"GET /customer/public/a HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED,
        body=SMUGGLED,
        method="GET",
    ),
    one("leading-crlf", b"\r\nGET /customer/public/a HTTP/1.1\r\n" + H + b"\r\n", body=b"", method="GET"),
    # a second request on the connection is a request of its own, authorized on its own
    Raw(
        "pipelined-both-public",
        b"GET /customer/public/one HTTP/1.1\r\n" + H + b"\r\nGET /customer/public/two HTTP/1.1\r\n" + H + b"\r\n",
        200,
        (("GET", "/public/one", b""), ("GET", "/public/two", b"")),
        (200, 200),
    ),
    Raw(
        "pipelined-second-needs-auth",
        b"GET /customer/public/a HTTP/1.1\r\n" + H + b"\r\nGET /customer/echo/smuggled HTTP/1.1\r\n" + H + b"\r\n",
        200,
        (("GET", "/public/a", b""),),
        (200, 401),
    ),
    Raw(
        "cl0-then-request-needs-auth",
        POST + b"Content-Length: 0\r\n\r\nGET /customer/echo/smuggled HTTP/1.1\r\n" + H + b"\r\n",
        200,
        (("POST", "/public/a", b""),),
        (200, 401),
    ),
    Raw(
        "chunked-then-request-needs-auth",
        POST + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /customer/echo/smuggled HTTP/1.1\r\n" + H + b"\r\n",
        200,
        (("POST", "/public/a", b""),),
        (200, 401),
    ),
]


@pytest.mark.parametrize("case", SMUGGLING, ids=[c.id for c in SMUGGLING])
def test_smuggling(sec: Sec, case: Raw) -> None:
    sec.clear()
    replies = exchange_all(sec.url, case.data, timeout=5)
    assert replies, f"{case.id}: no response"
    check_status(replies[0], case.status, case.id)
    if case.statuses is not None:
        assert tuple(r.status for r in replies) == case.statuses, [r.status for r in replies]
    time.sleep(0.05)
    seen = sec.recorded()
    assert [(r["method"], r["target"], r["body"]) for r in seen] == list(case.upstream), case.id
    for got in seen:
        assert b"smuggled" not in got["target"].encode() and "smuggled" not in got["target"]
        check_upstream(Expect(got["target"], got["method"], identity=ANONYMOUS), [got], upstream_host(sec), case.id)


WS = [
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
]
H2C = [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]

UPGRADES = [
    ("h2c-on-http-route", "GET", "/customer/echo/u", "alice", H2C, 400),
    ("h2c-anonymous-route", "GET", "/customer/public/u", None, H2C, 400),
    ("h2c-post", "POST", "/customer/public/u", None, H2C, 400),
    ("upgrade-h2c-no-connection", "GET", "/customer/public/u", None, [("Upgrade", "h2c")], 400),
    ("upgrade-websocket-no-connection", "GET", "/customer/echo/u", "alice", [("Upgrade", "websocket")], 400),
    ("upgrade-tls", "GET", "/customer/public/u", None, [("Connection", "Upgrade"), ("Upgrade", "TLS/1.2")], 400),
    ("upgrade-underscore", "GET", "/customer/public/u", None, [("Upgrade_", "x"), ("X_Upgrade", "h2c")], 200),
    ("websocket-non-websocket-route", "GET", "/customer/echo/u", "alice", WS, 403),
    ("websocket-anonymous-route", "GET", "/customer/public/u", None, WS, 403),
    ("websocket-unauthenticated", "GET", "/customer/ws/u", None, WS, 403),
    ("websocket-wrong-tenant", "GET", "/dealer/ws/u", "alice", WS, 403),
    # the allowed route's upstream (the recorder) speaks no websocket: the handshake fails
    # closed, 502 (the upstream failed it: a fault, not a refusal of the caller)
    ("websocket-allowed-route", "GET", "/customer/ws/u", "alice", WS, 502),
]


@pytest.mark.parametrize("case", UPGRADES, ids=[c[0] for c in UPGRADES])
def test_upgrades(sec: Sec, case: tuple[str, str, str, str | None, list[tuple[str, str]], int]) -> None:
    case_id, method, target, who, headers, status = case
    data = build(method, target, [("Host", "gw.test"), *sec.auth(who), *headers])
    sec.clear()
    response = exchange(sec.url, data)
    assert response.status == status, (case_id, response.status, response.body[:200])
    assert response.header("upgrade") is None, "the gateway never switches protocols"
    time.sleep(0.05)
    seen = sec.recorded()
    if status == 200:
        path = target.removeprefix("/customer")
        check_upstream(Expect(path, identity=ANONYMOUS, absent=("upgrade",)), seen, upstream_host(sec), case_id)
    else:
        assert seen == [], f"{case_id}: forwarded {seen}"


EXHAUSTION = [
    ("header-20k", [("X-Big", "a" * 20_000)], 431),
    ("header-1m", [("X-Big", "a" * (1 << 20))], 431),
    ("cookie-64k", [("Cookie", "ory_session_customer=" + "a" * 65_536)], 431),
    ("many-cookies", [("Cookie", "; ".join(f"c{i}=v" for i in range(4000)))], 431),
    ("many-headers", [(f"X-H{i}", "v") for i in range(3000)], 431),
    ("authorization-64k", [("Authorization", "Bearer " + "a" * 65_536)], 431),
]


@pytest.mark.parametrize("case", EXHAUSTION, ids=[c[0] for c in EXHAUSTION])
def test_huge_headers(sec: Sec, case: tuple[str, list[tuple[str, str]], int]) -> None:
    case_id, headers, status = case
    sec.clear()
    response = exchange(sec.url, build("GET", "/customer/public/x", [("Host", "gw.test"), *headers]), timeout=10)
    assert response.status == status, (case_id, response.status, response.body[:200])
    time.sleep(0.05)
    assert sec.recorded() == []


def test_long_request_target(sec: Sec) -> None:
    sec.clear()
    response = exchange(sec.url, build("GET", "/customer/public/" + "a" * 100_000, [("Host", "gw.test")]))
    assert response.status in (400, 414, 431)
    assert sec.recorded() == []


def _trigger(sec: Sec, headers: list[tuple[str, str]], body: bytes) -> int:
    data = build(
        "POST",
        "/customer/api/durably/trigger",
        [("Host", "gw.test"), *sec.auth("alice"), ("Content-Type", "application/json"), *headers],
        body,
        content_length=False,
    )
    sec.world.durably.recorder.clear()
    return exchange(sec.url, data, timeout=20).status


def test_huge_declared_body_on_inspected_route_is_413_before_reading(sec: Sec) -> None:
    # 2 MiB announced, 1 KiB sent: the gateway answers from the declaration alone
    assert _trigger(sec, [("Content-Length", str(2 << 20))], b"{" + b" " * 1023) == 413
    assert sec.world.durably.recorder.requests() == []


def test_huge_chunked_body_on_inspected_route_is_413(sec: Sec) -> None:
    chunk = b" " * 65_536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"  # 1.25 MiB
    assert _trigger(sec, [("Transfer-Encoding", "chunked")], body) == 413
    assert sec.world.durably.recorder.requests() == []


def test_slow_headers_are_cut_off(sec: Sec) -> None:
    """GATEWAY_HEADER_TIMEOUT is 2 s on the security gateway: a head trickling in one
    header per 0.5 s is answered 408 (or the connection closed) within the bound."""
    sec.clear()
    outcome = slow_headers(sec.url, b"GET /customer/public/slow HTTP/1.1\r\nHost: gw.test\r\n", wait=6.0)
    assert outcome.closed_after is not None, "the gateway waited for slow headers for 6 s (no header timeout)"
    assert outcome.closed_after < 2 + 1.5
    assert outcome.response is None or outcome.response.status == 408
    assert sec.recorded() == []


def test_idle_connection_is_closed(sec: Sec) -> None:
    """A connection that never sends a byte is closed within the header timeout too."""
    started = time.monotonic()
    with socket.create_connection(address(sec.url), timeout=6) as sock:
        try:
            data = sock.recv(1024)
        except TimeoutError:
            data = None
    assert data is not None, "an idle connection was kept open for 6 s"
    assert time.monotonic() - started < 2 + 1.5


def test_http11_without_host_is_refused_and_nothing_forwarded(sec: Sec) -> None:
    """RFC 9112 section 3.2: which tenant a request is for is never a guess."""
    sec.clear()
    replies = exchange_all(sec.url, b"GET /customer/echo/a HTTP/1.1\r\nConnection: close\r\n\r\n", timeout=5)
    assert [r.status for r in replies] == [400]
    assert sec.recorded() == []
