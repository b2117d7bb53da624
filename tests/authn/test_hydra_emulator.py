"""Machine authentication (introspection and local JWT) over HTTP against the real emulator."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.config.settings import CacheSettings, Settings
from gateway.errors import InvalidToken
from tests.authn.emulated import bearer, calls, client_token, make
from tests.support.clock import OffsetClock
from tests.support.emulator import RunningEmulator

Env = tuple[RunningEmulator, Settings, httpx.AsyncClient, OffsetClock]


@pytest.fixture
def env(emu: RunningEmulator, settings: Settings, http: httpx.AsyncClient, wall: OffsetClock) -> Env:
    return emu, settings, http, wall


async def svc_token(env: Env, client: str = "alpha-svc", secret: str = "alpha-secret-1", audience: str = "") -> str:
    emu, _, http, _ = env
    return await client_token(http, emu.project_url("alpha"), client, secret, "jobs:read", audience)


async def test_opaque_token_introspected_with_client_org(env: Env) -> None:
    emu, settings, http, wall = env
    token = await svc_token(env)
    assert token.startswith("ory_at_")
    auth = make(settings.tenants["alpha"], http, wall)
    p = await auth.authenticate(bearer(token), ["human", "machine"])
    assert (p.kind, p.subject, p.client_id, p.organization) == (
        "machine",
        "alpha-svc",
        "alpha-svc",
        "org-alpha-m",
    )
    assert p.scopes == frozenset({"jobs:read"}) and "jobs:read" in p.effective_roles
    second = await svc_token(env)
    assert (await auth.authenticate(bearer(second), ["machine"])).organization == "org-alpha-m"
    assert calls(emu, "alpha", "introspect") == 2 and calls(emu, "alpha", "get_client") == 1
    assert calls(emu, "alpha", "whoami") == 0  # a Hydra token never goes to Kratos


async def test_client_without_org(env: Env) -> None:
    _, settings, http, wall = env
    token = await svc_token(env, "alpha-orphan", "alpha-secret-3")
    p = await make(settings.tenants["alpha"], http, wall).authenticate(bearer(token), ["machine"])
    assert p.organization is None


async def test_jwt_verified_locally(env: Env) -> None:
    emu, settings, http, wall = env
    token = await svc_token(env, "alpha-jwt", "alpha-secret-2", "gw-alpha")
    assert token.count(".") == 2
    auth = make(settings.tenants["alpha"], http, wall, jwt_audience="gw-alpha")
    p = await auth.authenticate(bearer(token), ["machine"])
    assert (p.client_id, p.organization, p.scopes) == ("alpha-jwt", "org-ext", frozenset({"jobs:read"}))
    assert calls(emu, "alpha", "introspect") == 0 and calls(emu, "alpha", "jwks") == 1


async def test_jwt_introspected_when_configured(env: Env) -> None:
    emu, settings, http, wall = env
    token = await svc_token(env, "alpha-jwt", "alpha-secret-2")
    p = await make(settings.tenants["alpha"], http, wall, token_format="introspect").authenticate(
        bearer(token), ["machine"]
    )
    assert p.organization == "org-ext"
    assert calls(emu, "alpha", "introspect") == 1 and calls(emu, "alpha", "jwks") == 0


async def test_opaque_refused_when_jwt_only(env: Env) -> None:
    emu, settings, http, wall = env
    token = await svc_token(env)
    with pytest.raises(InvalidToken) as err:
        await make(settings.tenants["alpha"], http, wall, token_format="jwt").authenticate(bearer(token), ["machine"])
    assert err.value.reason == "opaque_token_not_accepted" and calls(emu, "alpha", "introspect") == 0


async def test_revoked_token_bounded_then_refused(env: Env) -> None:
    emu, settings, http, wall = env
    token = await svc_token(env)
    auth = make(settings.tenants["alpha"], http, wall, CacheSettings(max_ttl=30))
    await auth.authenticate(bearer(token), ["machine"])
    revoked = await http.post(
        f"{emu.project_url('alpha')}/oauth2/revoke",
        data={"token": token},
        auth=("alpha-svc", "alpha-secret-1"),
    )
    assert revoked.status_code == 200
    await auth.authenticate(bearer(token), ["machine"])
    wall.advance(31)
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(token), ["machine"])
    assert err.value.reason == "token_inactive" and calls(emu, "alpha", "introspect") == 2
    assert auth.evict_credential(token) == 1  # the negative entry


async def test_expired_tokens(env: Env) -> None:
    emu, settings, http, wall = env
    opaque = await svc_token(env)
    jwt = await svc_token(env, "alpha-jwt", "alpha-secret-2")
    emu.control("POST", "clock", {"advance": 7200})
    wall.advance(7200)
    auth = make(settings.tenants["alpha"], http, wall)
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(opaque), ["machine"])
    assert err.value.reason == "token_inactive"
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(jwt), ["machine"])
    assert err.value.reason == "token_expired"


async def test_cross_tenant_tokens_refused(env: Env) -> None:
    emu, settings, http, wall = env
    opaque = await svc_token(env)
    jwt = await svc_token(env, "alpha-jwt", "alpha-secret-2")
    beta = make(settings.tenants["beta"], http, wall)
    with pytest.raises(InvalidToken) as err:
        await beta.authenticate(bearer(opaque), ["machine", "human"])
    assert err.value.reason == "token_inactive"
    with pytest.raises(InvalidToken) as err:
        await beta.authenticate(bearer(jwt), ["machine"])
    assert err.value.reason == "jwt_unknown_key"
    assert calls(emu, "beta", "introspect") == 1 and calls(emu, "beta", "jwks") == 1
    assert calls(emu, "alpha", "introspect") == 0 and calls(emu, "beta", "whoami") == 0


async def test_single_flight_introspection(env: Env) -> None:
    emu, settings, http, wall = env
    token = await svc_token(env)
    auth = make(settings.tenants["alpha"], http, wall)
    results = await asyncio.gather(*(auth.authenticate(bearer(token), ["machine"]) for _ in range(100)))
    assert {p.client_id for p in results} == {"alpha-svc"}
    assert calls(emu, "alpha", "introspect") == 1 and calls(emu, "alpha", "get_client") == 1


async def test_single_flight_jwks(env: Env) -> None:
    emu, settings, http, wall = env
    tokens = [await svc_token(env, "alpha-jwt", "alpha-secret-2") for _ in range(5)]
    auth = make(settings.tenants["alpha"], http, wall)
    await asyncio.gather(*(auth.authenticate(bearer(t), ["machine"]) for t in tokens * 20))
    assert calls(emu, "alpha", "jwks") == 1
