"""One tenant's trouble stays that tenant's: two tenants on separate Ory emulators, real
processes. alpha's Ory frozen and flooded, junk credentials, stream hogs and a route's rate
limit: beta is served throughout. Asserts on answers and on what Ory and the upstream saw,
never on timings (bench/neighbours.py measures those)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import pytest

from tests.robustness.neighbours import Neighbours, get, junk_token, neighbours
from tests.support.polling import eventually

BUDGET = 20
#: floods and frozen processes: one module at a time with the others that load both cores
pytestmark = pytest.mark.xdist_group("serial")


@pytest.fixture(scope="module")
def two() -> Iterator[Neighbours]:
    with neighbours(
        GATEWAY_TENANT_ALPHA_ORY_MAX_CONNECTIONS="4",
        GATEWAY_TENANT_ALPHA_TIMEOUT="3",
        GATEWAY_AUTH_FAILURES_PER_MINUTE=str(BUDGET),
        GATEWAY_MAX_STREAMS="100",  # (the server takes 4x as many requests at once)
        GATEWAY_MAX_STREAMS_PER_TENANT="3",
        GATEWAY_MAX_STREAMS_PER_PRINCIPAL="2",
    ) as running:
        yield running


async def _flood(url: str, count: int) -> list[httpx.Response]:
    """`count` requests at once, each with its own never-issued session token."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=count)) as http:
        return await asyncio.gather(*(http.get(url, headers={"X-Session-Token": junk_token()}) for _ in range(count)))


