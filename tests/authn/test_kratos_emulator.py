"""Human authentication over HTTP against the real emulator process."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.config.settings import CacheSettings, Settings
from gateway.errors import InvalidToken, Unauthenticated
from gateway.load import load_settings
from tests.authn.emulated import (
    ALPHA_ID,
    API_KEY,
    bearer,
    calls,
    login_cookie,
    login_token,
    make,
    request,
)
from tests.support.clock import OffsetClock
from tests.support.emulator import RunningEmulator

Env = tuple[RunningEmulator, Settings, httpx.AsyncClient, OffsetClock]


@pytest.fixture
def env(emu: RunningEmulator, settings: Settings, http: httpx.AsyncClient, wall: OffsetClock) -> Env:
    return emu, settings, http, wall


async def test_cookie_transport(env: Env) -> None:
    emu, settings, http, wall = env
    name, value, sid = await login_cookie(emu.project_url("alpha"), "ann@alpha.test")
    auth = make(settings.tenants["alpha"], http, wall, transport="cookie")
    p = await auth.authenticate(request(("cookie", f"theme=dark; {name}={value}; lang=en")), ["human"])
    assert (p.kind, p.tenant, p.subject, p.session_id) == ("human", "alpha", ALPHA_ID, sid)
    assert (p.organization, p.roles, p.aal) == ("org-alpha", frozenset({"member", "viewer"}), "aal1")
    assert p.expires_at is not None and p.expires_at > wall()
    assert calls(emu, "alpha", "whoami") == 1
    with pytest.raises(Unauthenticated) as err:
        await auth.authenticate(request(("x-session-token", "ory_st_" + "x" * 32)), ["human"])
    assert err.value.reason == "no_credentials"


@pytest.mark.parametrize("header", ["authorization", "x-session-token"])
async def test_bearer_transport(env: Env, header: str) -> None:
    emu, settings, http, wall = env
    token, sid = await login_token(http, emu.project_url("alpha"), "bob@alpha.test")
    auth = make(settings.tenants["alpha"], http, wall, transport="bearer")
    value = f"Bearer {token}" if header == "authorization" else token
    p = await auth.authenticate(request((header, value)), ["human"])
    assert p.session_id == sid and p.organization == "22222222-2222-4222-8222-222222222222"
    assert p.roles == frozenset()


async def test_cookie_or_bearer_failed_cookie_is_final(env: Env) -> None:
    emu, settings, http, wall = env
    token, _ = await login_token(http, emu.project_url("alpha"), "ann@alpha.test")
    auth = make(settings.tenants["alpha"], http, wall)
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(
            request(("cookie", "ory_kratos_session=forged"), ("authorization", f"Bearer {token}")), ["human"]
        )
    assert err.value.reason == "session_invalid" and calls(emu, "alpha", "whoami") == 1
    assert (await auth.authenticate(bearer(token), ["human"])).subject == ALPHA_ID


async def test_ambiguous_cookie(env: Env) -> None:
    emu, settings, http, wall = env
    name, value, _ = await login_cookie(emu.project_url("alpha"), "ann@alpha.test")
    auth = make(settings.tenants["alpha"], http, wall)
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(request(("cookie", f"{name}={value}; {name}=other")), ["human"])
    assert err.value.reason == "ambiguous_cookie" and calls(emu, "alpha", "whoami") == 0


async def test_cloud_url_derivation_and_cookie_name(env: Env) -> None:
    emu, settings, http, wall = env
    gamma = settings.tenants["gamma"]
    assert gamma.mode == "cloud" and gamma.session_cookie_name == "ory_session_gammacloud"
    assert gamma.kratos_public_url == gamma.hydra_admin_url == emu.project_url("gamma-cloud")
    assert gamma.hydra_admin_token == API_KEY
    name, value, sid = await login_cookie(emu.project_url("gamma-cloud"), "dora@gamma.test")
    assert name == "ory_session_gammacloud"
    p = await make(gamma, http, wall).authenticate(request(("cookie", f"{name}={value}")), ["human"])
    assert (p.tenant, p.session_id, p.organization) == ("gamma", sid, "org-gamma")


def test_self_hosted_and_cloud_defaults(env: Env) -> None:
    _, settings, _, _ = env
    alpha = settings.tenants["alpha"]
    assert alpha.mode == "self-hosted" and alpha.session_cookie_name == "ory_kratos_session"
    assert alpha.hydra_issuer == alpha.hydra_public_url
    cloud = load_settings(
        {
            "GATEWAY_TENANTS": "gamma",
            "GATEWAY_TENANT_GAMMA_MODE": "cloud",
            "GATEWAY_TENANT_GAMMA_PROJECT_SLUG": "gamma-cloud",
            "GATEWAY_TENANT_GAMMA_API_KEY": API_KEY,
        }
    ).tenants["gamma"]
    assert cloud.kratos_public_url == cloud.hydra_admin_url == "https://gamma-cloud.projects.oryapis.com"
    assert cloud.session_cookie_name == "ory_session_gammacloud" and cloud.hydra_admin_token == API_KEY


async def test_revoked_session_bounded_by_max_ttl_then_refused(env: Env) -> None:
    emu, settings, http, wall = env
    token, sid = await login_token(http, emu.project_url("alpha"), "ann@alpha.test")
    auth = make(settings.tenants["alpha"], http, wall, CacheSettings(max_ttl=20))
    await auth.authenticate(bearer(token), ["human"])
    revoked = await http.delete(
        f"{emu.project_url('alpha')}/admin/sessions/{sid}", headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert revoked.status_code == 204
    await auth.authenticate(bearer(token), ["human"])  # cached: staleness bounded by max_ttl
    assert calls(emu, "alpha", "whoami") == 1
    wall.advance(21)
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(bearer(token), ["human"])
    assert err.value.reason == "session_invalid" and calls(emu, "alpha", "whoami") == 2


async def test_revocation_eviction_is_immediate(env: Env) -> None:
    emu, settings, http, wall = env
    token, sid = await login_token(http, emu.project_url("alpha"), "ann@alpha.test")
    auth = make(settings.tenants["alpha"], http, wall)
    await auth.authenticate(bearer(token), ["human"])
    await http.delete(
        f"{emu.project_url('alpha')}/admin/sessions/{sid}", headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert auth.evict("session_id", sid) == 1
    with pytest.raises(InvalidToken):
        await auth.authenticate(bearer(token), ["human"])


async def test_expired_session(env: Env) -> None:
    emu, settings, http, wall = env
    name, value, _ = await login_cookie(emu.project_url("gamma-cloud"), "dora@gamma.test")  # 30 s lifespan
    auth = make(settings.tenants["gamma"], http, wall)
    req = request(("cookie", f"{name}={value}"))
    p = await auth.authenticate(req, ["human"])
    assert p.expires_at is not None and p.expires_at - wall() <= 30
    wall.advance(31)  # gateway clock only: the cache entry (TTL <= expires_at) is gone
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(req, ["human"])
    assert err.value.reason == "session_expired" and calls(emu, "gamma-cloud", "whoami") == 2
    emu.control("POST", "clock", {"advance": 31})  # and the emulator agrees
    auth2 = make(settings.tenants["gamma"], http, wall)
    with pytest.raises(InvalidToken) as err:
        await auth2.authenticate(req, ["human"])
    assert err.value.reason == "session_invalid"


async def test_cross_tenant_session_refused(env: Env) -> None:
    emu, settings, http, wall = env
    token, _ = await login_token(http, emu.project_url("alpha"), "ann@alpha.test")
    name, value, _ = await login_cookie(emu.project_url("alpha"), "ann@alpha.test")
    beta = make(settings.tenants["beta"], http, wall)
    with pytest.raises(InvalidToken):
        await beta.authenticate(bearer(token), ["human", "machine"])
    with pytest.raises(InvalidToken):
        await beta.authenticate(request(("cookie", f"{name}={value}")), ["human"])
    assert calls(emu, "beta", "whoami") == 2 and calls(emu, "alpha", "whoami") == 0
    assert calls(emu, "beta", "introspect") == 0  # a session token never goes to Hydra


async def test_single_flight_whoami(env: Env) -> None:
    emu, settings, http, wall = env
    token, _ = await login_token(http, emu.project_url("alpha"), "ann@alpha.test")
    auth = make(settings.tenants["alpha"], http, wall)
    results = await asyncio.gather(*(auth.authenticate(bearer(token), ["human"]) for _ in range(100)))
    assert {p.subject for p in results} == {ALPHA_ID}
    assert calls(emu, "alpha", "whoami") == 1
    assert (auth.stats.misses, auth.stats.joins) == (1, 99)
    await auth.authenticate(bearer(token), ["human"])
    assert auth.stats.hits == 1 and calls(emu, "alpha", "whoami") == 1


async def test_cache_bounds_with_injected_clock(env: Env) -> None:
    emu, settings, http, wall = env
    auth = make(settings.tenants["alpha"], http, wall, CacheSettings(max_ttl=60, negative_ttl=5, size=2))
    tokens = [(await login_token(http, emu.project_url("alpha"), "ann@alpha.test"))[0] for _ in range(3)]
    for t in tokens:
        await auth.authenticate(bearer(t), ["human"])
    assert len(auth.cache) == 2
    forged = "ory_st_" + "f" * 32
    for _ in range(3):
        with pytest.raises(InvalidToken):
            await auth.authenticate(bearer(forged), ["human"])
    assert auth.stats.negative_hits == 2
    wall.advance(6)
    with pytest.raises(InvalidToken):
        await auth.authenticate(bearer(forged), ["human"])
    assert calls(emu, "alpha", "whoami") == 3 + 2
