"""/_emulator/ control endpoints: stats, faults and clock; plus the global --api-key for CLI projects."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.emulator import RunningEmulator

from .kratos_helpers import api_login


def test_stats_count_operations(emu: RunningEmulator, customer: httpx.Client, admin_headers: dict[str, str]) -> None:
    emu.control("POST", "stats/reset")
    customer.get("/sessions/whoami")
    customer.get("/sessions/whoami")
    customer.get("/admin/clients/partner", headers=admin_headers)
    customer.post("/admin/oauth2/introspect", data={"token": "x"}, headers=admin_headers)
    stats = emu.control("GET", "stats").json()
    assert stats["projects"]["customer"] == {"whoami": 2, "get_client": 1, "introspect": 1}
    assert stats["projects"]["dealer"] == {} and stats["total"] == 4
    assert emu.control("POST", "stats/reset").status_code == 204
    assert emu.control("GET", "stats").json()["total"] == 0


def test_fault_status_429_with_rate_limit_headers(emu: RunningEmulator, customer: httpx.Client) -> None:
    created = emu.control(
        "POST",
        "faults",
        {"project": "customer", "operation": "whoami", "mode": "status", "status": 429, "seconds": 7, "count": 1},
    )
    assert created.status_code == 201 and created.json()["id"] >= 1
    limited = customer.get("/sessions/whoami")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7" and limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-ratelimit-limit"] and limited.headers["x-ratelimit-reset"] == "7"
    assert limited.json()["error"]["code"] == 429
    assert customer.get("/sessions/whoami").status_code == 401  # count spent


def test_fault_status_uses_hydra_shape(
    emu: RunningEmulator, customer: httpx.Client, admin_headers: dict[str, str]
) -> None:
    emu.control("POST", "faults", {"operation": "introspect", "mode": "status", "status": 503})
    response = customer.post("/admin/oauth2/introspect", data={"token": "x"}, headers=admin_headers)
    assert response.status_code == 503 and set(response.json()) == {"error", "error_description"}
    assert customer.post("/admin/oauth2/introspect", data={"token": "x"}, headers=admin_headers).status_code == 503
    assert emu.control("DELETE", "faults").status_code == 204
    assert customer.post("/admin/oauth2/introspect", data={"token": "x"}, headers=admin_headers).status_code == 200


def test_fault_garbage_and_drop(emu: RunningEmulator, customer: httpx.Client) -> None:
    emu.control("POST", "faults", {"project": "customer", "path_prefix": "/sessions/", "mode": "garbage", "count": 1})
    garbage = customer.get("/sessions/whoami")
    assert garbage.status_code == 200
    with pytest.raises(ValueError):
        garbage.json()
    emu.control("POST", "faults", {"project": "customer", "operation": "whoami", "mode": "drop", "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        customer.get("/sessions/whoami")
    assert customer.get("/sessions/whoami").status_code == 401


def test_fault_delay(emu: RunningEmulator, customer: httpx.Client) -> None:
    emu.control(
        "POST", "faults", {"project": "customer", "operation": "jwks", "mode": "delay", "seconds": 0.4, "count": 1}
    )
    started = time.monotonic()
    assert customer.get("/.well-known/jwks.json").status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(httpx.ReadTimeout):
        emu.control("POST", "faults", {"operation": "jwks", "mode": "delay", "seconds": 2, "count": 1})
        customer.get("/.well-known/jwks.json", timeout=0.3)


def test_fault_validation(emu: RunningEmulator) -> None:
    for body in (
        {"mode": "explode"},
        {"mode": "status", "status": 999},
        {"mode": "delay", "project": "nope"},
        {"mode": "drop", "count": 0},
    ):
        response = emu.control("POST", "faults", body)
        assert response.status_code == 400, body
    assert emu.control("GET", "faults").json() == []


def test_clock_advance_and_reset(emu: RunningEmulator, customer: httpx.Client) -> None:
    before = emu.control("GET", "clock").json()
    assert before["offset"] == 0
    token = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    moved = emu.control("POST", "clock", {"advance": 86401}).json()
    assert moved["offset"] == 86401 and moved["now_unix"] > before["now_unix"] + 86400
    assert customer.get("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 401
    assert emu.control("POST", "clock", {"advance": "soon"}).status_code == 400
    assert emu.control("DELETE", "clock").json()["offset"] == 0
    assert customer.get("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 200


def test_cli_project_uses_global_api_key(emu: RunningEmulator) -> None:
    base = emu.project_url("plain-project")
    ok = httpx.get(f"{base}/admin/identities", headers={"Authorization": "Bearer ory_pat_emulator"})
    assert ok.status_code == 200 and ok.json() == []
    other = httpx.get(f"{base}/admin/identities", headers={"Authorization": "Bearer ory_pat_customer_test"})
    assert other.status_code == 401
    assert emu.control("GET", "projects").json()["plain-project"]["session_cookie_name"] == "ory_session_plainproject"
