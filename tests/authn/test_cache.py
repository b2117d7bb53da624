"""What authentication keeps in the cache: hashed keys, principals stamped with them, the
revocation handles of a principal, and the bounds seen through `TenantAuthenticator`
(the cache itself: tests/cache)."""

from __future__ import annotations

import time

import pytest

from gateway.authn.cache import credential_key, decision_cache, lifetime
from gateway.authn.verdict import Verdict
from gateway.cache import Index
from gateway.config.settings import CacheSettings
from gateway.errors import InvalidToken
from gateway.principal import Membership, Principal
from tests.authn.fakes import NOW, FakeOry, authenticator, request, session
from tests.support.clock import FakeClock


def test_key_is_a_hash_and_separates_tenant_and_authenticator() -> None:
    k = credential_key("a", "hydra", "ory_at_secret")
    assert "secret" not in k and len(k) == 64
    assert k != credential_key("b", "hydra", "ory_at_secret") != credential_key("a", "jwt", "ory_at_secret")


def test_a_principal_is_positive_until_it_expires_and_a_rejection_is_negative() -> None:
    person = Principal("human", "a", "u", None, frozenset(), frozenset(), expires_at=NOW + 10)
    assert lifetime(Verdict(person)) == (True, NOW + 10)
    assert lifetime(Verdict.reject("session_invalid", "no")) == (False, None)


def test_a_principal_is_listed_under_its_subject_organizations_and_session() -> None:
    person = Principal(
        "human",
        "a",
        "u",
        "org-b",
        frozenset(),
        frozenset(),
        session_id="s1",
        memberships=(Membership("org-c", frozenset()), Membership("org-b", frozenset())),
    )
    cache = decision_cache(CacheSettings(), time.time, "a", None)
    assert set(cache.indexes("k", Verdict(person))) == {
        Index("session_id", "a", "s1"),
        Index("subject", "a", "u"),
        Index("organization", "a", "org-b"),
        Index("organization", "a", "org-c"),
    }
    assert cache.indexes("k", Verdict.reject("session_invalid", "no")) == []


async def test_principal_carries_the_key(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session()
    auth = authenticator(ory, clock)
    p = await auth.authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert p.credential_hash == credential_key("a", "kratos-cookie", "c")
    cached = auth.cache.cached(p.credential_hash)
    assert cached is not None and cached.principal is p


async def test_revoked_session_stays_at_most_max_ttl(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session()
    auth = authenticator(ory, clock, CacheSettings(max_ttl=30))
    req = request(("cookie", "ory_kratos_session=c"))
    first = await auth.authenticate(req, ["human"])
    del ory.sessions["c"]  # revoked at Ory
    assert await auth.authenticate(req, ["human"]) == first  # stale within the bound
    clock.advance(31)
    with pytest.raises(InvalidToken):
        await auth.authenticate(req, ["human"])
    assert ory.calls["kratos.a.test/sessions/whoami"] == 2


async def test_evict_session_through_facade(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session()
    auth = authenticator(ory, clock)
    req = request(("cookie", "ory_kratos_session=c"))
    p = await auth.authenticate(req, ["human"])
    assert p.session_id is not None and auth.evict("session_id", p.session_id) == 1
    await auth.authenticate(req, ["human"])
    assert auth.evict_credential("c") == 1
    assert ory.calls["kratos.a.test/sessions/whoami"] == 2
    await auth.authenticate(req, ["human"])
    assert auth.evict("credential_hash", credential_key("a", "kratos-cookie", "c")) == 1
    assert auth.evict("subject", p.subject) == 0  # nothing left to evict
