"""Organizations through the gateway against the real Durably (issue 5, section 5).

Two organizations in one tenant (alice org-acme vs bob org-globex, tenant customer) and
the same organization id in two tenants (alice customer/org-acme vs dave dealer/org-acme).
Every refusal is checked twice: the answer, and what Durably actually received.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.support.durably import RecordedRequest
from tests.support.jobs import JOBS, SseStream, run_id, trigger, wait_status
from tests.support.world import Auth, World

MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a well-formed ULID no run has


def received(world: World) -> list[RecordedRequest]:
    return world.durably.recorder.requests()


def query_pairs(recorded: RecordedRequest) -> list[tuple[str, str]]:
    """The query as Durably's URLSearchParams reads it (decoded once, `+` is a space)."""
    return parse_qsl(recorded.query, keep_blank_values=True)


def label_filters(recorded: RecordedRequest) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for name, value in query_pairs(recorded):
        if name.startswith("label."):
            filters.setdefault(name[len("label.") :], []).append(value)
    return filters


def tag() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture()
def http(world: World) -> Any:
    world.durably.recorder.clear()
    with world.client() as client:
        yield client


# --- trigger and listings -------------------------------------------------------------


def test_trigger_is_stamped_and_listings_are_scoped_by_org_and_tenant(world: World, auth: Auth, http: Any) -> None:
    case = tag()
    job = {"jobName": "echo", "input": {}, "labels": {"case": case}}
    alice = run_id(trigger(http, "customer", auth("alice"), job))
    bob = run_id(trigger(http, "customer", auth("bob"), job))
    dave = run_id(trigger(http, "dealer", auth("dave"), job))

    triggers = [r for r in received(world) if r.path == f"{JOBS}/trigger"]
    assert [json.loads(r.body)["labels"] for r in triggers] == [
        {"case": case, "organizationId": "org-acme", "tenant": "customer"},
        {"case": case, "organizationId": "org-globex", "tenant": "customer"},
        {"case": case, "organizationId": "org-acme", "tenant": "dealer"},
    ]

    world.durably.recorder.clear()
    listed = {
        who: http.get(f"/{tenant}{JOBS}/runs", params={"label.case": case}, headers=auth(who))
        for who, tenant in (("alice", "customer"), ("bob", "customer"), ("dave", "dealer"))
    }
    assert [r["id"] for r in listed["alice"].json()] == [alice]
    assert [r["id"] for r in listed["bob"].json()] == [bob]
    assert [r["id"] for r in listed["dave"].json()] == [dave]
    lists = [r for r in received(world) if r.path.startswith(f"{JOBS}/runs?")]
    assert [label_filters(r) for r in lists] == [
        {"case": [case], "organizationId": ["org-acme"], "tenant": ["customer"]},
        {"case": [case], "organizationId": ["org-globex"], "tenant": ["customer"]},
        {"case": [case], "organizationId": ["org-acme"], "tenant": ["dealer"]},
    ]


POLLUTED_QUERIES = [
    "label.organizationId=org-globex",
    "label%2EorganizationId=org-globex",
    "label%2eorganizationId=org-globex",
    "label.organizationid=org-globex",
    "LABEL.ORGANIZATIONID=org-globex",
    "label.OrganizationId=org-globex",
    "label%252EorganizationId=org-globex",
    "label[organizationId]=org-globex",
    "%6Cabel.organizationId=org-globex",
    "label.organizationId=org-globex&label.organizationId=org-globex",
    "label.organizationId=org-acme&label.organizationId=org-globex",
    "label.organizationId=&label.organizationId",
    "label.tenant=dealer",
    "label.Tenant=dealer&label%2Etenant=dealer",
]


@pytest.mark.parametrize("polluted", POLLUTED_QUERIES)
def test_polluted_list_filters_reach_durably_as_exactly_the_callers(
    world: World, auth: Auth, http: Any, polluted: str
) -> None:
    case = tag()
    bob = run_id(trigger(http, "customer", auth("bob"), {"jobName": "echo", "input": {}, "labels": {"case": case}}))
    dave = run_id(trigger(http, "dealer", auth("dave"), {"jobName": "echo", "input": {}, "labels": {"case": case}}))
    world.durably.recorder.clear()
    resp = http.get(f"/customer{JOBS}/runs?{polluted}&label.case={case}", headers=auth("alice"))
    assert resp.status_code == 200, resp.text
    ids = {r["id"] for r in resp.json()}
    assert bob not in ids and dave not in ids
    [seen] = received(world)
    filters = label_filters(seen)
    assert filters["organizationId"] == ["org-acme"]
    assert filters["tenant"] == ["customer"]
    assert filters["case"] == [case]  # other filters are kept
    assert "globex" not in seen.path and "dealer" not in seen.path
    assert seen.header("x-org-id") == ["org-acme"]


