"""Structured access log, audit lines for denials, no secret ever logged, X-Request-Id everywhere."""

from __future__ import annotations

import httpx

from tests.support.ops import Ops, Replica, access_lines
from tests.support.polling import eventually


def test_one_json_line_per_request_with_the_decision_fields(replica_a: Replica, ops: Ops) -> None:
    token = ops.session()
    resp = httpx.get(replica_a.url + "/customer/echo/log-me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    rid = resp.headers["x-request-id"]  # on a proxied response too
    assert resp.headers.get_list("x-request-id") == [rid]
    eventually(lambda: any(line["request_id"] == rid for line in access_lines(replica_a.output())))
    [line] = [line for line in access_lines(replica_a.output()) if line["request_id"] == rid]
    assert line["tenant"] == "customer"
    assert line["rule"] == "customer:ops-echo"
    assert line["kind"] == "human"
    assert line["principal"] == "11111111-1111-4111-8111-111111111111"
    assert line["org"] == "org-acme"
    assert line["decision"] == "allow"
    assert line["status"] == 200
    assert line["path"] == "/customer/echo/log-me"
    assert line["upstream"] == "inventory"
    assert isinstance(line["duration_ms"], float)
    ory_ms, upstream_ms, duration_ms = line["ory_ms"], line["upstream_ms"], line["duration_ms"]
    assert isinstance(ory_ms, float) and ory_ms > 0  # a fresh token: one whoami
    assert isinstance(upstream_ms, float) and isinstance(duration_ms, float)
    assert 0 < upstream_ms <= duration_ms


def test_denials_are_audited_with_reason_and_request_id(replica_a: Replica) -> None:
    resp = httpx.get(replica_a.url + "/customer/echo/denied")
    assert resp.status_code == 401
    rid = resp.headers["x-request-id"]
    assert resp.json()["request_id"] == rid

    def audit_line() -> bool:
        return any('"event":"denied"' in line and rid in line for line in replica_a.output().splitlines())

    eventually(audit_line)
    # access lines are batched (flushed every 100 ms), audit lines are written at once
    eventually(lambda: any(line["request_id"] == rid for line in access_lines(replica_a.output())))
    [access] = [line for line in access_lines(replica_a.output()) if line["request_id"] == rid]
    assert (access["decision"], access["reason"], access["status"]) == ("deny", "no_credentials", 401)


def test_no_secret_cookie_or_token_is_ever_logged(replica_a: Replica, ops: Ops) -> None:
    session = ops.session()
    other = ops.session("carol@acme.example", "carol-password")
    bad_bearer = "ory_at_this-bearer-token-must-never-be-logged-1234"
    bad_cookie = "cookie-value-must-never-be-logged-5678"
    with httpx.Client(base_url=replica_a.url) as http:
        assert http.get("/customer/echo/a", headers={"Authorization": f"Bearer {session}"}).status_code == 200
        assert http.get("/customer/echo/b", headers={"X-Session-Token": other}).status_code == 200
        assert http.get("/customer/echo/c", headers={"Authorization": f"Bearer {bad_bearer}"}).status_code == 401
        resp = http.get("/customer/echo/d", headers={"Cookie": f"ory_session_customer={bad_cookie}"})
        assert resp.status_code == 401
        resp = http.get(f"/customer/echo/e?access_token={bad_bearer}", headers={"Authorization": f"Bearer {session}"})
        assert resp.status_code == 200
        http.post(
            "/dealer/oauth2/token",
            auth=("partner-inventory", "partner-inventory-secret"),
            data={"grant_type": "client_credentials", "scope": "inventory:read"},
        )
        last = http.get("/healthz").headers["x-request-id"]
    eventually(lambda: last in replica_a.output())
    output = replica_a.output()
    for secret in (session, other, bad_bearer, bad_cookie, "partner-inventory-secret", "ory_st_"):
        assert secret not in output, f"{secret[:12]}... leaked into the log"
