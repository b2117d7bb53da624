"""Fault injection against real processes: Ory, the upstream and Redis misbehave; the gateway
fails closed, never forwards on an outage, recovers, and leaks no connections.

Ory faults go through the emulator's fault API; upstream faults through
tests/robustness/faulty_upstream.py (the path picks the misbehaviour); Redis is a real
redis-server started, killed and restarted here.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from tests.robustness.conftest import Backends
from tests.robustness.support import robust_env, robust_gateway, socket_count, socket_peers
from tests.support.polling import eventually, poll
from tests.support.processes import Proc, free_port, redis_process
from tests.support.rawhttp import raw_request
from tests.support.seed import CLIENTS, PASSWORDS, client_token, login

#: in the "serial" group under pytest-xdist (tests/conftest.py): bounds of a second or so on fault answers
pytestmark = pytest.mark.xdist_group("serial")

ORY_TIMEOUT = "0.5"  # the tenants' Ory timeout; the delay fault waits longer


@pytest.fixture(scope="module")
def gateway(backends: Backends) -> Iterator[Proc]:
    env = robust_env(
        backends.emulator.base_url,
        "http://127.0.0.1:9",
        backends.rec.url,
        backends.faulty.url,
        GATEWAY_TENANT_CUSTOMER_TIMEOUT=ORY_TIMEOUT,
        GATEWAY_TENANT_DEALER_TIMEOUT=ORY_TIMEOUT,
    )
    with robust_gateway(env) as proc:
        yield proc


def fresh_credential(backends: Backends, who: str) -> str:
    """A credential the gateway has never seen (so its decision cache cannot answer)."""
    if who in CLIENTS:
        tenant, secret = CLIENTS[who]
        return client_token(backends.emulator.base_url, tenant, who, secret, "inventory:read")
    return login(backends.emulator.base_url, *PASSWORDS[who])


def get(proc: Proc, target: str, token: str | None = None, timeout: float = 10.0) -> Any:
    headers = [] if token is None else [(b"Authorization", f"Bearer {token}".encode())]
    return raw_request(proc.url, "GET", target.encode(), headers, timeout=timeout)


@pytest.fixture
def baseline(gateway: Proc, backends: Backends) -> Iterator[int]:
    """The gateway's open sockets with warm pools; afterwards: back near it (no leak)."""
    get(gateway, "/customer/p/warm")
    get(gateway, "/customer/h/warm", backends.token("alice"))
    start = socket_count(gateway.process.pid)
    yield start
    backends.faults("DELETE")
    pid = gateway.process.pid
    if not poll(lambda: socket_count(pid) <= start + 4, timeout=3):
        # httpx closes idle Ory connections lazily: past their keep-alive expiry (5 s), on next use
        time.sleep(5.5)
        assert get(gateway, "/customer/h/warm", fresh_credential(backends, "alice")).status == 200
    eventually(lambda: socket_count(pid) <= start + 4, timeout=10, what=lambda: (start, socket_peers(pid)))


ORY_FAULTS = [
    pytest.param({"mode": "delay", "seconds": 1.5}, 503, id="slow"),
    pytest.param({"mode": "drop"}, 503, id="drop"),
    pytest.param({"mode": "status", "status": 500}, 503, id="500"),
    pytest.param({"mode": "status", "status": 502}, 503, id="502"),
    pytest.param({"mode": "status", "status": 429, "seconds": 7}, 429, id="429"),
    pytest.param({"mode": "garbage"}, 503, id="garbage"),
]
CALLERS = [
    pytest.param("alice", "whoami", "/customer/h/x", "org-acme", id="session"),
    pytest.param("partner-inventory", "introspect", "/dealer/h/x", "org-partner", id="token"),
]


@pytest.mark.parametrize(("fault", "status"), ORY_FAULTS)
@pytest.mark.parametrize(("who", "operation", "target", "org"), CALLERS)
def test_ory_outage_fails_closed_then_recovers(
    gateway: Proc,
    backends: Backends,
    baseline: int,
    fault: dict[str, Any],
    status: int,
    who: str,
    operation: str,
    target: str,
    org: str,
) -> None:
    token = fresh_credential(backends, who)
    backends.faulty.clear()
    backends.faults("POST", operation=operation, **fault)
    started = time.monotonic()
    resp = get(gateway, target, token)
    elapsed = time.monotonic() - started
    assert resp.status == status, resp.body
    retry = resp.header("retry-after")
    assert retry is not None and retry.isdigit() and int(retry) >= 1
    if status == 429:
        assert retry == "7"  # Ory's own Retry-After is passed on
    assert backends.faulty.requests() == []  # never forwarded
    assert elapsed < 1.4, elapsed  # the tenant timeout (0.5 s) bounds a slow Ory
    backends.faults("DELETE")
    resp = get(gateway, target, token)  # the failure was not cached
    assert resp.status == 200, resp.body
    assert [r["target"] for r in backends.faulty.requests()] == ["/h/x"]
    assert b'"org": "' + org.encode() + b'"' in resp.body


