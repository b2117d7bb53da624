"""Kratos authenticator against an in-process fake (edge cases; the emulator tests cover HTTP)."""

from __future__ import annotations

import httpx
import pytest

from gateway.authn import TenantAuthenticator
from gateway.authn.verdict import parse_rfc3339
from gateway.config.problems import ConfigError
from gateway.config.settings import CacheSettings
from gateway.errors import InvalidToken, ServiceUnavailable, StepUpRequired, TooManyRequests, Unauthenticated
from gateway.ory.pool import OryPool
from gateway.principal import Membership
from tests.authn.fakes import FakeOry, authenticator, request, rfc3339, session, tenant
from tests.support.clock import FakeClock

TOKEN = "ory_st_" + "a" * 32


async def test_only_the_session_cookie_goes_to_kratos(ory: FakeOry, clock: FakeClock) -> None:
    s = session(metadata_public={"organization_id": "org-1", "roles": ["member"]})
    ory.sessions["c1"] = s
    auth = authenticator(ory, clock, transport="cookie")
    p = await auth.authenticate(request(("cookie", "theme=dark; ory_kratos_session=c1; x=y")), ["human"])
    assert (p.kind, p.subject, p.session_id) == ("human", s["identity"]["id"], s["id"])
    assert (p.organization, p.roles, p.aal) == ("org-1", frozenset({"member"}), "aal1")
    sent = ory.seen[-1]
    assert sent.headers["cookie"] == "ory_kratos_session=c1"  # not the application's, not another tenant's
    assert "x-session-token" not in sent.headers
    assert sent.url == "http://kratos.a.test/sessions/whoami"


