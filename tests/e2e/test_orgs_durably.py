"""One person in two organizations against the real Durably (issue 16): dana is a member of
org-acme and a viewer of org-globex in the customer tenant, and chooses per request with
`X-Organization-Id`. Every answer is checked, and what Durably received."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.support.durably import RecordedRequest
from tests.support.jobs import JOBS, SseStream, run_id, trigger, wait_status
from tests.support.orgs import DANA
from tests.support.world import Auth, World

MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def acting(auth: Auth, who: str, org: str) -> dict[str, str]:
    return {**auth(who), "X-Organization-Id": org}


def received(world: World) -> list[RecordedRequest]:
    return world.durably.recorder.requests()


def claims(recorded: RecordedRequest) -> dict[str, Any]:
    [assertion] = recorded.header("x-identity-assertion")
    payload = assertion.split(".")[1]
    doc: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return doc


@pytest.fixture()
def http(world: World) -> Any:
    world.durably.recorder.clear()
    with world.client() as client:
        yield client


def tag() -> str:
    return uuid.uuid4().hex[:12]


def test_a_member_of_a_triggers_in_a_with_as_organization_and_roles(world: World, auth: Auth, http: Any) -> None:
    resp = trigger(http, "customer", acting(auth, "dana", "org-acme"), {"jobName": "echo", "input": {}})
    run_id(resp)
    [seen] = received(world)
    assert json.loads(seen.body)["labels"] == {"organizationId": "org-acme", "tenant": "customer"}
    assert (seen.header("x-org-id"), seen.header("x-roles"), seen.header("x-user-id")) == (
        ["org-acme"],
        ["member"],
        [DANA],
    )
    assert seen.header("x-organization-id") == []  # consumed by the gateway
    assert (claims(seen)["org"], claims(seen)["roles"], claims(seen)["sub"]) == ("org-acme", ["member"], DANA)


def test_a_viewer_of_b_is_refused_a_trigger_in_b_and_nothing_is_forwarded(world: World, auth: Auth, http: Any) -> None:
    resp = trigger(http, "customer", acting(auth, "dana", "org-globex"), {"jobName": "echo", "input": {}})
    assert (resp.status_code, resp.json()["reason"]) == (403, "missing_role")
    assert received(world) == []


def test_several_memberships_and_no_choice_is_400(world: World, auth: Auth, http: Any) -> None:
    for method, op in (("GET", "/runs"), ("POST", "/trigger")):
        resp = http.request(method, f"/customer{JOBS}{op}", headers=auth("dana"), json={"jobName": "echo"})
        assert (resp.status_code, resp.json()["reason"]) == (400, "organization_required")
    assert received(world) == []


def test_choosing_b_lists_only_bs_runs_and_never_as(world: World, auth: Auth, http: Any) -> None:
    case = tag()
    job = {"jobName": "echo", "input": {}, "labels": {"case": case}}
    in_acme = run_id(trigger(http, "customer", acting(auth, "dana", "org-acme"), job))
    in_globex = run_id(trigger(http, "customer", auth("bob"), job))
    also_acme = run_id(trigger(http, "customer", auth("alice"), job))
    world.durably.recorder.clear()
    polluted = f"label.organizationId=org-acme&label%2EorganizationId=org-acme&label.case={case}"
    listed = http.get(f"/customer{JOBS}/runs?{polluted}", headers=acting(auth, "dana", "org-globex"))
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [in_globex]
    assert in_acme not in listed.text and also_acme not in listed.text
    [seen] = received(world)
    assert "label.organizationId=org-globex" in seen.path and "org-acme" not in seen.path
    assert seen.header("x-org-id") == ["org-globex"] and seen.header("x-roles") == ["viewer"]
    mine = http.get(f"/customer{JOBS}/runs", params={"label.case": case}, headers=acting(auth, "dana", "org-acme"))
    assert sorted(r["id"] for r in mine.json()) == sorted([in_acme, also_acme])


def test_a_run_of_another_organization_answers_exactly_like_a_missing_one(world: World, auth: Auth, http: Any) -> None:
    mine_in_acme = run_id(
        trigger(
            http, "customer", acting(auth, "dana", "org-acme"), {"jobName": "long-task", "input": {"durationMs": 3000}}
        )
    )
    in_globex = acting(auth, "dana", "org-globex")
    for method, op in (("GET", "/run"), ("GET", "/steps"), ("GET", "/subscribe")):
        theirs = http.request(method, f"/customer{JOBS}{op}", params={"runId": mine_in_acme}, headers=in_globex)
        missing = http.request(method, f"/customer{JOBS}{op}", params={"runId": MISSING}, headers=in_globex)
        assert (theirs.status_code, theirs.content) == (404, b'{"error":"Run not found"}'), op
        assert (missing.status_code, missing.content, missing.headers["content-type"]) == (
            theirs.status_code,
            theirs.content,
            theirs.headers["content-type"],
        )
        assert set(theirs.headers) - {"x-request-id", "date"} == set(missing.headers) - {"x-request-id", "date"}
    own = http.get(f"/customer{JOBS}/run", params={"runId": mine_in_acme}, headers=acting(auth, "dana", "org-acme"))
    assert own.status_code == 200
    http.post(f"/customer{JOBS}/cancel", params={"runId": mine_in_acme}, headers=acting(auth, "dana", "org-acme"))


def test_shared_keys_are_namespaced_by_the_chosen_organization(world: World, auth: Auth, http: Any) -> None:
    key = f"k-{tag()}"
    job = {"jobName": "echo", "input": {}, "idempotencyKey": key}
    dana = trigger(http, "customer", acting(auth, "dana", "org-acme"), job).json()
    bob = trigger(http, "customer", auth("bob"), job).json()
    alice = trigger(http, "customer", auth("alice"), job).json()
    assert dana["runId"] != bob["runId"] and alice == {"runId": dana["runId"], "disposition": "idempotent"}
    keys = [json.loads(r.body)["idempotencyKey"] for r in received(world) if r.path == f"{JOBS}/trigger"]
    assert keys == [f"customer%3Aorg-acme:{key}", f"customer%3Aorg-globex:{key}", f"customer%3Aorg-acme:{key}"]


def test_the_scoped_stream_carries_only_the_chosen_organizations_events(world: World, auth: Auth) -> None:
    case = tag()
    job = {"jobName": "long-task", "input": {"durationMs": 800}, "labels": {"case": case}}
    path = f"/customer{JOBS}/runs/subscribe?label.case={case}"
    with SseStream(world.url, path, acting(auth, "dana", "org-globex")) as stream, world.client() as http:
        assert stream.status == 200
        acme = run_id(trigger(http, "customer", acting(auth, "dana", "org-acme"), job))
        globex = run_id(trigger(http, "customer", auth("bob"), job))
        stream.until(lambda e: e.get("type") == "run:complete" and e.get("runId") == globex, timeout=15)
        wait_status(http, "customer", acting(auth, "dana", "org-acme"), acme, {"completed"})
        events = stream.drain()
    assert {e["runId"] for e in events} == {globex}
    assert {e["labels"]["organizationId"] for e in events} == {"org-globex"}


@pytest.mark.parametrize(
    ("value", "status", "reason"),
    [
        ("ORG-ACME", 403, "not_a_member"),
        ("Org-Acme", 403, "not_a_member"),
        ("org acme", 400, "bad_organization_id"),
        ("org-acme,org-globex", 400, "bad_organization_id"),
        ("org-acme.", 403, "not_a_member"),
        ("org-other", 403, "not_a_member"),
    ],
)
def test_case_and_space_variants_of_the_choice(
    world: World, auth: Auth, http: Any, value: str, status: int, reason: str
) -> None:
    resp = http.get(f"/customer{JOBS}/runs", headers=acting(auth, "dana", value))
    assert (resp.status_code, resp.json()["reason"]) == (status, reason)
    assert received(world) == []


def test_the_access_log_names_the_chosen_organization(world: World, auth: Auth, http: Any) -> None:
    marker = f"req-{tag()}"
    resp = http.get(f"/customer{JOBS}/runs", headers={**acting(auth, "dana", "org-globex"), "X-Request-Id": marker})
    assert resp.status_code == 200

    def logged() -> dict[str, Any] | None:
        for line in world.gateway.output().splitlines():
            if line.startswith("{") and '"duration_ms"' in line and resp.headers["x-request-id"] in line:
                doc: dict[str, Any] = json.loads(line)
                return doc
        return None

    from tests.support.polling import eventually

    line = eventually(logged, timeout=5, what="the access line")
    assert (line["org"], line["principal"], line["rule"]) == ("org-globex", DANA, "customer:jobs-read")
