"""Sessions as Ory serves them, end to end (docs/sessions.md): the gateway, the emulator and
the recording upstream as real processes (tests/e2e/sessions_world.py). Each test asserts
what the emulator received (its request log) and what the upstream received."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.sessions_world import HAL, PAT, QUINN, Sessions, sessions_world
from tests.support import sessions
from tests.support.processes import header_values, run_gateway
from tests.support.sessions import attributes, cookie_value


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sessions]:
    with sessions_world(tmp_path_factory.mktemp("sessions")) as running:
        yield running


@pytest.fixture
def gw(world: Sessions) -> Iterator[httpx.Client]:
    world.forget()
    world.upstream.clear()
    with httpx.Client(base_url=world.url, timeout=15) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forwarded(world: Sessions) -> list[dict[str, Any]]:
    return world.upstream.requests()


# --- the session cookie ------------------------------------------------------------------


def test_only_the_tenants_own_session_cookie_reaches_its_kratos(world: Sessions, gw: httpx.Client) -> None:
    shop = world.browser_login("shop", "quinn@shop.test", "quinn-password")
    hq = world.browser_login("hq", "hank@hq.test", "hank-password")
    jar = f"ory_session_hq={hq[1]}; theme=dark; {shop[0]}={shop[1]}; app_session=s3cr3t"
    assert gw.get("/shop/api/orders", headers={"Cookie": jar}).status_code == 200
    assert gw.get("/hq/api/orders", headers={"Cookie": jar}).status_code == 200
    assert [c["cookie"] for c in world.calls("shop", "whoami")] == [f"ory_session_shop={shop[1]}"]
    assert [c["cookie"] for c in world.calls("hq", "whoami")] == [f"ory_session_hq={hq[1]}"]
    # the application's cookies are the application's: they reach it (the credential does not), never Ory
    assert [header_values(r, "cookie") for r in forwarded(world)] == [
        [f"ory_session_hq={hq[1]}; theme=dark; app_session=s3cr3t"],
        [f"theme=dark; {shop[0]}={shop[1]}; app_session=s3cr3t"],
    ]


def test_the_session_cookies_value_is_the_cache_key(world: Sessions, gw: httpx.Client) -> None:
    name, value = world.browser_login("shop", "quinn@shop.test", "quinn-password")
    for extra in ("", "; theme=dark", "; app_session=other; lang=en"):
        assert gw.get("/shop/api/orders", headers={"Cookie": f"{name}={value}{extra}"}).status_code == 200
    assert len(world.calls("shop", "whoami")) == 1


# --- refreshed cookies ---------------------------------------------------------------------


def extended_session(world: Sessions) -> tuple[str, str]:
    """quinn's browser cookie of a session extended since: whoami answers it with a refreshed one."""
    token = world.env["GATEWAY_TENANT_SHOP_KRATOS_ADMIN_TOKEN"]
    return sessions.extended_session(world.emulator, "shop", "quinn@shop.test", "quinn-password", token)


def test_a_refreshed_session_cookie_reaches_the_browser_once(world: Sessions, gw: httpx.Client) -> None:
    name, old = extended_session(world)
    world.forget()
    first = gw.get("/shop/api/orders", headers={"Cookie": f"{name}={old}; theme=dark"})
    assert first.status_code == 200
    refreshed = first.headers.get_list("set-cookie")
    assert len(refreshed) == 1 and refreshed[0].startswith(f"{name}=")
    new = cookie_value(refreshed[0])
    assert new and new != old
    assert header_values(forwarded(world)[0], "set-cookie") == []  # nothing of it went upstream
    # the old cookie again: the cached decision, never the refreshed cookie replayed
    again = gw.get("/shop/api/orders", headers={"Cookie": f"{name}={old}"})
    assert again.status_code == 200 and "set-cookie" not in again.headers
    assert len(world.calls("shop", "whoami")) == 1
    # the new cookie is up to date: nothing to refresh
    fresh = gw.get("/shop/api/orders", headers={"Cookie": f"{name}={new}"})
    assert fresh.status_code == 200 and "set-cookie" not in fresh.headers
    # attributes as Kratos sets them: the same as whoami's own answer to the old cookie
    direct = world.whoami("shop", Cookie=f"{name}={old}").headers["set-cookie"]
    assert attributes(refreshed[0]) == attributes(direct)
    assert {"path", "httponly", "samesite"} <= attributes(direct).keys()
    assert {"expires", "max-age"} & {p.split("=")[0].strip().lower() for p in refreshed[0].split(";")[1:]}


