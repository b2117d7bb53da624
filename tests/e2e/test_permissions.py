"""Route permissions through Ory Permissions end to end (issue 16): the reports route of the
shipped policies (`policies/reports.yaml`), the emulator's Keto, the recording upstream.
Every refusal is checked twice: the answer, and that nothing reached the upstream."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.orgs import DANA, Orgs, report_id
from tests.support.processes import Proc, header_values
from tests.support.rawhttp import build, exchange
from tests.support.world import Auth, World, create_client, emulator_calls

ALICE = "11111111-1111-4111-8111-111111111111"


def report(tenant: str, org: str, name: str) -> str:
    return f"/{tenant}/orgs/{org}/reports/{name}"


@pytest.fixture()
def upstream(world: World) -> Any:
    world.inventory.clear()
    return world.inventory


def machine_token(world: World, tenant: str, client: dict[str, Any], scope: str = "reports:read") -> dict[str, str]:
    resp = httpx.post(
        f"{world.emulator.project_url(tenant)}/oauth2/token",
        auth=(quote(client["client_id"], safe=""), quote(client["client_secret"], safe="")),  # as Hydra decodes them
        data={"grant_type": "client_credentials", "scope": scope},
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_a_subject_set_grant_lets_alice_read_and_the_upstream_sees_her(world: World, auth: Auth, upstream: Any) -> None:
    resp = httpx.get(world.url + report("customer", "org-acme", "q3"), headers=auth("alice"))
    assert resp.status_code == 200, resp.text
    [seen] = upstream.requests()
    assert seen["target"] == "/orgs/org-acme/reports/q3"
    assert header_values(seen, "x-org-id") == ["org-acme"] and header_values(seen, "x-user-id") == [ALICE]


@pytest.mark.parametrize(
    ("who", "org", "name", "status", "reason"),
    [
        ("carol", "org-acme", "q3", 403, "permission_denied"),  # the role holds, the permission does not
        ("bob", "org-acme", "q3", 403, "not_a_member"),  # the path names an organization he is not in
        ("dana", "org-acme", "q3", 403, "permission_denied"),
        ("alice", "org-acme", "forecast", 403, "permission_denied"),
        ("nora", "org-acme", "q3", 403, "not_a_member"),
    ],
)
def test_refusals_forward_nothing(
    world: World, auth: Auth, upstream: Any, who: str, org: str, name: str, status: int, reason: str
) -> None:
    resp = httpx.get(world.url + report("customer", org, name), headers=auth(who))
    assert (resp.status_code, resp.json()["reason"]) == (status, reason)
    assert upstream.requests() == []


def test_dana_reads_globex_as_a_viewer_there(world: World, auth: Auth, upstream: Any) -> None:
    resp = httpx.get(world.url + report("customer", "org-globex", "forecast"), headers=auth("dana"))
    assert resp.status_code == 200, resp.text
    [seen] = upstream.requests()
    assert header_values(seen, "x-org-id") == ["org-globex"] and header_values(seen, "x-roles") == ["viewer"]


def test_header_and_path_that_disagree_are_400(world: World, auth: Auth, upstream: Any) -> None:
    headers = {**auth("dana"), "X-Organization-Id": "org-acme"}
    resp = httpx.get(world.url + report("customer", "org-globex", "forecast"), headers=headers)
    assert (resp.status_code, resp.json()["reason"]) == (400, "organization_conflict")
    same = httpx.get(
        world.url + report("customer", "org-globex", "forecast"), headers={**headers, "X-Organization-Id": "org-globex"}
    )
    assert same.status_code == 200
    assert len(upstream.requests()) == 1


@pytest.mark.parametrize(
    ("extra", "status", "reason"),
    [
        ([("X-Organization-Id", "org-globex"), ("X-Organization-Id", "org-acme")], 400, "organization_conflict"),
        ([("X-Organization-Id", "org-globex"), ("X_Organization_Id", "org-acme")], 400, "organization_conflict"),
        ([("X-Organization-Id", "org-globex"), ("x.organization.id", "org-globex")], 200, None),
        ([("X-Organization-Id", "org-globex"), ("X-Organization-Id", "org-globex")], 200, None),
        ([("X-Organization-Id", " org-globex\t")], 200, None),
        ([("X-Organization-Id", "org-globex, org-acme")], 400, "bad_organization_id"),
    ],
)
def test_duplicate_and_respelt_choices_on_the_wire(
    world: World, auth: Auth, upstream: Any, extra: list[tuple[str, str]], status: int, reason: str | None
) -> None:
    host = world.url.removeprefix("http://")
    headers = [("Host", host), ("Authorization", auth("dana")["Authorization"]), *extra, ("Connection", "close")]
    resp = exchange(world.url, build("GET", report("customer", "org-globex", "forecast"), headers))
    assert resp.status == status, resp.body
    seen = upstream.requests()
    if reason is not None:
        assert resp.json()["reason"] == reason and seen == []  # type: ignore[index]
        return
    [forwarded] = seen
    names = {k.lower().replace("_", "-").replace(".", "-") for k, _ in forwarded["headers"]}
    assert "x-organization-id" not in names  # consumed in every spelling, never forwarded
    assert header_values(forwarded, "x-org-id") == ["org-globex"]


@pytest.mark.parametrize(
    ("segment", "status", "reason"),
    [
        ("q3%2Fx", 400, None),  # refused by the canonical path already (gateway.front.paths)
        ("%2E%2E", 400, None),
        ("q3%23x", 400, "bad_path_parameter"),
        ("q3%40x", 400, "bad_path_parameter"),
        ("q3%3Ax", 400, "bad_path_parameter"),
        ("q3%22x", 400, "bad_path_parameter"),
        ("q3%27x", 400, "bad_path_parameter"),
        ("q3%20x", 400, "bad_path_parameter"),
        ("q3%3Fsubject_id%3Dx", 400, "bad_path_parameter"),
        ("r" * 129, 400, "bad_path_parameter"),
        ("%C3%A9", 400, "bad_path_parameter"),
    ],
)
def test_path_parameters_cannot_inject_into_the_permission_object(
    world: World, auth: Auth, upstream: Any, segment: str, status: int, reason: str | None
) -> None:
    before = emulator_calls(world, "customer", "check")
    host = world.url.removeprefix("http://")
    target = f"/customer/orgs/org-acme/reports/{segment}"
    raw = build(
        "GET", target, [("Host", host), ("Authorization", auth("alice")["Authorization"]), ("Connection", "close")]
    )
    resp = exchange(world.url, raw)
    body = resp.json()
    assert isinstance(body, dict) and resp.status == status and body["error"] == "bad_request"
    assert body.get("reason") == reason
    assert upstream.requests() == [] and emulator_calls(world, "customer", "check") == before


def test_a_bad_organization_segment_is_400(world: World, auth: Auth, upstream: Any) -> None:
    resp = httpx.get(world.url + "/customer/orgs/org-acme%3Ax/reports/q3", headers=auth("alice"))
    assert (resp.status_code, resp.json()["reason"]) == (400, "bad_organization_id")
    upper = httpx.get(world.url + "/customer/orgs/ORG-ACME/reports/q3", headers=auth("alice"))
    assert (upper.status_code, upper.json()["reason"]) == (403, "not_a_member")
    assert upstream.requests() == []


# --- Keto faults: deny with 503, never allow --------------------------------------------------

FAULTS = [
    ({"mode": "drop"}, "down"),
    ({"mode": "delay", "seconds": 3}, "slow"),
    ({"mode": "status", "status": 429, "seconds": 4}, "429"),
    ({"mode": "status", "status": 500}, "500"),
    ({"mode": "status", "status": 502}, "502"),
    ({"mode": "garbage"}, "garbage"),
    ({"mode": "status", "status": 200}, "200 herodot body"),
    ({"mode": "body", "body": {"allowed": "true"}}, "200 allowed as a string"),
    ({"mode": "body", "body": {"allowed": 1}}, "200 allowed as a number"),
    ({"mode": "body", "body": {}}, "200 empty"),
    ({"mode": "body", "body": {"allowed": True}, "status": 201}, "201"),
    ({"mode": "body", "body": {"allowed": True}, "status": 403}, "403 saying allowed"),
]


@pytest.mark.parametrize(("fault", "name"), FAULTS, ids=[n for _, n in FAULTS])
def test_keto_faults_deny_with_503_and_retry_after(
    world: World, auth: Auth, orgs: Orgs, upstream: Any, faults: Any, fault: dict[str, Any], name: str
) -> None:
    name = report_id()
    orgs.relate(namespace="Report", object=f"org-acme/{name}", relation="view", subject_id=ALICE)
    faults(project="customer", operation="check", **fault)
    resp = httpx.get(world.url + report("customer", "org-acme", name), headers=auth("alice"), timeout=15)
    assert resp.status_code == 503, resp.text
    assert int(resp.headers["retry-after"]) >= 1 and resp.json()["error"] == "ory_unavailable"
    if fault.get("status") == 429:
        assert resp.headers["retry-after"] == "4"  # Keto's own
    assert upstream.requests() == []
    world.emulator.control("DELETE", "faults")
    again = httpx.get(world.url + report("customer", "org-acme", name), headers=auth("alice"))
    assert again.status_code == 200  # nothing about the failure was cached


def test_a_200_that_says_no_is_a_real_deny(world: World, auth: Auth, upstream: Any, faults: Any) -> None:
    faults(project="customer", operation="check", mode="body", body={"allowed": False})
    resp = httpx.get(world.url + report("customer", "org-acme", report_id()), headers=auth("alice"))
    assert (resp.status_code, resp.json()["reason"]) == (403, "permission_denied")
    assert upstream.requests() == []


def test_never_a_stale_allow_once_the_cache_bound_has_passed(
    world: World, strict_gateway: Proc, orgs: Orgs, faults: Any
) -> None:
    name = report_id()
    orgs.relate(namespace="Report", object=f"org-acme/{name}", relation="view", subject_id=ALICE)
    alice = world.bearer("alice")
    url = strict_gateway.url + report("customer", "org-acme", name)
    assert httpx.get(url, headers=alice).status_code == 200
    faults(project="customer", path_prefix="/relation-tuples", mode="status", status=500)
    time.sleep(1.3)  # GATEWAY_CACHE_MAX_TTL=1 on the strict gateway: the allow has expired
    assert httpx.get(url, headers=alice).status_code == 503


def test_a_cold_burst_makes_one_keto_call(world: World, auth: Auth, orgs: Orgs) -> None:
    name = report_id()
    orgs.relate(namespace="Report", object=f"org-acme/{name}", relation="view", subject_id=ALICE)
    headers = auth("alice")
    assert httpx.get(world.url + "/customer/api/durably/runs", headers=headers).status_code == 200  # session cached
    before = emulator_calls(world, "customer", "check")
    url = world.url + report("customer", "org-acme", name)
    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(lambda _: httpx.get(url, headers=headers, timeout=30).status_code, range(100)))
    assert statuses == [200] * 100
    assert emulator_calls(world, "customer", "check") - before == 1


# --- subjects: tenants and machines ------------------------------------------------------------


def test_the_same_client_and_organization_in_two_tenants_never_share_an_answer(
    world: World, orgs: Orgs, upstream: Any
) -> None:
    client_id, org, name = f"twin-{report_id()}", "org-twin", report_id()
    body: dict[str, Any] = {"client_id": client_id, "grant_types": ["client_credentials"], "scope": "reports:read"}
    body["metadata"] = {"organization_id": org}
    twins = {tenant: create_client(world, tenant, **body) for tenant in ("customer", "dealer")}
    orgs.relate(namespace="Report", object=f"{org}/{name}", relation="view", subject_id=client_id)  # customer only
    allowed = httpx.get(
        world.url + report("customer", org, name), headers=machine_token(world, "customer", twins["customer"])
    )
    assert allowed.status_code == 200, allowed.text
    before = emulator_calls(world, "dealer", "check")
    refused = httpx.get(
        world.url + report("dealer", org, name), headers=machine_token(world, "dealer", twins["dealer"])
    )
    assert (refused.status_code, refused.json()["reason"]) == (403, "permission_denied")
    assert emulator_calls(world, "dealer", "check") == before + 1  # the dealer tenant's own Keto was asked
    assert len(upstream.requests()) == 1


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        (DANA, "machine_subject_refused"),
        (DANA.upper(), "machine_subject_refused"),
        (f"Organization:org-globex#viewer@{DANA}", "permission_denied"),
        (f"{DANA}#x", "permission_denied"),
        (f"x@{DANA}", "permission_denied"),
    ],
)
def test_machines_that_look_like_people_get_nothing_of_theirs(
    world: World, orgs: Orgs, upstream: Any, client_id: str, reason: str
) -> None:
    """dana may read org-globex/forecast; clients whose ids copy or wrap hers may not."""
    body = {"client_id": client_id, "grant_types": ["client_credentials"], "scope": "reports:read"}
    client = create_client(world, "customer", **body, metadata={"organization_id": "org-globex"})
    resp = httpx.get(
        world.url + report("customer", "org-globex", "forecast"), headers=machine_token(world, "customer", client)
    )
    assert (resp.status_code, resp.json()["reason"]) == (403, reason)
    assert upstream.requests() == []
    httpx.delete(
        f"{world.emulator.project_url('customer')}/admin/clients/{client_id}",
        headers={"Authorization": "Bearer ory_pat_customer_demo"},
    )


def test_a_machine_may_not_choose_another_organization(world: World, upstream: Any) -> None:
    body = {"grant_types": ["client_credentials"], "scope": "reports:read", "metadata": {"organization_id": "org-acme"}}
    client = create_client(world, "customer", **body)
    resp = httpx.get(
        world.url + report("customer", "org-globex", "forecast"), headers=machine_token(world, "customer", client)
    )
    assert (resp.status_code, resp.json()["reason"]) == (403, "not_a_member")
    assert upstream.requests() == []
