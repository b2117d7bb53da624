"""Limits, timeouts, streaming and long-lived streams, on a second gateway process with
small limits and extra routes (temp policies dir) in front of the same world."""

from __future__ import annotations

import hashlib
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.rawupstream import RawUpstream
from tests.support.jobs import JOBS, SseStream
from tests.support.polling import eventually
from tests.support.processes import Proc, free_port, gateway_process, header_values
from tests.support.world import Auth, World

ROOT = Path(__file__).resolve().parents[2]
MAX_BODY = 2048
MAX_STREAMS = 2
RECHECK = 0.5
MAX_TTL = 0.5
EDGE_POLICY = """
tenants: [customer, dealer]
routes:
  - id: echo
    path: /echo/**
    methods: ["*"]
    allow: {human: {}, machine: {}}
    forward: {upstream: rec}
  - id: big
    path: /big/**
    methods: [GET]
    allow: {human: {}}
    forward: {upstream: rec}
  - id: raw-sse
    path: /sse/**
    methods: [GET]
    allow: {human: {roles: {any: [member]}}}
    forward: {upstream: raw, path_prefix: /sse}
    stream: true
    idle_timeout: 30
  - id: raw-sse-idle
    path: /sse-idle
    methods: [GET]
    allow: {human: {}}
    forward: {upstream: raw}
    stream: true
    idle_timeout: 30
  - id: never
    path: /never
    methods: [GET]
    allow: {human: {}}
    forward: {upstream: raw}
    timeout: 1
  - id: dead
    path: /dead
    methods: [GET]
    allow: {human: {}}
    forward: {upstream: dead}
"""


class Edge:
    def __init__(self, proc: Proc, raw: RawUpstream) -> None:
        self.proc, self.raw = proc, raw

    @property
    def url(self) -> str:
        return self.proc.url

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15, **kw)