def test_ory_outage_under_concurrency(gateway: Proc, backends: Backends, baseline: int) -> None:
    """Forty callers during a slow Ory: all 503 within the timeout, none forwarded, no sockets left."""
    tokens = [fresh_credential(backends, "bob") for _ in range(8)]
    backends.faulty.clear()
    backends.faults("POST", operation="whoami", mode="delay", seconds=2)
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda i: get(gateway, "/customer/h/y", tokens[i % 8]).status, range(40)))
    assert statuses == [503] * 40
    assert backends.faulty.requests() == []
    backends.faults("DELETE")
    assert get(gateway, "/customer/h/y", tokens[0]).status == 200


# --- the upstream misbehaves -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "status", "error"),
    [
        ("/customer/f/slow/2", 504, b"upstream_timeout"),  # the route's timeout is 0.5 s
        ("/customer/f/reset", 502, b"bad_gateway"),
        ("/customer/f/midreset", 502, b"bad_gateway"),
        ("/customer/f/garbage", 502, b"bad_gateway"),
    ],
)
def test_upstream_faults_are_gateway_errors(
    gateway: Proc, baseline: int, target: str, status: int, error: bytes
) -> None:
    started = time.monotonic()
    resp = get(gateway, target)
    assert (resp.status, resp.complete) == (status, True)
    assert error in resp.body
    assert time.monotonic() - started < 1.5
    assert get(gateway, "/customer/f/ok").status == 200  # the pool is healthy afterwards


def test_slow_upstream_under_concurrency(gateway: Proc, backends: Backends, baseline: int) -> None:
    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(lambda _: get(gateway, "/customer/f/slow/3").status, range(30)))
    assert statuses == [504] * 30
    # the gateway dropped its side of every timed-out upstream connection
    eventually(lambda: backends.faulty.stats()["open"] <= 2, timeout=10, what=backends.faulty.stats)


@pytest.mark.parametrize("kind", ["eof", "chunked"])
def test_half_closed_sse_ends_cleanly(gateway: Proc, baseline: int, kind: str) -> None:
    """The upstream half-closes (FIN) after three events: the client gets them and a well-framed end."""
    resp = get(gateway, f"/customer/sse/sse/{kind}/3")
    assert (resp.status, resp.complete) == (200, True)
    assert resp.body == b"".join(f'id: {n}\ndata: {{"n": {n}}}\n\n'.encode() for n in range(3))


def test_client_leaving_a_stream_closes_the_upstream(gateway: Proc, backends: Backends, baseline: int) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    eventually(lambda: backends.faulty.stats()["open"] <= 2, what=backends.faulty.stats)
    before = backends.faulty.stats()["open"]
    clients = []
    for _ in range(10):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(b"GET /customer/sse/sse/forever HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        clients.append(sock)
    eventually(lambda: backends.faulty.stats()["open"] >= 10, what=backends.faulty.stats)
    for sock in clients:
        sock.close()
    eventually(lambda: backends.faulty.stats()["open"] <= before, timeout=10, what=backends.faulty.stats)


# --- Redis goes away ------------------------------------------------------------------------------


def _answers_correctly(gateway: Proc, backends: Backends) -> None:
    """Fresh credentials (cache misses: the shared cache is consulted) get the right answers, fast."""
    started = time.monotonic()
    alice, carol = fresh_credential(backends, "alice"), fresh_credential(backends, "carol")
    assert get(gateway, "/customer/h/r", alice).status == 200
    assert get(gateway, "/customer/h/r", alice).status == 200  # now from the local cache
    assert (
        raw_request(
            gateway.url, "POST", b"/customer/w/r", [(b"Authorization", f"Bearer {carol}".encode())], b"{}"
        ).status
        == 403
    )
    assert get(gateway, "/customer/h/r", "ory_st_not_a_session").status == 401
    assert get(gateway, "/customer/h/r").status == 401
    assert get(gateway, "/dealer/h/r", alice).status == 401  # another tenant's session
    assert time.monotonic() - started < 8


def test_redis_going_away(backends: Backends) -> None:
    port = free_port()
    env = robust_env(
        backends.emulator.base_url,
        "http://127.0.0.1:9",
        backends.rec.url,
        backends.faulty.url,
        GATEWAY_REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )
    with robust_gateway(env) as gateway:
        _answers_correctly(gateway, backends)  # Redis not there yet: start and serve without it
        with redis_process(port):
            time.sleep(1.1)  # the back-off after the failures above
            _answers_correctly(gateway, backends)
            assert list(redis.Redis(port=port).scan_iter("gateway:dc:*"))  # Redis was used
        _answers_correctly(gateway, backends)  # killed mid-flight: carries on without it
        with redis_process(port):
            time.sleep(1.1)
            _answers_correctly(gateway, backends)  # and picks it up again
        baseline = socket_count(gateway.process.pid)
        for _ in range(3):
            _answers_correctly(gateway, backends)
        assert socket_count(gateway.process.pid) <= baseline + 4
