"""The budget of unknown credentials per client address (`gateway.quotas.attempts`), in process:
what spends it, what it refuses, and what it never refuses."""

from __future__ import annotations

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