def test_a_refreshed_cookie_rides_on_a_redirect_too(world: Sessions, gw: httpx.Client) -> None:
    name, old = extended_session(world)
    page = gw.get("/shop/secure", headers={"Cookie": f"{name}={old}", "Accept": "text/html"})
    assert page.status_code == 303  # quinn has no second factor: sent to give one
    assert page.headers["set-cookie"].startswith(f"{name}=") and old not in page.headers["set-cookie"]


# --- a second factor and a recent sign-in ----------------------------------------------------


def test_an_aal2_route_refuses_an_aal1_session_with_where_to_go(world: Sessions, gw: httpx.Client) -> None:
    token = world.login("shop", "quinn@shop.test", "quinn-password")
    answer = gw.get("/shop/secure", headers=bearer(token))
    assert answer.status_code == 403
    body = answer.json()
    assert (body["error"], body["reason"]) == ("aal2_required", "aal2_required")
    assert body["redirect_browser_to"] == f"{world.project('shop')}/self-service/login/browser?aal=aal2"
    assert answer.headers["cache-control"] == "no-store"
    assert forwarded(world) == []


def test_a_browser_page_load_is_sent_to_the_second_factor_and_back(world: Sessions, gw: httpx.Client) -> None:
    name, value = world.browser_login("shop", "quinn@shop.test", "quinn-password")
    navigation = {"Cookie": f"{name}={value}", "Accept": "text/html,application/xhtml+xml"}
    page = gw.get("/shop/secure?tab=keys", headers=navigation)
    assert page.status_code == 303
    back = quote(f"{world.url}/shop/secure?tab=keys", safe="")
    assert page.headers["location"] == f"{world.project('shop')}/self-service/login/browser?aal=aal2&return_to={back}"
    api = gw.get("/shop/secure", headers={"Cookie": f"{name}={value}", "Accept": "application/json"})
    assert api.status_code == 403 and api.json()["error"] == "aal2_required"  # a script's call: JSON
    assert forwarded(world) == []


def test_back_from_the_second_factor_the_same_token_is_let_in_at_once(world: Sessions, gw: httpx.Client) -> None:
    token = world.login("shop", "pat@shop.test", "pat-password")
    assert gw.get("/shop/api/orders", headers=bearer(token)).status_code == 200  # an aal1 decision, cached
    assert gw.get("/shop/secure", headers=bearer(token)).status_code == 403
    world.second_factor("shop", token, "pat@shop.test")
    answer = gw.get("/shop/secure", headers=bearer(token))  # no waiting out a cache TTL
    assert answer.status_code == 200
    assert [header_values(r, "x-user-id") for r in forwarded(world)] == [[PAT], [PAT]]


def test_an_old_sign_in_is_asked_for_the_password_again(world: Sessions, gw: httpx.Client) -> None:
    token = world.login("shop", "quinn@shop.test", "quinn-password")
    session_id = world.whoami("shop", **{"X-Session-Token": token}).json()["id"]
    world.move("shop", session_id, authenticated_ago=3600)
    answer = gw.get("/shop/recent", headers=bearer(token))
    assert answer.status_code == 403
    body = answer.json()
    assert (body["error"], body["reason"]) == ("reauthentication_required", "reauthentication_required")
    assert body["redirect_browser_to"] == f"{world.project('shop')}/self-service/login/browser?refresh=true"
    world.sign_in_again("shop", token, "quinn@shop.test", "quinn-password")
    assert gw.get("/shop/recent", headers=bearer(token)).status_code == 200
    assert [header_values(r, "x-user-id") for r in forwarded(world)] == [[QUINN]]


def test_whoamis_own_refusal_is_a_step_up_never_cached(world: Sessions, gw: httpx.Client) -> None:
    token = world.login("hq", "hal@hq.test", "hal-password")  # hq: highest_available, hal has TOTP
    for _ in range(2):
        answer = gw.get("/hq/api/orders", headers=bearer(token))
        assert answer.status_code == 403
        body = answer.json()
        assert (body["error"], body["reason"]) == ("aal2_required", "session_aal2_required")
        assert body["redirect_browser_to"] == f"{world.project('hq')}/self-service/login/browser?aal=aal2"
    assert len(world.calls("hq", "whoami")) == 2  # asked each time: the 403 is not a cached rejection
    world.second_factor("hq", token, "hal@hq.test")
    assert gw.get("/hq/api/orders", headers=bearer(token)).status_code == 200
    assert [header_values(r, "x-user-id") for r in forwarded(world)] == [[HAL]]


