"""The organization in the URL, against the real Durably through a live gateway:
`/customer/orgs/<org>/api/durably/...` acts for `<org>` (verified membership, its roles, its
labels) and reaches Durably as `/api/durably/...`; and `GET /customer/me` tells a page who
its person is without a credential in the body. Asserts on what Durably received."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.support.durably import RecordedRequest
from tests.support.jobs import SseStream, run_id, wait_status
from tests.support.orgs import DANA, Orgs
from tests.support.seed import browser_login
from tests.support.world import Auth, World

ALICE = "11111111-1111-4111-8111-111111111111"


def org_api(org: str) -> str:
    return f"/customer/orgs/{org}/api/durably"


def received(world: World) -> list[RecordedRequest]:
    return world.durably.recorder.requests()


@pytest.fixture()
def http(world: World) -> Any:
    world.durably.recorder.clear()
    with world.client() as client:
        yield client


def test_the_path_chooses_the_organization_and_durably_sees_only_its_own_paths(
    world: World, auth: Auth, http: Any
) -> None:
    case = uuid.uuid4().hex[:10]
    body = {"jobName": "echo", "input": {}, "labels": {"case": case}}
    mine = run_id(http.post(f"{org_api('org-acme')}/trigger", json=body, headers=auth("dana")))
    [trigger] = received(world)
    assert trigger.path == "/api/durably/trigger"
    assert json.loads(trigger.body)["labels"] == {"case": case, "organizationId": "org-acme", "tenant": "customer"}
    assert (trigger.header("x-org-id"), trigger.header("x-roles"), trigger.header("x-user-id")) == (
        ["org-acme"],
        ["member"],
        [DANA],
    )
    listed = http.get(f"{org_api('org-acme')}/runs", params={"label.case": case}, headers=auth("dana"))
    assert [run["id"] for run in listed.json()] == [mine]
    assert received(world)[-1].path.startswith("/api/durably/runs?")
    assert "label.organizationId=org-acme" in received(world)[-1].query
    # the same person in org-globex, where she is a viewer: reads yes, triggers no
    assert http.get(f"{org_api('org-globex')}/runs", params={"label.case": case}, headers=auth("dana")).json() == []
    before = len(received(world))
    refused = http.post(f"{org_api('org-globex')}/trigger", json=body, headers=auth("dana"))
    assert (refused.status_code, refused.json()["reason"]) == (403, "missing_role")
    run = http.get(f"{org_api('org-globex')}/run", params={"runId": mine}, headers=auth("dana"))
    assert run.status_code == 404  # org-acme's run does not exist in org-globex
    assert [r.path for r in received(world)[before:]] == [f"/api/durably/run?runId={mine}"]  # the owner look-up only


def test_run_actions_work_through_the_organizations_url(world: World, auth: Auth, http: Any) -> None:
    api, dana = org_api("org-acme"), auth("dana")
    run = run_id(http.post(f"{api}/trigger", json={"jobName": "send-report", "input": {"steps": 1}}, headers=dana))
    acme = "customer/orgs/org-acme"  # the organization's URL stands where the tenant prefix would
    wait_status(http, acme, dana, run, {"completed"})
    again = http.post(f"{api}/retrigger", params={"runId": run}, headers=dana)
    assert again.status_code == 200, again.text
    wait_status(http, acme, dana, again.json()["runId"], {"completed"})
    assert http.delete(f"{api}/run", params={"runId": run}, headers=dana).json() == {"success": True}
    slow = {"jobName": "long-task", "input": {"durationMs": 20000}}
    long = run_id(http.post(f"{api}/trigger", json=slow, headers=dana))
    assert http.post(f"{api}/cancel", params={"runId": long}, headers=dana).json() == {"success": True}
    paths = {r.path.split("?")[0] for r in received(world)}
    assert paths <= {f"/api/durably/{op}" for op in ("trigger", "run", "retrigger", "cancel")}


def test_a_header_naming_another_organization_is_400_and_nothing_is_forwarded(
    world: World, auth: Auth, http: Any
) -> None:
    headers = {**auth("dana"), "X-Organization-Id": "org-acme"}
    for method, op in (("GET", "/runs"), ("POST", "/trigger"), ("GET", "/runs/subscribe")):
        resp = http.request(method, f"{org_api('org-globex')}{op}", headers=headers, json={"jobName": "echo"})
        assert (resp.status_code, resp.json()["reason"]) == (400, "organization_conflict")
    same = http.get(f"{org_api('org-acme')}/runs", headers=headers)  # the same organization twice: one choice
    assert same.status_code == 200
    assert [r.path.split("?")[0] for r in received(world)] == ["/api/durably/runs"]


def test_an_organization_the_caller_is_not_in_is_403(world: World, auth: Auth, http: Any) -> None:
    for who, org in (("alice", "org-globex"), ("dana", "org-initech"), ("dana", "ORG-ACME")):
        resp = http.get(f"{org_api(org)}/runs", headers=auth(who))
        assert (resp.status_code, resp.json()["reason"]) == (403, "not_a_member")
    machine = auth("machine:customer-gateway:jobs:read")  # client of org-acme
    assert http.get(f"{org_api('org-acme')}/runs", headers=machine).status_code == 200
    assert http.get(f"{org_api('org-globex')}/runs", headers=machine).json()["reason"] == "not_a_member"
    assert len(received(world)) == 1


def test_the_organizations_stream_carries_only_its_events(world: World, auth: Auth, http: Any) -> None:
    case = uuid.uuid4().hex[:10]
    stream = SseStream(world.url, f"{org_api('org-globex')}/runs/subscribe", auth("dana"))
    try:
        assert stream.status == 200
        job = {"jobName": "echo", "input": {}, "labels": {"case": case}}
        in_acme = run_id(http.post(f"{org_api('org-acme')}/trigger", json=job, headers=auth("dana")))
        in_globex = run_id(http.post("/customer/api/durably/trigger", json=job, headers=auth("bob")))
        event = stream.until(lambda e: isinstance(e, dict) and e.get("runId") == in_globex, timeout=15)
        assert event["labels"]["organizationId"] == "org-globex"
        assert all(e.get("runId") != in_acme for e in stream.seen if isinstance(e, dict))
    finally:
        stream.close()


# --- me ------------------------------------------------------------------------------------


def test_me_lists_a_persons_memberships_and_never_a_credential(world: World) -> None:
    token = world.session("dana")
    with world.client() as http:
        me = http.get("/customer/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.headers["cache-control"] == "no-store"
        assert me.json() == {
            "subject": DANA,
            "kind": "human",
            "organization": None,  # two memberships and no choice
            "memberships": [
                {"organization_id": "org-acme", "roles": ["member"]},
                {"organization_id": "org-globex", "roles": ["viewer"]},
            ],
            "aal": "aal1",
        }
        bearer = {"Authorization": f"Bearer {token}"}
        chosen = http.get("/customer/me", headers={**bearer, "X-Organization-Id": "org-globex"})
        assert chosen.json()["organization"] == "org-globex"
        other = http.get("/customer/me", headers={**bearer, "X-Organization-Id": "org-x"})
        assert (other.status_code, other.json()["reason"]) == (403, "not_a_member")
        kratos = world.emulator.project_url("customer")
        whoami = httpx.get(f"{kratos}/sessions/whoami", headers={"X-Session-Token": token})
        session_id = whoami.json()["id"]
        for answer in (me, chosen):
            assert token not in answer.text and session_id not in answer.text
            assert token.split("_")[-1] not in answer.text


def test_me_with_the_browser_cookie_and_for_a_machine(world: World, auth: Auth) -> None:
    name, cookie = browser_login(world.emulator.base_url, "customer", "alice@acme.example", "alice-password")
    with world.client() as http:
        me = http.get("/customer/me", headers={"Cookie": f"{name}={cookie}"})
        assert me.json()["subject"] == ALICE and me.json()["organization"] == "org-acme"
        assert me.json()["memberships"] == [{"organization_id": "org-acme", "roles": ["member"]}]
        assert cookie not in me.text and "set-cookie" not in me.headers
        machine = http.get("/customer/me", headers=auth("machine:customer-gateway:jobs:read"))
        assert machine.json() == {
            "subject": "customer-gateway",
            "kind": "machine",
            "organization": "org-acme",
            "memberships": [{"organization_id": "org-acme", "roles": []}],
            "aal": None,
        }
        assert http.get("/customer/me").status_code == 401


def test_me_reads_memberships_from_keto_when_the_tenant_does(orgs: Orgs, world: World) -> None:
    token = world.session("dana")
    resp = httpx.get(f"{orgs.keto.url}/customer/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["memberships"] == [
        {"organization_id": "org-acme", "roles": ["member"]},
        {"organization_id": "org-globex", "roles": ["viewer"]},
    ]
