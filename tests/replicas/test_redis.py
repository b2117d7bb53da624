"""Scale-out on a real redis-server with two gateway processes: shared decision cache,
revocations fanned out within a second, shared token rate limits, Redis outages survived."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from gateway.authn import credential_key
from tests.support.ops import ADMIN_TOKEN, Ops, Replica, metric
from tests.support.polling import eventually
from tests.support.processes import RedisServer, run_gateway

#: in the "serial" group under pytest-xdist (tests/conftest.py): answers shared through Redis (0.25 s timeout)
pytestmark = pytest.mark.xdist_group("serial")


def get(replica: Replica, token: str, path: str = "/customer/echo/x") -> int:
    return httpx.get(replica.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def test_a_credential_checked_on_one_replica_is_served_by_the_other_from_redis(
    replica_a: Replica, replica_b: Replica, ops: Ops
) -> None:
    token = ops.session()
    calls = ops.whoami_calls()
    assert get(replica_a, token) == 200
    assert ops.whoami_calls() == calls + 1
    assert get(replica_b, token) == 200
    assert get(replica_b, token) == 200
    assert ops.whoami_calls() == calls + 1  # B never asked Ory
    assert replica_b.metrics_url is not None
    text = httpx.get(replica_b.metrics_url + "/metrics").text
    assert metric(text, "gateway_shared_cache_hits_total") >= 1


def test_a_revocation_published_once_evicts_on_both_replicas_within_a_second(
    replica_a: Replica, replica_b: Replica, ops: Ops
) -> None:
    token = ops.session()
    assert get(replica_a, token) == 200 and get(replica_b, token) == 200
    session_id = ops.session_id(token)
    ops.revoke_at_ory(session_id)
    assert get(replica_a, token) == 200 and get(replica_b, token) == 200  # still cached: that is the point
    done = run_gateway("revoke", "--tenant", "customer", "--session", session_id, env=replica_a.env)
    assert done.returncode == 0, done.stderr
    assert "published to 2 replica(s)" in done.stdout
    eventually(lambda: get(replica_a, token) == 401 and get(replica_b, token) == 401, timeout=1.0)


def test_revoke_a_raw_token_read_from_stdin(replica_a: Replica, replica_b: Replica, ops: Ops) -> None:
    token = ops.session()
    assert get(replica_a, token) == 200 and get(replica_b, token) == 200
    ops.revoke_at_ory(ops.session_id(token))
    done = run_gateway("revoke", "--tenant", "customer", "--token-stdin", env=replica_b.env, stdin=token + "\n")
    assert done.returncode == 0, done.stderr
    assert token not in done.stdout + done.stderr
    eventually(lambda: get(replica_a, token) == 401 and get(replica_b, token) == 401, timeout=1.0)


def test_admin_endpoint_revokes_everywhere_and_is_guarded(replica_a: Replica, replica_b: Replica, ops: Ops) -> None:
    token = ops.session()
    assert get(replica_a, token) == 200 and get(replica_b, token) == 200
    ops.revoke_at_ory(ops.session_id(token))
    body = {"tenant": "customer", "credential_hash": credential_key("customer", "kratos-token", token)}
    with httpx.Client() as http:
        assert http.post(replica_b.url + "/_gateway/revoke", json=body).status_code == 404  # no admin token set
        wrong = http.post(replica_a.url + "/_gateway/revoke", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (
            http.get(replica_a.url + "/_gateway/revoke", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code
            == 405
        )
        bad = http.post(
            replica_a.url + "/_gateway/revoke",
            json={"tenant": "customer"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert bad.status_code == 400
        assert get(replica_a, token) == 200  # nothing was evicted by the refused calls
        ok = http.post(
            replica_a.url + "/_gateway/revoke", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"evicted_here": 1, "published_to": 2}
    eventually(lambda: get(replica_a, token) == 401 and get(replica_b, token) == 401, timeout=1.0)
    assert ADMIN_TOKEN not in replica_a.output()


def test_token_rate_limits_are_shared(replica_a: Replica, replica_b: Replica) -> None:
    def token_request(replica: Replica) -> httpx.Response:
        return httpx.post(
            replica.url + "/dealer/oauth2/token",
            auth=("ops-rate-client", "wrong-secret"),
            data={"grant_type": "client_credentials"},
        )

    assert [token_request(replica_a).status_code for _ in range(2)] == [401, 401]  # Hydra's answer, relayed
    assert [token_request(replica_b).status_code for _ in range(2)] == [401, 401]  # 4 of 4 used, across both
    limited = token_request(replica_b)
    assert limited.status_code == 429  # B alone has seen only 2 of its 4
    wait = int(limited.headers["retry-after"])
    assert 1 <= wait <= 60
    assert limited.headers["ratelimit-policy"] == '"oauth2-token";q=4;w=60'
    assert limited.headers["ratelimit"] == f'"oauth2-token";r=0;t={wait}'


def _limited(replica: Replica, token: str, path: str) -> httpx.Response:
    return httpx.get(replica.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _received(ops: Ops, path: str) -> int:
    return sum(1 for r in ops.upstream.requests() if r["target"] == path.removeprefix("/customer"))


def test_a_routes_rate_limit_is_counted_once_across_replicas(replica_a: Replica, replica_b: Replica, ops: Ops) -> None:
    """ops-limited: 6 a minute per person. Three on each replica use them all."""
    token, path = ops.session("bob@globex.example", "bob-password"), f"/customer/limited/{uuid.uuid4().hex}"
    answers = [_limited(replica, token, path) for replica in (replica_a, replica_b) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 6
    assert [a.headers["ratelimit"].split(";")[1] for a in answers] == ["r=5", "r=4", "r=3", "r=2", "r=1", "r=0"]
    for replica in (replica_a, replica_b):  # each replica has seen three: only the shared count refuses
        refused = _limited(replica, token, path)
        assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
        assert refused.headers["ratelimit-policy"] == '"ops-limited";q=6;w=60'
    assert _received(ops, path) == 6  # the refused requests never reached the upstream
    other = ops.session("carol@acme.example", "carol-password")  # another person's window is their own
    assert _limited(replica_a, other, path).status_code == 200


def test_redis_down_mid_flight_then_back(
    replica_a: Replica, replica_b: Replica, ops: Ops, redis_server: RedisServer
) -> None:
    redis_server.kill()
    for _ in range(3):
        token = ops.session()
        started = time.monotonic()
        assert get(replica_a, token) == 200  # decided by Ory
        assert get(replica_b, token) == 200
        assert get(replica_a, "ory_st_not-a-session") == 401  # never 503, never a false accept
        assert get(replica_b, "ory_st_not-a-session") == 401
        assert time.monotonic() - started < 3
    # rate limits fall back to each replica's own window: neither open nor closed
    token, path = ops.session(), f"/customer/limited/{uuid.uuid4().hex}"
    for replica in (replica_a, replica_b):
        assert [_limited(replica, token, path).status_code for _ in range(7)] == [200] * 6 + [429]
    assert _received(ops, path) == 12  # six per replica while each counts alone
    assert "Redis unavailable" in replica_a.output()
    assert replica_b.metrics_url is not None
    assert metric(httpx.get(replica_b.metrics_url + "/metrics").text, "gateway_shared_cache_errors_total") >= 1

    redis_server.start()

    def shared_again() -> bool:
        token = ops.session()
        calls = ops.whoami_calls()
        return get(replica_a, token) == 200 and get(replica_b, token) == 200 and ops.whoami_calls() == calls + 1

    eventually(shared_again, timeout=8, interval=0.3)
    token = ops.session()  # revocations flow again too
    assert get(replica_a, token) == 200 and get(replica_b, token) == 200
    session_id = ops.session_id(token)
    ops.revoke_at_ory(session_id)
    revoke = ("revoke", "--tenant", "customer", "--session", session_id)
    eventually(
        lambda: run_gateway(*revoke, env=replica_a.env).stdout.startswith("revocation published to 2"), timeout=8
    )
    eventually(lambda: get(replica_a, token) == 401 and get(replica_b, token) == 401, timeout=1.0)
