"""WebSockets: authorized at the handshake, only where the route allows them, re-checked while open."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.processes import Proc, free_port, websocket_gateway
from tests.support.world import World

WS_POLICY = """
tenant: dealer
routes:
  - id: live
    path: /live/**
    methods: [GET]
    allow:
      machine: {scopes: {any: ["inventory:read"]}}
    forward: {upstream: live}
    websocket: true
    idle_timeout: 60
  - id: dead
    path: /dead/**
    methods: [GET]
    allow:
      machine: {scopes: {any: ["inventory:read"]}}
    forward: {upstream: dead}
    websocket: true
  - id: not-live
    path: /plain/**
    methods: [GET]
    allow:
      machine: {scopes: {any: ["inventory:read"]}}
    forward: {upstream: live}
"""


@pytest.fixture(scope="module")
def ws_gateway(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    env = {
        "GATEWAY_UPSTREAM_DEAD_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens there
        "GATEWAY_STREAM_RECHECK_SECONDS": "0.5",
        "GATEWAY_CACHE_MAX_TTL": "1",
    }
    with websocket_gateway(world.env, tmp_path_factory.mktemp("policies"), WS_POLICY, env) as proc:
        yield proc


def _ws_url(proc: Proc, path: str) -> str:
    return proc.url.replace("http://", "ws://") + path


def test_allowed_route_proxies_frames_with_identity_headers(world: World, ws_gateway: Proc) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    headers = {"Authorization": f"Bearer {token}", "X-Org-Id": "org-spoofed"}
    with connect(_ws_url(ws_gateway, "/dealer/live/feed?x=1"), additional_headers=headers) as ws:
        hello = json.loads(ws.recv(timeout=5))
        ws.send("ping")
        assert ws.recv(timeout=5) == "echo:ping"
    assert hello["path"] == "/live/feed?x=1"
    assert hello["headers"]["x-org-id"] == "org-partner"
    assert hello["headers"]["x-client-id"] == "partner-inventory"
    assert "authorization" not in hello["headers"]


def test_the_upstream_handshake_carries_the_gateways_traceparent(world: World, ws_gateway: Proc) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = {"Authorization": f"Bearer {token}", "traceparent": caller, "tracestate": "vendor=1"}
    with connect(_ws_url(ws_gateway, "/dealer/live/feed"), additional_headers=headers) as ws:
        hello = json.loads(ws.recv(timeout=5))
    version, trace_id, parent, flags = hello["headers"]["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")  # the caller's trace
    assert parent != "00f067aa0ba902b7" and len(parent) == 16  # the gateway's span is the parent
    assert hello["headers"]["tracestate"] == "vendor=1"


def test_unauthenticated_handshake_is_refused(ws_gateway: Proc) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(_ws_url(ws_gateway, "/dealer/live/feed"), open_timeout=5)
    assert refused.value.response.status_code == 403


def test_ory_down_at_the_handshake_is_503_with_retry_after_not_a_refusal(
    world: World, ws_gateway: Proc, faults: Any
) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")  # fresh: no cached decision
    faults(project="dealer", mode="status", status=500)
    with pytest.raises(InvalidStatus) as refused:
        connect(_ws_url(ws_gateway, "/dealer/live/feed"), additional_headers={"Authorization": f"Bearer {token}"})
    response = refused.value.response
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert json.loads(response.body or b"")["error"] == "ory_unavailable"


def test_unreachable_upstream_at_the_handshake_is_502(world: World, ws_gateway: Proc) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    with pytest.raises(InvalidStatus) as refused:
        connect(_ws_url(ws_gateway, "/dealer/dead/feed"), additional_headers={"Authorization": f"Bearer {token}"})
    assert refused.value.response.status_code == 502
    assert json.loads(refused.value.response.body or b"")["error"] == "bad_gateway"


def test_route_without_websocket_refuses_the_upgrade(world: World, ws_gateway: Proc) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    with pytest.raises(InvalidStatus) as refused:
        connect(_ws_url(ws_gateway, "/dealer/plain/feed"), additional_headers={"Authorization": f"Bearer {token}"})
    assert refused.value.response.status_code == 403


def test_revoked_token_closes_the_open_socket_within_the_recheck_bound(world: World, ws_gateway: Proc) -> None:
    token = world.machine_token("partner-inventory", "inventory:read")
    auth = {"Authorization": f"Bearer {token}"}
    with connect(_ws_url(ws_gateway, "/dealer/live/feed"), additional_headers=auth) as ws:
        ws.recv(timeout=5)
        revoke = httpx.post(
            world.emulator.project_url("dealer") + "/oauth2/revoke",
            auth=("partner-inventory", "partner-inventory-secret"),
            data={"token": token},
        )
        assert revoke.status_code == 200
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - started < 10:
                ws.send("still there?")
                ws.recv(timeout=1)
        # cache max TTL 1 s + re-check interval 0.5 s bound the staleness
        assert time.monotonic() - started < 5
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
