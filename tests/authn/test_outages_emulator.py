"""Ory outages fail closed (503 / 429 passed on), are never cached, and recover, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.config.settings import Settings
from gateway.errors import ServiceUnavailable, TooManyRequests
from tests.authn.emulated import bearer, calls, client_token, fault, login_token, make, settings_for
from tests.support.clock import OffsetClock
from tests.support.emulator import RunningEmulator

OUTAGES: list[tuple[dict[str, Any], str]] = [
    ({"mode": "delay", "seconds": 0.9}, "ory_timeout"),
    ({"mode": "status", "status": 500}, "ory_error"),
    ({"mode": "status", "status": 503}, "ory_error"),
    ({"mode": "garbage"}, "ory_garbage"),
    ({"mode": "drop"}, "ory_unreachable"),
]


@pytest.mark.parametrize(("spec", "reason"), OUTAGES, ids=[s["mode"] + str(s.get("status", "")) for s, _ in OUTAGES])
@pytest.mark.parametrize("operation", ["whoami", "introspect", "jwks", "get_client"])
async def test_outage_is_503_then_recovers(
    emu: RunningEmulator,
    settings: Settings,
    http: httpx.AsyncClient,
    wall: OffsetClock,
    spec: dict[str, Any],
    reason: str,
    operation: str,
) -> None:
    token = await credential(emu, http, operation)
    auth = make(settings.tenants["alpha"], http, wall)
    kinds = ["human"] if operation == "whoami" else ["machine"]
    fault(emu, project="alpha", operation=operation, **spec)
    with pytest.raises(ServiceUnavailable) as err:
        await auth.authenticate(bearer(token), kinds)  # type: ignore[arg-type]
    assert (err.value.status, err.value.reason) == (503, reason)
    assert int(err.value.headers()["retry-after"]) >= 1
    assert calls(emu, "alpha", operation) >= 1
    emu.control("DELETE", "faults")
    p = await auth.authenticate(bearer(token), kinds)  # type: ignore[arg-type]
    assert p.tenant == "alpha"  # the failure was not cached


@pytest.mark.parametrize("operation", ["whoami", "introspect", "jwks"])
async def test_rate_limit_passes_retry_after(
    emu: RunningEmulator, settings: Settings, http: httpx.AsyncClient, wall: OffsetClock, operation: str
) -> None:
    token = await credential(emu, http, operation)
    auth = make(settings.tenants["alpha"], http, wall)
    kinds = ["human"] if operation == "whoami" else ["machine"]
    fault(emu, project="alpha", operation=operation, mode="status", status=429, seconds=7)
    with pytest.raises(TooManyRequests) as err:
        await auth.authenticate(bearer(token), kinds)  # type: ignore[arg-type]
    assert err.value.status == 429 and err.value.headers()["retry-after"] == "7"
    emu.control("DELETE", "faults")
    assert (await auth.authenticate(bearer(token), kinds)).tenant == "alpha"  # type: ignore[arg-type]


async def test_timeout_is_per_tenant(emu: RunningEmulator, http: httpx.AsyncClient, wall: OffsetClock) -> None:
    token, _ = await login_token(http, emu.project_url("alpha"), "ann@alpha.test")
    patient = make(settings_for(emu, timeout=3.0).tenants["alpha"], http, wall)
    fault(emu, project="alpha", operation="whoami", mode="delay", seconds=0.8)
    assert (await patient.authenticate(bearer(token), ["human"])).kind == "human"


async def credential(emu: RunningEmulator, http: httpx.AsyncClient, operation: str) -> str:
    base = emu.project_url("alpha")
    if operation == "whoami":
        return (await login_token(http, base, "ann@alpha.test"))[0]
    if operation == "jwks":
        return await client_token(http, base, "alpha-jwt", "alpha-secret-2", "jobs:read")
    return await client_token(http, base, "alpha-svc", "alpha-secret-1", "jobs:read")
