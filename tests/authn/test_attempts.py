"""The budget of unknown credentials per client address (`gateway.quotas.attempts`), in process:
what spends it, what it refuses, and what it never refuses."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.authn import TenantAuthenticator
from gateway.config.settings import CacheSettings
from gateway.errors import InvalidToken, TooManyAttempts
from gateway.ory.pool import OryPool
from gateway.quotas.attempts import Attempts, client_key
from gateway.quotas.storage import LocalStorage
from gateway.quotas.windows import Windows
from tests.authn.fakes import FakeOry, request, session, tenant
from tests.support.clock import FakeClock

GOOD, OTHER = "ory_st_" + "g" * 32, "ory_st_" + "o" * 32


def budgeted(ory: FakeOry, clock: FakeClock, per_minute: int) -> TenantAuthenticator:
    attempts = Attempts(Windows(LocalStorage()), per_minute, clock=clock)
    settings = tenant()
    pool = OryPool.over(settings.name, ory.client())
    return TenantAuthenticator(settings, CacheSettings(max_ttl=60), pool, clock, attempts=attempts)


def junk(n: int) -> str:
    return "ory_st_" + f"{n:032d}"


async def test_rejections_spend_the_budget_and_past_it_ory_is_not_asked(ory: FakeOry, clock: FakeClock) -> None:
    auth = budgeted(ory, clock, 3)
    for n in range(3):
        with pytest.raises(InvalidToken):
            await auth.authenticate(request(("x-session-token", junk(n))), ["human"])
    asked = len(ory.seen)
    with pytest.raises(TooManyAttempts) as refused:
        await auth.authenticate(request(("x-session-token", junk(99))), ["human"])
    assert len(ory.seen) == asked  # no Ory call past the budget
    assert refused.value.status == 429 and refused.value.code == "too_many_attempts"
    assert int(refused.value.headers()["retry-after"]) >= 1
    assert auth.refused == 1


async def test_known_credentials_are_never_refused(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions[GOOD] = session()
    ory.sessions[OTHER] = session()
    auth = budgeted(ory, clock, 2)
    await auth.authenticate(request(("x-session-token", GOOD)), ["human"])  # Ory vouches for it
    for n in range(2):
        with pytest.raises(InvalidToken):
            await auth.authenticate(request(("x-session-token", junk(n))), ["human"])
    await auth.authenticate(request(("x-session-token", GOOD)), ["human"])  # cached: never counted
    clock.advance(61)  # its cache entry lapses; Ory is asked again, without waiting for room
    asked = len(ory.seen)
    await auth.authenticate(request(("x-session-token", GOOD)), ["human"])
    assert len(ory.seen) == asked + 1
    with pytest.raises(TooManyAttempts):  # a valid one never seen before waits for room like any other
        await auth.authenticate(request(("x-session-token", OTHER)), ["human"])


def test_an_ipv6_address_counts_as_its_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("192.0.2.7") == "192.0.2.7"


async def test_lookups_in_flight_count_so_a_burst_never_overshoots_the_budget(clock: FakeClock) -> None:
    """A burst of unknown credentials all in flight at once: none has failed yet, yet only the
    budget's worth reach Ory; the rest are refused at once, with no call."""
    release, asked = asyncio.Event(), []

    async def whoami(req: httpx.Request) -> httpx.Response:
        asked.append(req)
        await release.wait()  # Ory is slow: every lookup is still in flight when the next comes
        return httpx.Response(401, json={"error": {"code": 401, "status": "Unauthorized"}})

    attempts = Attempts(Windows(LocalStorage()), 5, clock=clock)
    settings = tenant()
    pool = OryPool.over(settings.name, httpx.AsyncClient(transport=httpx.MockTransport(whoami)))
    auth = TenantAuthenticator(settings, CacheSettings(max_ttl=60), pool, clock, attempts=attempts)
    burst = [
        asyncio.ensure_future(auth.authenticate(request(("x-session-token", junk(n))), ["human"])) for n in range(20)
    ]
    await asyncio.sleep(0.05)
    assert len(asked) == 5  # the budget, though none has failed yet
    release.set()
    outcomes = await asyncio.gather(*burst, return_exceptions=True)
    assert sum(isinstance(o, TooManyAttempts) for o in outcomes) == 15
    assert sum(isinstance(o, InvalidToken) for o in outcomes) == 5
    assert len(asked) == 5
    with pytest.raises(TooManyAttempts):  # the five failures fill the window
        await auth.authenticate(request(("x-session-token", junk(99))), ["human"])
    assert attempts._pending == {}  # every lookup given back


async def test_one_new_credential_in_a_burst_of_requests_is_one_lookup_and_no_refusal(clock: FakeClock) -> None:
    """A page firing 100 requests at once with a session just signed in: one whoami, 100 answers."""
    release, asked = asyncio.Event(), []

    async def whoami(req: httpx.Request) -> httpx.Response:
        asked.append(req)
        await release.wait()
        return httpx.Response(200, json=session())

    attempts = Attempts(Windows(LocalStorage()), 5, clock=clock)
    settings = tenant()
    pool = OryPool.over(settings.name, httpx.AsyncClient(transport=httpx.MockTransport(whoami)))
    auth = TenantAuthenticator(settings, CacheSettings(max_ttl=60), pool, clock, attempts=attempts)
    burst = [
        asyncio.ensure_future(auth.authenticate(request(("x-session-token", GOOD)), ["human"])) for _ in range(100)
    ]
    await asyncio.sleep(0.05)
    release.set()
    principals = await asyncio.gather(*burst)
    assert len(asked) == 1 and len(principals) == 100
    assert attempts._pending == {}