# --- trigger bodies: label pollution ----------------------------------------------------

REFUSED_TRIGGERS: list[tuple[str, bytes, str | None, int]] = [
    ("other org", b'{"jobName":"echo","labels":{"organizationId":"org-globex"}}', "application/json", 403),
    ("escaped key", b'{"jobName":"echo","labels":{"organizationI\\u0064":"org-globex"}}', "application/json", 403),
    (
        "escaped duplicate",
        b'{"jobName":"echo","labels":{"organizationId":"org-acme","organizationI\\u0064":"org-globex"}}',
        "application/json",
        400,
    ),
    (
        "duplicate labels",
        b'{"jobName":"echo","labels":{},"labels":{"organizationId":"org-globex"}}',
        "application/json",
        400,
    ),
    (
        "escaped duplicate field",
        b'{"jobName":"echo","labels":{},"l\\u0061bels":{"organizationId":"org-globex"}}',
        "application/json",
        400,
    ),
    ("case variant", b'{"jobName":"echo","labels":{"OrganizationId":"org-globex"}}', "application/json", 400),
    ("other tenant", b'{"jobName":"echo","labels":{"tenant":"dealer"}}', "application/json", 403),
    ("tenant case variant", b'{"jobName":"echo","labels":{"Tenant":"dealer"}}', "application/json", 400),
    ("non-string label", b'{"jobName":"echo","labels":{"organizationId":["org-acme"]}}', "application/json", 400),
    ("labels not an object", b'{"jobName":"echo","labels":"organizationId=org-globex"}', "application/json", 400),
    ("bad label key", b'{"jobName":"echo","labels":{"a b":"x"}}', "application/json", 400),
    ("array body", b'[{"jobName":"echo"}]', "application/json", 400),
    ("invalid json", b'{"jobName":"echo",', "application/json", 400),
    ("NaN", b'{"jobName":"echo","input":NaN}', "application/json", 400),
    ("not utf-8", b'{"jobName":"echo","labels":{"x":"\xff"}}', "application/json", 400),
    ("text/plain", b'{"jobName":"echo"}', "text/plain", 415),
    ("form", b"jobName=echo&labels.organizationId=org-globex", "application/x-www-form-urlencoded", 415),
    ("no content type", b'{"jobName":"echo"}', None, 415),
    ("latin-1 charset", b'{"jobName":"echo"}', "application/json; charset=latin-1", 415),
    ("non-string key", b'{"jobName":"echo","idempotencyKey":7}', "application/json", 400),
    ("content-encoded", b'{"jobName":"echo"}', "application/json\nContent-Encoding: gzip", 415),
]