# --- Ory-Session-Cache-For -------------------------------------------------------------------


def test_ory_session_cache_for_bounds_the_cache(world: Sessions, gw: httpx.Client) -> None:
    """fleeting's Kratos says 1 s, steady's says nothing: GATEWAY_CACHE_MAX_TTL is 60 s."""
    fleeting = world.login("fleeting", "fay@fleeting.test", "fay-password")
    steady = world.login("steady", "stu@steady.test", "stu-password")
    for _ in range(2):
        assert gw.get("/fleeting/api/x", headers=bearer(fleeting)).status_code == 200
        assert gw.get("/steady/api/x", headers=bearer(steady)).status_code == 200
        time.sleep(1.2)  # longer than fleeting allows; far shorter than the gateway's own bound
    assert len(world.calls("fleeting", "whoami")) == 2 and len(world.calls("steady", "whoami")) == 1


# --- tokenized sessions ------------------------------------------------------------------------


def tokenized(world: Sessions, project: str, token: str) -> str:
    answer = httpx.get(  # a fresh JWT (its own jti) per call
        f"{world.project(project)}/sessions/whoami", params={"tokenize_as": "jwt"}, headers={"X-Session-Token": token}
    )
    answer.raise_for_status()
    return str(answer.json()["tokenized"])


def test_a_tokenized_session_is_verified_without_asking_ory(world: Sessions, gw: httpx.Client) -> None:
    token = world.login("shop", "pat@shop.test", "pat-password")
    world.second_factor("shop", token, "pat@shop.test")
    session_id = world.whoami("shop", **{"X-Session-Token": token}).json()["id"]
    warm, first = tokenized(world, "shop", token), tokenized(world, "shop", token)
    assert gw.get("/shop/api/orders", headers=bearer(warm)).status_code == 200  # the template's keys fetched once
    world.forget()
    world.upstream.clear()
    answer = gw.get("/shop/secure", headers=bearer(first))  # an aal2 route: the JWT's `aal` claim
    assert answer.status_code == 200
    assert world.calls("shop") == []  # a first request with a new session JWT: no Ory call at all
    [seen] = forwarded(world)
    assert header_values(seen, "x-user-id") == [PAT] and header_values(seen, "x-session-id") == [session_id]
    assert header_values(seen, "x-org-id") == ["org-shop"] and header_values(seen, "x-roles") == ["member"]


def test_another_tenants_session_jwt_is_refused(world: Sessions, gw: httpx.Client) -> None:
    hank = world.login("hq", "hank@hq.test", "hank-password")
    theirs = tokenized(world, "hq", hank)
    answer = gw.get("/shop/api/orders", headers=bearer(theirs))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    assert forwarded(world) == [] and world.calls("shop", "whoami") == []


# --- tenants sharing an Ory project ---------------------------------------------------------------


@pytest.mark.parametrize(("who", "mine", "theirs"), [("cy", "left", "right"), ("sid", "right", "left")])
def test_a_shared_kratos_tells_people_apart_by_schema(
    world: Sessions, gw: httpx.Client, who: str, mine: str, theirs: str
) -> None:
    token = world.login("shared", f"{who}@shared.test", f"{who}-password")
    assert gw.get(f"/{mine}/api/x", headers=bearer(token)).status_code == 200
    refused = gw.get(f"/{theirs}/api/x", headers=bearer(token))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert [header_values(r, "x-tenant") for r in forwarded(world)] == [[mine]]


@pytest.mark.parametrize(
    ("client", "mine", "theirs"), [("left-partner", "left", "right"), ("right-partner", "right", "left")]
)
def test_a_shared_hydra_takes_only_the_clients_listed(
    world: Sessions, gw: httpx.Client, client: str, mine: str, theirs: str
) -> None:
    token = world.client_token("shared", client, f"{client}-secret", "api")
    assert gw.get(f"/{mine}/api/x", headers=bearer(token)).status_code == 200
    assert gw.get(f"/{theirs}/api/x", headers=bearer(token)).status_code == 401
    assert [header_values(r, "x-client-id") for r in forwarded(world)] == [[client]]