@pytest.fixture(scope="module")
def edge(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    policies = tmp_path_factory.mktemp("edge-policies")
    shutil.copy(ROOT / "policies" / "jobs.yaml", policies / "jobs.yaml")
    (policies / "edge.yaml").write_text(EDGE_POLICY)
    raw = RawUpstream()
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_LISTEN"}
    env |= {
        "GATEWAY_POLICIES_DIR": str(policies),
        "GATEWAY_UPSTREAM_REC_URL": world.inventory.url,
        "GATEWAY_UPSTREAM_RAW_URL": raw.url,
        "GATEWAY_UPSTREAM_DEAD_URL": f"http://127.0.0.1:{free_port()}",
        "GATEWAY_MAX_BODY_BYTES": str(MAX_BODY),
        "GATEWAY_MAX_STREAMS": str(MAX_STREAMS),
        # one person opens them all: the process cap is what is tested here (shares: test_isolation)
        "GATEWAY_MAX_STREAMS_PER_TENANT": str(MAX_STREAMS),
        "GATEWAY_MAX_STREAMS_PER_PRINCIPAL": str(MAX_STREAMS),
        "GATEWAY_STREAM_RECHECK_SECONDS": str(RECHECK),
        "GATEWAY_CACHE_MAX_TTL": str(MAX_TTL),
    }
    try:
        with gateway_process(env) as proc:
            yield Edge(proc, raw)
    finally:
        raw.close()


def assert_json_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["error"] == code


# --- upstream failures ------------------------------------------------------------------


def test_upstream_connect_error_is_502_json(edge: Edge, auth: Auth) -> None:
    with edge.client() as http:
        assert_json_error(http.get("/customer/dead", headers=auth("alice")), 502, "bad_gateway")


def test_upstream_timeout_is_504_json(edge: Edge, auth: Auth) -> None:
    with edge.client() as http:
        started = time.monotonic()
        resp = http.get("/customer/never", headers=auth("alice"))
        elapsed = time.monotonic() - started
    assert_json_error(resp, 504, "upstream_timeout")
    assert 0.9 <= elapsed < 5, elapsed
    assert "/never" in edge.raw.targets


# --- bodies -----------------------------------------------------------------------------


def test_inspected_body_over_the_limit_is_413_before_the_body_is_read(world: World, edge: Edge, auth: Auth) -> None:
    world.durably.recorder.clear()
    host = edge.url.removeprefix("http://")
    h, p = host.split(":")
    token = auth("alice")["Authorization"]
    with socket.create_connection((h, int(p)), timeout=5) as sock:
        sock.sendall(
            f"POST /customer{JOBS}/trigger HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{".encode()
        )  # 50 MB announced, one byte sent: the answer must not wait for the rest
        answer = b""
        while b"payload_too_large" not in answer and (more := sock.recv(65536)):
            answer += more
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"payload_too_large" in answer
    assert world.durably.recorder.requests() == []


@pytest.mark.parametrize("chunked", [False, True])
def test_inspected_body_just_over_the_limit_is_413(world: World, edge: Edge, auth: Auth, chunked: bool) -> None:
    world.durably.recorder.clear()
    body = b'{"jobName":"echo","input":{"pad":"' + b"x" * MAX_BODY + b'"}}'
    content: Any = iter([body[:100], body[100:]]) if chunked else body
    with edge.client() as http:
        resp = http.post(
            f"/customer{JOBS}/trigger", content=content, headers={**auth("alice"), "Content-Type": "application/json"}
        )
    assert_json_error(resp, 413, "payload_too_large")
    assert world.durably.recorder.requests() == []
    with edge.client() as http:  # under the limit the same route works
        ok = http.post(f"/customer{JOBS}/trigger", json={"jobName": "echo", "input": {}}, headers=auth("alice"))
    assert ok.status_code == 200, ok.text


def test_large_upload_streams_to_the_upstream_intact(world: World, edge: Edge, auth: Auth) -> None:
    world.inventory.clear()
    payload = hashlib.sha256(b"seed").digest() * (5 * 1024 * 1024 // 32)  # 5 MiB, far over MAX_BODY
    with edge.client() as http:
        resp = http.post(
            "/customer/echo/upload",
            content=payload,
            headers={**auth("alice"), "Content-Type": "application/octet-stream"},
        )
    assert resp.status_code == 200, resp.text
    [got] = world.inventory.requests()
    assert got["target"] == "/echo/upload"
    assert len(got["body"]) == len(payload) and got["body"] == payload
    # streamed: the gateway framed it itself (chunked), it did not buffer it to learn a length
    assert header_values(got, "transfer-encoding") == ["chunked"]
    assert header_values(got, "content-length") == []


def test_large_download_streams_to_the_client(edge: Edge, auth: Auth) -> None:
    size = 5 * 1024 * 1024 + 7
    digest = hashlib.sha256()
    received = 0
    with edge.client() as http, http.stream("GET", f"/customer/big/{size}", headers=auth("alice")) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/octet-stream"
        for chunk in resp.iter_raw():
            digest.update(chunk)
            received += len(chunk)
    expected = hashlib.sha256(((b"0123456789" * 6554) * (size // 65540 + 1))[:size]).hexdigest()
    assert received == size and digest.hexdigest() == expected


# --- long-lived streams -----------------------------------------------------------------


def test_stream_limit_is_503_with_retry_after_and_a_closed_client_frees_its_slot(edge: Edge, auth: Auth) -> None:
    eventually(lambda: edge.raw.open_streams == 0, what="no stream left from earlier tests")
    streams = [SseStream(edge.url, "/customer/sse-idle", auth("alice")) for _ in range(MAX_STREAMS)]
    try:
        assert [s.status for s in streams] == [200] * MAX_STREAMS
        eventually(lambda: edge.raw.open_streams == MAX_STREAMS, what="upstream streams open")
        before = len(edge.raw.targets)
        with edge.client() as http:
            refused = http.get("/customer/sse-idle", headers=auth("alice"))
        assert_json_error(refused, 503, "too_many_streams")
        assert int(refused.headers["retry-after"]) >= 1
        assert len(edge.raw.targets) == before  # the refused stream never reached the upstream
        # an idle stream whose client goes away releases its upstream connection and its slot
        streams.pop().close()
        eventually(lambda: edge.raw.open_streams == MAX_STREAMS - 1, timeout=5, what="upstream connection released")
        streams.append(SseStream(edge.url, "/customer/sse-idle", auth("alice")))
        assert streams[-1].status == 200
    finally:
        for s in streams:
            s.close()
    eventually(lambda: edge.raw.open_streams == 0, timeout=5, what="every upstream stream closed")


def test_stream_is_closed_within_the_recheck_interval_after_the_session_is_revoked(world: World, edge: Edge) -> None:
    eventually(lambda: edge.raw.open_streams == 0, what="no stream left from earlier tests")
    token = world.session("alice")  # her own session: revoking it touches no other test
    headers = {"Authorization": f"Bearer {token}"}
    with SseStream(edge.url, "/customer/sse/ticks", headers) as stream:
        assert stream.status == 200
        # a valid principal survives several re-checks
        first = stream.next()
        time.sleep(4 * RECHECK)
        assert not stream.ended.is_set()
        assert stream.drain()[-1]["n"] > first["n"]
        revoked = httpx.request(
            "DELETE", f"{world.emulator.base_url}/customer/self-service/logout/api", json={"session_token": token}
        )
        assert revoked.status_code == 204
        started = time.monotonic()
        assert stream.ended.wait(RECHECK + MAX_TTL + 3), "the stream outlived the re-check bound"
        took = time.monotonic() - started
    assert took <= RECHECK + MAX_TTL + 2, took
    eventually(lambda: edge.raw.open_streams == 0, timeout=5, what="upstream connection released")
    with edge.client() as http:
        assert http.get("/customer/sse/ticks", headers=headers).status_code == 401


def test_durably_subscription_is_closed_after_revocation_and_never_leaks(world: World, edge: Edge, auth: Auth) -> None:
    token = world.session("alice")
    headers = {"Authorization": f"Bearer {token}"}
    with SseStream(edge.url, f"/customer{JOBS}/runs/subscribe", headers) as stream, edge.client() as http:
        assert stream.status == 200
        bob = http.post(f"/customer{JOBS}/trigger", json={"jobName": "echo", "input": {}}, headers=auth("bob"))
        mine = http.post(f"/customer{JOBS}/trigger", json={"jobName": "echo", "input": {}}, headers=headers)
        assert bob.status_code == mine.status_code == 200
        stream.until(lambda e: e.get("type") == "run:complete" and e["runId"] == mine.json()["runId"])
        logout = f"{world.emulator.base_url}/customer/self-service/logout/api"
        assert httpx.request("DELETE", logout, json={"session_token": token}).status_code == 204
        assert stream.ended.wait(RECHECK + MAX_TTL + 3)
        assert {e["runId"] for e in stream.drain()} == {mine.json()["runId"]}