@pytest.mark.parametrize(
    ("body", "ctype", "status"), [r[1:] for r in REFUSED_TRIGGERS], ids=[r[0] for r in REFUSED_TRIGGERS]
)
def test_polluted_trigger_bodies_are_refused_and_never_forwarded(
    world: World, auth: Auth, http: Any, body: bytes, ctype: str | None, status: int
) -> None:
    ctype, _, encoding = (ctype or "").partition("\nContent-Encoding: ")
    headers = {**auth("alice"), **({"Content-Type": ctype} if ctype else {})}
    headers |= {"Content-Encoding": encoding} if encoding else {}
    resp = http.post(f"/customer{JOBS}/trigger", content=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert "globex" not in resp.text
    assert received(world) == []


def test_forwarded_trigger_body_is_the_reserialised_one(world: World, auth: Auth, http: Any) -> None:
    raw = b'{ "jobName" : "echo", "input": {"n\\u0061me": "\\u00e9"}, "labels": {"organizationId": "org-acme"} }'
    resp = http.post(
        f"/customer{JOBS}/trigger",
        content=raw,
        headers={**auth("alice"), "Content-Type": "application/json; charset=utf-8"},
    )
    rid = run_id(resp)
    [seen] = received(world)
    assert seen.body == (
        '{"jobName":"echo","input":{"name":"\\u00e9"},"labels":{"organizationId":"org-acme","tenant":"customer"}}'
    )
    assert seen.header("content-type") == ["application/json"]
    assert http.get(f"/customer{JOBS}/run", params={"runId": rid}, headers=auth("alice")).json()["input"] == {
        "name": "é"
    }


# --- shared keys ---------------------------------------------------------------------


def test_idempotency_keys_never_hand_out_another_orgs_run(world: World, auth: Auth, http: Any) -> None:
    key = f"report-{tag()}"
    job = {"jobName": "echo", "input": {}, "idempotencyKey": key}
    alice = trigger(http, "customer", auth("alice"), job).json()
    assert alice["disposition"] == "created"
    again = trigger(http, "customer", auth("alice"), job).json()
    assert again == {"runId": alice["runId"], "disposition": "idempotent"}  # the key works within the org

    bob = trigger(http, "customer", auth("bob"), job).json()
    dave = trigger(http, "dealer", auth("dave"), job).json()
    # bob tries to name alice's namespace himself
    forged = trigger(http, "customer", auth("bob"), {**job, "idempotencyKey": f"customer%3Aorg-acme:{key}"}).json()
    forged2 = trigger(http, "customer", auth("bob"), {**job, "idempotencyKey": f"customer:org-acme:{key}"}).json()
    ids = [alice["runId"], bob["runId"], dave["runId"], forged["runId"], forged2["runId"]]
    assert len(set(ids)) == 5
    assert {bob["disposition"], dave["disposition"], forged["disposition"]} == {"created"}

    keys = [json.loads(r.body).get("idempotencyKey") for r in received(world) if r.path == f"{JOBS}/trigger"]
    assert keys == [
        f"customer%3Aorg-acme:{key}",
        f"customer%3Aorg-acme:{key}",
        f"customer%3Aorg-globex:{key}",
        f"dealer%3Aorg-acme:{key}",
        f"customer%3Aorg-globex:customer%3Aorg-acme:{key}",
        f"customer%3Aorg-globex:customer:org-acme:{key}",
    ]


def test_concurrency_keys_never_coalesce_into_another_orgs_run(world: World, auth: Auth, http: Any) -> None:
    key = f"ck-{tag()}"
    job = {"jobName": "long-task", "input": {"durationMs": 2000}, "concurrencyKey": key}
    first = run_id(trigger(http, "customer", auth("alice"), job))
    wait_status(http, "customer", auth("alice"), first, {"leased"})
    pending = run_id(trigger(http, "customer", auth("alice"), job))  # waits behind `first`: pending
    mine = trigger(http, "customer", auth("alice"), {**job, "coalesce": "skip"}).json()
    assert mine == {"runId": pending, "disposition": "coalesced"}  # the collision exists, within the org
    busy = trigger(http, "customer", auth("alice"), job)
    assert busy.status_code == 409
    assert f'"{key}"' in busy.json()["error"] and "org-acme" not in busy.json()["error"]

    for who, tenant in (("bob", "customer"), ("dave", "dealer")):
        other = trigger(http, tenant, auth(who), {**job, "coalesce": "skip"}).json()
        assert other["disposition"] == "created"
        assert other["runId"] not in (first, pending)
        http.post(f"/{tenant}{JOBS}/cancel", params={"runId": other["runId"]}, headers=auth(who))
    for rid in (pending, first):
        http.post(f"/customer{JOBS}/cancel", params={"runId": rid}, headers=auth("alice"))


# --- run-level calls: existence oracle ---------------------------------------------------

RUN_CALLS = [
    ("GET", "/run"),
    ("GET", "/steps"),
    ("GET", "/subscribe"),
    ("POST", "/retrigger"),
    ("POST", "/cancel"),
    ("DELETE", "/run"),
]


@pytest.mark.parametrize(("intruder", "tenant"), [("bob", "customer"), ("dave", "dealer")])
def test_another_orgs_run_answers_exactly_like_a_missing_run(
    world: World, auth: Auth, http: Any, intruder: str, tenant: str
) -> None:
    victim = run_id(trigger(http, "customer", auth("alice"), {"jobName": "long-task", "input": {"durationMs": 3000}}))
    world.durably.recorder.clear()
    for method, op in RUN_CALLS:
        url = f"/{tenant}{JOBS}{op}"
        theirs = http.request(method, url, params={"runId": victim}, headers=auth(intruder))
        missing = http.request(method, url, params={"runId": MISSING}, headers=auth(intruder))
        assert (theirs.status_code, theirs.content, theirs.headers["content-type"]) == (
            404,
            b'{"error":"Run not found"}',
            "application/json",
        ), (method, op)
        assert (missing.status_code, missing.content, missing.headers["content-type"]) == (
            theirs.status_code,
            theirs.content,
            theirs.headers["content-type"],
        )
        assert set(theirs.headers) - {"x-request-id", "date"} == set(missing.headers) - {"x-request-id", "date"}
    # Durably saw only the gateway's own lookups, each with the canonical run id, no identity
    # headers, and the intruder's own assertion (so a service that checks assertions answers
    # the look-up as the intruder: docs/durably-contract.md, "Defence in depth")
    seen = received(world)
    assert seen, "the gateway looks the run up before refusing"
    orgs = {"bob": "org-globex", "dave": "org-acme"}
    for r in seen:
        assert r.method == "GET"
        assert r.path in (f"{JOBS}/run?runId={victim}", f"{JOBS}/run?runId={MISSING}")
        assert r.header("x-org-id") == [] and r.header("x-user-id") == []
        [assertion] = r.header("x-identity-assertion")
        claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
        assert (claims["tenant"], claims["org"], claims["aud"]) == (tenant, orgs[intruder], "jobs")
    # and alice's run is untouched
    run = http.get(f"/customer{JOBS}/run", params={"runId": victim}, headers=auth("alice")).json()
    assert run["status"] in ("pending", "leased")
    http.post(f"/customer{JOBS}/cancel", params={"runId": victim}, headers=auth("alice"))


@pytest.mark.parametrize(
    "query",
    [
        "runId={mine}&runId={victim}",
        "runId={victim}&runId={mine}",
        "runId=&runId={victim}",
        "runId%3D{victim}",
        "runid={victim}",
        "",
    ],
)
def test_ambiguous_run_ids_are_refused_before_durably(world: World, auth: Auth, http: Any, query: str) -> None:
    victim = run_id(trigger(http, "customer", auth("alice"), {"jobName": "echo", "input": {}}))
    mine = run_id(trigger(http, "customer", auth("bob"), {"jobName": "echo", "input": {}}))
    world.durably.recorder.clear()
    resp = http.get(f"/customer{JOBS}/run?" + query.format(mine=mine, victim=victim), headers=auth("bob"))
    assert resp.status_code == 400
    assert victim not in resp.text
    assert received(world) == []


def test_run_ids_are_forwarded_canonically(world: World, auth: Auth, http: Any) -> None:
    rid = run_id(trigger(http, "customer", auth("alice"), {"jobName": "echo", "input": {}}))
    world.durably.recorder.clear()
    encoded = "".join(f"%{b:02X}" for b in rid.encode())
    resp = http.get(f"/customer{JOBS}/steps?x=1&runId={encoded}&label.organizationId=org-globex", headers=auth("alice"))
    assert resp.status_code == 200
    assert [r.path for r in received(world)][-1] == f"{JOBS}/steps?runId={rid}"


# --- a run's whole life, and what each org can do to it ----------------------------------


def test_own_runs_lifecycle_trigger_read_steps_retrigger_cancel_delete(world: World, auth: Auth, http: Any) -> None:
    a = auth("alice")
    rid = run_id(trigger(http, "customer", a, {"jobName": "send-report", "input": {"steps": 2}}))
    done = wait_status(http, "customer", a, rid, {"completed"})
    assert done["labels"] == {"organizationId": "org-acme", "tenant": "customer"}
    steps = http.get(f"/customer{JOBS}/steps", params={"runId": rid}, headers=a)
    assert steps.status_code == 200 and [s["name"] for s in steps.json()] == ["part-1", "part-2"]

    again = http.post(f"/customer{JOBS}/retrigger", params={"runId": rid}, headers=a)
    assert again.status_code == 200, again.text
    new = again.json()["runId"]
    assert new != rid
    assert wait_status(http, "customer", a, new, {"completed"})["labels"]["organizationId"] == "org-acme"
    # the retriggered run is alice's too: bob cannot see it
    assert http.get(f"/customer{JOBS}/run", params={"runId": new}, headers=auth("bob")).status_code == 404

    long = run_id(trigger(http, "customer", a, {"jobName": "long-task", "input": {"durationMs": 20000}}))
    assert http.post(f"/customer{JOBS}/cancel", params={"runId": long}, headers=a).json() == {"success": True}
    assert wait_status(http, "customer", a, long, {"cancelled"})["status"] == "cancelled"

    deleted = http.delete(f"/customer{JOBS}/run", params={"runId": rid}, headers=a)
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    gone = http.get(f"/customer{JOBS}/run", params={"runId": rid}, headers=a)
    assert (gone.status_code, gone.content) == (404, b'{"error":"Run not found"}')

    for r in received(world):
        if r.path.startswith(f"{JOBS}/") and r.header("x-org-id"):
            assert r.header("x-org-id") == ["org-acme"] and r.header("x-tenant") == ["customer"]
        if r.method in ("POST", "DELETE") and r.path != f"{JOBS}/trigger":
            assert r.query in (f"runId={rid}", f"runId={long}")


# --- live streams ------------------------------------------------------------------------


def test_runs_subscribe_streams_only_the_callers_events_live(world: World, auth: Auth) -> None:
    case = tag()
    world.durably.recorder.clear()
    polluted = (
        f"label.organizationId=org-globex&label%2EorganizationId=org-globex&label.tenant=dealer&label.case={case}"
    )
    with (
        SseStream(world.url, f"/customer{JOBS}/runs/subscribe?{polluted}", auth("alice")) as stream,
        world.client() as http,
    ):
        assert stream.status == 200
        assert stream.response is not None and stream.response.headers["content-type"] == "text/event-stream"
        job = {"jobName": "long-task", "input": {"durationMs": 1200}, "labels": {"case": case}}
        bob = run_id(trigger(http, "customer", auth("bob"), job))
        dave = run_id(trigger(http, "dealer", auth("dave"), job))
        mine = run_id(trigger(http, "customer", auth("alice"), job))
        progress = stream.until(lambda e: e.get("type") == "run:progress")
        # live: the event arrived while the run is still running
        run = http.get(f"/customer{JOBS}/run", params={"runId": mine}, headers=auth("alice")).json()
        assert run["status"] == "leased", "events must arrive while the run runs, not after"
        assert progress["runId"] == mine
        stream.until(lambda e: e.get("type") == "run:complete" and e.get("runId") == mine, timeout=15)
        # the others' runs finished around the same time; give their events every chance to leak
        wait_status(http, "customer", auth("bob"), bob, {"completed"})
        wait_status(http, "dealer", auth("dave"), dave, {"completed"})
        events = stream.drain()
    assert {e["runId"] for e in events} == {mine}
    assert {(e["labels"]["organizationId"], e["labels"]["tenant"]) for e in events} == {("org-acme", "customer")}
    assert {"run:trigger", "run:leased", "run:progress", "run:complete"} <= {e["type"] for e in events}
    [sub] = [r for r in received(world) if r.path.startswith(f"{JOBS}/runs/subscribe")]
    assert label_filters(sub) == {"organizationId": ["org-acme"], "tenant": ["customer"], "case": [case]}


def test_subscribe_to_own_run_streams_live_and_ends(world: World, auth: Auth) -> None:
    with world.client() as http:
        job = {"jobName": "long-task", "input": {"durationMs": 1500}}
        rid = run_id(trigger(http, "dealer", auth("dave"), job))
        with SseStream(world.url, f"/dealer{JOBS}/subscribe", auth("dave"), params={"runId": rid}) as stream:
            assert stream.status == 200
            stream.until(lambda e: e.get("type") == "run:progress")
            assert http.get(f"/dealer{JOBS}/run", params={"runId": rid}, headers=auth("dave")).json()["status"] == (
                "leased"
            )  # live: progress arrives while the run runs
            stream.until(lambda e: e.get("type") == "run:complete", timeout=15)
            assert stream.ended.wait(5), "Durably ends /subscribe after a terminal event"
            events = stream.drain()
    assert {e["runId"] for e in events} == {rid}
    assert {(e["labels"]["organizationId"], e["labels"]["tenant"]) for e in events} == {("org-acme", "dealer")}


def test_subscribe_to_another_tenants_run_of_the_same_org_id_is_not_found(world: World, auth: Auth) -> None:
    with world.client() as http:
        rid = run_id(trigger(http, "customer", auth("alice"), {"jobName": "long-task", "input": {"durationMs": 2000}}))
        world.durably.recorder.clear()
        resp = http.get(f"/dealer{JOBS}/subscribe", params={"runId": rid}, headers=auth("dave"))
        assert (resp.status_code, resp.content) == (404, b'{"error":"Run not found"}')
        assert all(r.path == f"{JOBS}/run?runId={rid}" for r in received(world))
        http.post(f"/customer{JOBS}/cancel", params={"runId": rid}, headers=auth("alice"))


# --- roles and principals ----------------------------------------------------------------


def test_viewer_reads_but_cannot_write(world: World, auth: Auth, http: Any) -> None:
    rid = run_id(trigger(http, "customer", auth("alice"), {"jobName": "long-task", "input": {"durationMs": 3000}}))
    carol = auth("carol")
    assert http.get(f"/customer{JOBS}/run", params={"runId": rid}, headers=carol).status_code == 200
    assert rid in {r["id"] for r in http.get(f"/customer{JOBS}/runs", headers=carol).json()}
    world.durably.recorder.clear()
    writes = [
        http.post(f"/customer{JOBS}/trigger", json={"jobName": "echo"}, headers=carol),
        http.post(f"/customer{JOBS}/cancel", params={"runId": rid}, headers=carol),
        http.post(f"/customer{JOBS}/retrigger", params={"runId": rid}, headers=carol),
        http.delete(f"/customer{JOBS}/run", params={"runId": rid}, headers=carol),
    ]
    assert [(w.status_code, w.json()["reason"]) for w in writes] == [(403, "missing_role")] * 4
    assert received(world) == []
    http.post(f"/customer{JOBS}/cancel", params={"runId": rid}, headers=auth("alice"))


def test_machine_scopes_read_versus_write_and_machine_runs_carry_the_clients_org(
    world: World, auth: Auth, http: Any
) -> None:
    reader = auth("machine:customer-gateway:jobs:read")
    assert http.get(f"/customer{JOBS}/runs", headers=reader).status_code == 200
    world.durably.recorder.clear()
    denied = http.post(f"/customer{JOBS}/trigger", json={"jobName": "echo"}, headers=reader)
    assert (denied.status_code, denied.json()["reason"]) == (403, "missing_scope")
    assert received(world) == []

    writer = auth("machine:partner-inventory:jobs:read jobs:write")
    rid = run_id(trigger(http, "dealer", writer, {"jobName": "echo", "input": {}}))
    [seen] = [r for r in received(world) if r.path == f"{JOBS}/trigger"]
    assert json.loads(seen.body)["labels"] == {"organizationId": "org-partner", "tenant": "dealer"}
    assert seen.header("x-principal-kind") == ["machine"]
    assert seen.header("x-client-id") == ["partner-inventory"]
    assert seen.header("x-org-id") == ["org-partner"]
    # dave (dealer, org-acme) cannot see the partner's run; the partner cannot see dave's
    assert http.get(f"/dealer{JOBS}/run", params={"runId": rid}, headers=auth("dave")).status_code == 404
    listed = http.get(f"/dealer{JOBS}/runs", headers=writer).json()
    assert listed and {r["labels"]["organizationId"] for r in listed} == {"org-partner"}
    # a customer-tenant token is not a dealer-tenant credential
    assert http.get(f"/dealer{JOBS}/runs", headers=reader).status_code == 401


@pytest.mark.parametrize(("method", "op"), [("GET", "/runs"), ("POST", "/trigger"), ("GET", "/runs/subscribe")])
def test_principal_without_organization_is_refused_and_nothing_is_forwarded(
    world: World, auth: Auth, http: Any, method: str, op: str
) -> None:
    kwargs: dict[str, Any] = {"json": {"jobName": "echo"}} if method == "POST" else {}
    resp = http.request(method, f"/customer{JOBS}{op}", headers=auth("nora"), **kwargs)
    assert resp.status_code == 403
    assert resp.json()["reason"] == "no_organization"
    assert received(world) == []


def test_cross_tenant_session_is_not_accepted(world: World, auth: Auth, http: Any) -> None:
    resp = http.get(f"/dealer{JOBS}/runs", headers=auth("alice"))
    assert resp.status_code == 401
    assert received(world) == []