async def test_cookie_transport_ignores_bearer(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions[TOKEN] = session()
    auth = authenticator(ory, clock, transport="cookie")
    with pytest.raises(Unauthenticated) as err:
        await auth.authenticate(request(("x-session-token", TOKEN)), ["human"])
    assert err.value.reason == "no_credentials" and type(err.value) is Unauthenticated
    assert err.value.headers() == {"www-authenticate": 'Bearer realm="a"'}
    assert not ory.seen


@pytest.mark.parametrize("header", ["authorization", "x-session-token"])
async def test_bearer_sends_x_session_token(ory: FakeOry, clock: FakeClock, header: str) -> None:
    ory.sessions[TOKEN] = session()
    auth = authenticator(ory, clock, transport="bearer")
    value = f"Bearer {TOKEN}" if header == "authorization" else TOKEN
    await auth.authenticate(request((header, value), ("cookie", "ory_kratos_session=zzz")), ["human"])
    assert ory.seen[-1].headers["x-session-token"] == TOKEN
    assert "cookie" not in ory.seen[-1].headers


async def test_cookie_or_bearer_failed_cookie_is_final(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions[TOKEN] = session()
    auth = authenticator(ory, clock)
    req = request(("cookie", "ory_kratos_session=bad"), ("authorization", f"Bearer {TOKEN}"))
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(req, ["human"])
    assert err.value.reason == "session_invalid"
    assert 'error="invalid_token"' in err.value.headers()["www-authenticate"]
    assert ory.calls["kratos.a.test/sessions/whoami"] == 1


async def test_cookie_or_bearer_uses_bearer_without_cookie(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions[TOKEN] = session()
    p = await authenticator(ory, clock).authenticate(request(("authorization", f"Bearer {TOKEN}")), ["human"])
    assert p.kind == "human"


async def test_ambiguous_cookie_rejected_without_ory_call(ory: FakeOry, clock: FakeClock) -> None:
    auth = authenticator(ory, clock)
    with pytest.raises(InvalidToken) as err:
        await auth.authenticate(request(("cookie", "ory_kratos_session=a; ory_kratos_session=b")), ["human"])
    assert err.value.reason == "ambiguous_cookie"
    assert not ory.seen


async def test_same_cookie_twice_same_value_is_fine(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session()
    auth = authenticator(ory, clock)
    req = request(("cookie", "ory_kratos_session=c"), ("cookie", "ory_kratos_session=c"))
    assert (await auth.authenticate(req, ["human"])).kind == "human"


async def test_org_fallback_and_roles_never_from_traits(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session(
        organization_id="org-top",
        traits={"roles": ["admin"], "organization_id": "evil"},
        metadata_public=None,
    )
    p = await authenticator(ory, clock).authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert p.organization == "org-top" and p.roles == frozenset()


async def test_custom_paths(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session(metadata_public={"tenant": {"org": "o9"}, "groups": ["g"]})
    auth = authenticator(ory, clock, org_paths=("metadata_public.tenant.org",), roles_path="metadata_public.groups")
    p = await auth.authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert (p.organization, p.roles) == ("o9", frozenset({"g"}))
    assert p.memberships == (Membership("o9", frozenset({"g"})),) and p.memberships_problem == ""


async def test_a_non_string_role_is_a_problem_not_a_guess(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session(metadata_public={"organization_id": "o9", "roles": ["g", 3]})
    p = await authenticator(ory, clock).authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert (p.organization, p.roles, p.memberships) == (None, frozenset(), ())
    assert p.memberships_problem == "identity metadata: metadata_public.roles must be a list of role names"


async def test_the_list_form_gives_every_membership_and_no_default(ory: FakeOry, clock: FakeClock) -> None:
    listed = [{"organization_id": "a", "roles": ["member"]}, {"organization_id": "b", "roles": ["viewer"]}]
    ory.sessions["c"] = session(metadata_public={"memberships": listed})
    p = await authenticator(ory, clock).authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert p.memberships == (Membership("a", frozenset({"member"})), Membership("b", frozenset({"viewer"})))
    assert (p.organization, p.roles) == (None, frozenset())


async def test_keto_tenants_take_nothing_from_metadata(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions["c"] = session(metadata_public={"organization_id": "o9", "roles": ["member"]})
    auth = authenticator(ory, clock, memberships="keto", keto_read_url="http://keto.a.test")
    p = await auth.authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert (p.organization, p.roles, p.memberships) == (None, frozenset(), None)


def test_traits_paths_refused_at_build(ory: FakeOry, clock: FakeClock) -> None:
    with pytest.raises(ConfigError):
        authenticator(ory, clock, roles_path="traits.roles")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"active": False}, "session_inactive"),
        ({"expires_at": "2020-01-01T00:00:00.000000001Z"}, "session_expired"),
    ],
)
async def test_rejected_sessions(ory: FakeOry, clock: FakeClock, change: dict[str, object], reason: str) -> None:
    ory.sessions["c"] = {**session(), **change}
    with pytest.raises(InvalidToken) as err:
        await authenticator(ory, clock).authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("kratos_id", "need", "code"),
    [
        ("session_aal2_required", "aal2", "aal2_required"),
        ("session_aal2_enrollment_required", "enroll", "aal2_required"),
        ("session_credential_required", "refresh", "reauthentication_required"),
        ("something_new", "aal2", "aal2_required"),
    ],
)
async def test_whoami_403_is_a_step_up_never_cached(
    ory: FakeOry, clock: FakeClock, kratos_id: str, need: str, code: str
) -> None:
    ory.fault = httpx.Response(403, json={"error": {"id": kratos_id, "code": 403}, "redirect_browser_to": "x"})
    auth = authenticator(ory, clock)
    for _ in range(2):  # asked again: a person back from the second factor is let in at once
        with pytest.raises(StepUpRequired) as err:
            await auth.authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
        assert (err.value.status, err.value.code, err.value.need) == (403, code, need)
    assert ory.calls["kratos.a.test/sessions/whoami"] == 2
    ory.fault = None
    ory.sessions["c"] = session()
    assert (await auth.authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])).kind == "human"


async def test_a_refreshed_cookie_goes_to_the_request_that_asked_never_into_the_cache(
    ory: FakeOry, clock: FakeClock
) -> None:
    s = session()
    refreshed = "ory_kratos_session=new; Path=/; Expires=Fri, 01 Jan 2038 00:00:00 GMT; HttpOnly; SameSite=Lax"
    ory.fault = lambda req: httpx.Response(
        200, json=s, headers=[("set-cookie", "csrf_token=abc; Path=/"), ("set-cookie", refreshed)]
    )
    auth = authenticator(ory, clock)
    got: list[str] = []
    await auth.authenticate(request(("cookie", "ory_kratos_session=old")), ["human"], got.append)
    assert got == [refreshed]  # the tenant's cookie only, attributes as Kratos set them
    await auth.authenticate(request(("cookie", "ory_kratos_session=old")), ["human"], got.append)
    assert got == [refreshed] and ory.calls["kratos.a.test/sessions/whoami"] == 1  # a hit: no Set-Cookie
    await auth.authenticate(request(("x-session-token", TOKEN)), ["human"], got.append)
    assert got == [refreshed]  # a session token never gets a cookie


async def test_ory_session_cache_for_bounds_the_positive_cache(ory: FakeOry, clock: FakeClock) -> None:
    s = session(expires=clock() + 3600)
    ory.fault = lambda req: httpx.Response(200, json=s, headers={"Ory-Session-Cache-For": "5"})
    auth = authenticator(ory, clock, CacheSettings(max_ttl=60))
    req = request(("cookie", "ory_kratos_session=c"))
    await auth.authenticate(req, ["human"])
    clock.advance(4.9)
    await auth.authenticate(req, ["human"])
    assert ory.calls["kratos.a.test/sessions/whoami"] == 1
    clock.advance(0.2)  # past Ory's 5 s, well within GATEWAY_CACHE_MAX_TTL
    await auth.authenticate(req, ["human"])
    assert ory.calls["kratos.a.test/sessions/whoami"] == 2


async def test_authenticated_at_is_the_latest_proof(ory: FakeOry, clock: FakeClock) -> None:
    s = session()
    s["authenticated_at"] = rfc3339(clock() - 600)
    s["authentication_methods"] = [
        {"method": "password", "aal": "aal1", "completed_at": rfc3339(clock() - 600)},
        {"method": "totp", "aal": "aal2", "completed_at": rfc3339(clock() - 30)},
    ]
    s["authenticator_assurance_level"] = "aal2"
    ory.sessions["c"] = s
    p = await authenticator(ory, clock).authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert p.aal == "aal2" and p.authenticated_at == pytest.approx(clock() - 30, abs=0.01)


def test_rfc3339_nanoseconds() -> None:
    assert parse_rfc3339("2027-01-15T08:00:00.123456789Z") == pytest.approx(1800000000.123456789, abs=1e-6)
    assert parse_rfc3339("1970-01-01T00:00:01.5+00:00") == 1.5
    assert parse_rfc3339("1970-01-01T01:00:00.000000001+01:00") == pytest.approx(1e-9)
    assert parse_rfc3339("yesterday") is None and parse_rfc3339(5) is None


def _timeout(req: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=req)


def _refused(req: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=req)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (_timeout, "ory_timeout"),
        (_refused, "ory_unreachable"),
        (httpx.Response(500), "ory_error"),
        (httpx.Response(502, text="<html>"), "ory_error"),
        (httpx.Response(200, text="not json"), "ory_garbage"),
        (httpx.Response(200, json=["a"]), "ory_garbage"),
        (httpx.Response(200, json={"id": "x"}), "ory_garbage"),
        (httpx.Response(302, headers={"location": "http://evil.test/"}), "ory_unexpected_status"),
        (httpx.Response(404), "ory_unexpected_status"),
    ],
)
async def test_outages_fail_closed_and_are_not_cached(
    ory: FakeOry, clock: FakeClock, fault: object, reason: str
) -> None:
    ory.fault = fault  # type: ignore[assignment]
    ory.sessions["c"] = session()
    auth = authenticator(ory, clock)
    req = request(("cookie", "ory_kratos_session=c"))
    with pytest.raises(ServiceUnavailable) as err:
        await auth.authenticate(req, ["human"])
    assert (err.value.status, err.value.reason) == (503, reason)
    assert err.value.headers()["retry-after"].isdigit()
    ory.fault = None
    assert (await auth.authenticate(req, ["human"])).kind == "human"


async def test_rate_limit_passes_retry_after(ory: FakeOry, clock: FakeClock) -> None:
    ory.fault = httpx.Response(429, headers={"retry-after": "7"})
    auth = authenticator(ory, clock)
    with pytest.raises(TooManyRequests) as err:
        await auth.authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert err.value.headers()["retry-after"] == "7"
    ory.fault = httpx.Response(429)
    with pytest.raises(TooManyRequests) as err:
        await auth.authenticate(request(("cookie", "ory_kratos_session=c")), ["human"])
    assert err.value.headers()["retry-after"] == "1"
    assert auth.stats.hits == 0


async def test_shared_client_cookie_jar_never_leaks(ory: FakeOry, clock: FakeClock) -> None:
    ory.sessions[TOKEN] = session()
    http = ory.client()
    http.cookies.set("ory_kratos_session", "someone-else", domain="kratos.a.test")
    auth = TenantAuthenticator(tenant(), CacheSettings(), OryPool.over("a", http), clock)
    await auth.authenticate(request(("x-session-token", TOKEN)), ["human"])
    assert "cookie" not in ory.seen[-1].headers