def test_beta_is_served_while_alphas_ory_is_frozen_and_flooded(two: Neighbours) -> None:
    cached = two.session("beta", "alice")
    assert get(two.url + "/beta/r/warm", cached).status_code == 200  # cached before the incident
    fresh = [two.session("beta", person) for person in ("bob", "dana")]  # unknown to the gateway yet
    two.freeze("alpha")
    try:
        loop = asyncio.new_event_loop()
        flood = loop.create_task(_flood(two.url + "/alpha/r/x", BUDGET + 10))
        loop.run_until_complete(asyncio.sleep(0.5))  # alpha's slots are all held by now
        for headers in (cached, *fresh, cached):
            answer = get(two.url + "/beta/r/y", headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["tenant"] == "beta"
        alpha = loop.run_until_complete(flood)
        loop.close()
        # the address's budget of lookups, all in flight at once: the rest never wait for Ory
        past = [r for r in alpha if r.status_code == 429]
        assert len(past) == 10 and {r.json()["error"] for r in past} == {"too_many_attempts"}
        looked_up = [r for r in alpha if r.status_code != 429]
        codes = {r.json()["error"] for r in looked_up}
        assert {r.status_code for r in looked_up} == {503}  # never a 401 for an outage
        assert "ory_saturated" in codes  # the pool's own bound, answered apart ...
        assert codes <= {"ory_saturated", "ory_unavailable"}
        saturated = next(r for r in looked_up if r.json()["error"] == "ory_saturated")
        assert saturated.headers["retry-after"] == "1"
        assert "timed out" not in saturated.json()["error_description"]  # ... never blamed on Ory
    finally:
        two.thaw("alpha")
    assert get(two.url + "/readyz", {}).status_code == 200
    assert get(two.url + "/alpha/r/z", two.session("alpha")).status_code == 200  # alpha recovers


def test_shapes_no_ory_issues_never_reach_ory(two: Neighbours) -> None:
    before = two.whoami_calls("beta")
    for token in ("ory_st_short", "ory_st_" + "a" * 31 + "-", "x" * 40, "ory_st_" + "a" * 33):
        answer = get(two.url + "/beta/r/shape", {"X-Session-Token": token})
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    assert two.whoami_calls("beta") == before


def _open(http: httpx.Client, url: str, headers: dict[str, str], stack: contextlib.ExitStack) -> httpx.Response:
    """Open one SSE stream and keep it open (its head read) until `stack` closes."""
    return stack.enter_context(http.stream("GET", url, headers=headers))


def test_stream_shares_keep_one_principal_and_one_tenant_from_taking_every_slot(two: Neighbours) -> None:
    alice, bob = two.session("alpha", "alice"), two.session("alpha", "bob")
    sse = "/s/sse/forever"
    with httpx.Client(timeout=10) as http, contextlib.ExitStack() as held:
        assert [_open(http, two.url + "/alpha" + sse, alice, held).status_code for _ in range(2)] == [200, 200]
        third = _open(http, two.url + "/alpha" + sse, alice, held)
        third.read()
        assert third.status_code == 429 and third.json()["error"] == "too_many_streams"  # her own share
        assert third.headers["retry-after"]
        assert _open(http, two.url + "/alpha" + sse, bob, held).status_code == 200  # alpha: 3 of 3
        fourth = _open(http, two.url + "/alpha" + sse, bob, held)
        fourth.read()
        assert fourth.status_code == 503 and fourth.json()["error"] == "too_many_streams"  # the tenant's share
        beta = _open(http, two.url + "/beta" + sse, two.session("beta"), held)
        assert beta.status_code == 200  # alpha's streams never take beta's slots
    # every slot is given back when the streams close
    eventually(lambda: _one_stream(two, alice, sse) == 200, timeout=10)


def _one_stream(two: Neighbours, headers: dict[str, str], path: str) -> int:
    with httpx.Client(timeout=10) as http, http.stream("GET", two.url + "/alpha" + path, headers=headers) as answer:
        return answer.status_code


def test_a_routes_rate_limit_counts_per_principal_with_the_ietf_fields(two: Neighbours) -> None:
    alice, bob = two.session("beta", "alice"), two.session("beta", "bob")
    httpx.delete(two.upstream.url + "/__faulty/requests")
    allowed = [get(two.url + "/beta/limited/a", alice) for _ in range(3)]
    assert [a.status_code for a in allowed] == [200, 200, 200]
    # every counted answer says what is left of the window
    assert {a.headers["ratelimit-policy"] for a in allowed} == {'"limited";q=3;w=60'}
    left = [a.headers["ratelimit"] for a in allowed]
    assert [x.split(";")[1] for x in left] == ["r=2", "r=1", "r=0"]
    assert all(0 <= int(x.split(";t=")[1]) <= 60 for x in left)
    refused = get(two.url + "/beta/limited/a", alice)
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    assert refused.headers["ratelimit-policy"] == '"limited";q=3;w=60'
    assert refused.headers["ratelimit"] == f'"limited";r=0;t={wait}'
    assert get(two.url + "/beta/limited/a", bob).status_code == 200  # bob's window is his own
    received = [r["target"] for r in httpx.get(two.upstream.url + "/__faulty/requests").json()]
    assert received.count("/limited/a") == 4  # alice's three and bob's one: the refusal never left
    unlimited = get(two.url + "/beta/r/a", alice)
    assert unlimited.status_code == 200  # routes without a limit: none
    assert "ratelimit" not in unlimited.headers and "ratelimit-policy" not in unlimited.headers


def test_junk_credentials_cost_at_most_the_budget_in_ory_calls(two: Neighbours) -> None:
    person = two.session("beta", "alice")
    assert get(two.url + "/beta/r/mine", person).status_code == 200  # cached: known good
    before = two.whoami_calls("beta")
    answers = [get(two.url + "/beta/r/junk", {"X-Session-Token": junk_token()}) for _ in range(BUDGET + 30)]
    spent = two.whoami_calls("beta") - before
    assert spent <= BUDGET  # one after another: exactly the budget, never more
    assert [r.status_code for r in answers[:BUDGET]] == [401] * BUDGET
    refused = answers[-1]
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) >= 1
    mine = get(two.url + "/beta/r/mine", person)  # the same address, a session the gateway knows
    assert mine.status_code == 200 and mine.json()["tenant"] == "beta"
    # another tenant's budget is its own (this test comes last: the budget's window is a minute)
    assert get(two.url + "/alpha/r/junk", {"X-Session-Token": junk_token()}).status_code == 401