def test_gateway_check_refuses_a_shared_project_until_told_apart(world: Sessions) -> None:
    untold = {k: v for k, v in world.env.items() if k != "GATEWAY_TENANT_LEFT_IDENTITY_SCHEMAS"}
    refused = run_gateway("check", env=untold)
    assert refused.returncode == 1
    shared = world.project("shared")
    assert refused.stderr.splitlines() == [
        f"error: GATEWAY_TENANT_LEFT_IDENTITY_SCHEMAS: tenant shares Kratos {shared} with right: "
        "list the identity schemas of its people it accepts"
    ]
    told = run_gateway("check", env=world.env)
    assert told.returncode == 0, told.stderr
    assert (
        f"left, right share Kratos {shared}, told apart by identity schema (left: customer; right: staff)"
        in told.stdout
    )


# --- no client query reaches an Ory admin API --------------------------------------------------------

HOSTILE = "page_token=eyJvZmZzZXQiOjB9&page_size=500&include_credential=password&ids=x&consistency=strong"


def test_no_client_query_reaches_ory(world: Sessions, gw: httpx.Client) -> None:
    ops = world.client_token("hq", "hq-ops", "hq-ops-secret", "people:read")
    name, value = world.browser_login("shop", "quinn@shop.test", "quinn-password")
    world.forget()  # from here on, every call is the gateway's
    read = gw.get(f"/hq/people/{PAT}?{HOSTILE}", headers=bearer(ops))
    assert read.status_code == 200 and read.json()["id"] == PAT and "credentials" not in read.json()
    assert gw.get(f"/shop/api/orders?{HOSTILE}", headers={"Cookie": f"{name}={value}"}).status_code == 200
    token = gw.post(
        f"/hq/oauth2/token?{HOSTILE}",
        auth=("hq-ops", "hq-ops-secret"),
        data={"grant_type": "client_credentials", "scope": "people:read"},
    )
    assert token.status_code == 200
    assert gw.get(f"/shop/.well-known/jwks.json?{HOSTILE}").status_code == 200
    assert gw.get(f"/shop/.well-known/openid-configuration?{HOSTILE}").status_code == 200
    logout = gw.post(
        f"/shop/auth/logout?return_to=/shop/&{HOSTILE}",
        headers={"Cookie": f"{name}={value}", "Sec-Fetch-Site": "same-origin"},
    )
    assert logout.status_code == 303
    calls = world.calls("shop") + world.calls("hq")
    operations = {c["operation"] for c in calls}
    assert {"get_identity", "whoami", "token", "jwks", "discovery", "logout_flow_browser"} <= operations
    back = f"return_to={quote(world.url + '/shop/', safe='')}"
    for call in calls:
        assert call["query"] == (back if call["operation"] == "logout_flow_browser" else ""), call


def test_an_identity_id_that_is_not_a_uuid_is_never_looked_up(world: Sessions, gw: httpx.Client) -> None:
    ops = world.client_token("hq", "hq-ops", "hq-ops-secret", "people:read")
    for odd in ("..", "%2e%2e", "x?page_token=y", "not-a-uuid", f"{PAT}x"):
        assert gw.get(f"/hq/people/{quote(odd, safe='%')}", headers=bearer(ops)).status_code in (400, 404)
    assert world.calls("shop", "get_identity") == []


# --- what an edge nginx may reuse -------------------------------------------------------------------


def test_a_decision_with_a_refreshed_cookie_is_never_reused_by_the_edge(world: Sessions, gw: httpx.Client) -> None:
    name, old = extended_session(world)
    answer = gw.get("/decisions/shop/api/orders", headers={"Cookie": f"{name}={old}"})
    assert answer.status_code == 200 and answer.headers["set-cookie"].startswith(f"{name}=")
    assert answer.headers["x-accel-expires"] == "0"  # the cookie is this answer's alone
    again = gw.get("/decisions/shop/api/orders", headers={"Cookie": f"{name}={old}"})
    assert "set-cookie" not in again.headers and again.headers["x-accel-expires"] == "2"


def test_a_decision_is_not_reused_past_the_routes_max_age(world: Sessions, gw: httpx.Client) -> None:
    token = world.login("shop", "quinn@shop.test", "quinn-password")
    session_id = world.whoami("shop", **{"X-Session-Token": token}).json()["id"]
    world.move("shop", session_id, authenticated_ago=599)  # /recent wants a sign-in within 600 s
    answer = gw.get("/decisions/shop/recent", headers=bearer(token))
    assert answer.status_code == 200 and answer.headers["x-accel-expires"] in ("0", "1")
    assert gw.get("/decisions/shop/api/orders", headers=bearer(token)).headers["x-accel-expires"] == "2"
