"""The emulator's Ory Permissions API, checked against the Ory Network spec and Keto's rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.emulator import RunningEmulator

from .conftest import ALICE_ID, CUSTOMER_KEY
from .oryspec import SpecChecker

Q3 = {"namespace": "Document", "object": "q3", "relation": "view"}


@pytest.fixture()
def keto(emu: RunningEmulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {CUSTOMER_KEY}"}
    with httpx.Client(base_url=emu.project_url("customer"), headers=headers, timeout=10) as client:
        yield client


def check(keto: httpx.Client, spec: SpecChecker, path: str = "/relation-tuples/check", **query: Any) -> httpx.Response:
    return spec.check(keto.get(path, params=query), network_only=True)


def test_check_mirrors_the_answer_in_the_status(keto: httpx.Client, spec: SpecChecker) -> None:
    allowed = check(keto, spec, namespace="Organization", object="org-a", relation="member", subject_id=ALICE_ID)
    denied = check(keto, spec, namespace="Organization", object="org-a", relation="member", subject_id="bob")
    assert (allowed.status_code, allowed.json()) == (200, {"allowed": True})
    assert (denied.status_code, denied.json()) == (403, {"allowed": False})


def test_check_openapi_always_answers_200(keto: httpx.Client, spec: SpecChecker) -> None:
    path = "/relation-tuples/check/openapi"
    denied = check(keto, spec, path, namespace="Organization", object="org-a", relation="member", subject_id="bob")
    assert (denied.status_code, denied.json()) == (200, {"allowed": False})
    posted = spec.check(keto.post(path, json={**Q3, "subject_id": "bob"}), network_only=True)
    assert (posted.status_code, posted.json()) == (200, {"allowed": True})


@pytest.mark.parametrize(
    ("subject", "depth", "allowed"),
    [
        ("bob", None, True),  # one subject-set hop: Group:finance#member
        ("carol", None, True),  # two hops: Group:auditors#member inside Group:finance#member
        ("bob", 2, True),
        ("bob", 1, False),  # Keto's engine: max-depth 1 never reaches a tuple
        ("carol", 2, False),
        ("carol", 3, True),
        ("dave", None, False),
        ("carol", 99, True),  # above the global maximum (5): the maximum
    ],
)
def test_subject_sets_are_resolved_to_max_depth(
    keto: httpx.Client, spec: SpecChecker, subject: str, depth: int | None, allowed: bool
) -> None:
    query: dict[str, Any] = {**Q3, "subject_id": subject} | ({"max-depth": depth} if depth is not None else {})
    assert check(keto, spec, "/relation-tuples/check/openapi", **query).json() == {"allowed": allowed}


def test_a_direct_tuple_needs_depth_two_like_keto(keto: httpx.Client, spec: SpecChecker) -> None:
    base: dict[str, Any] = {
        "namespace": "Organization",
        "object": "org-a",
        "relation": "member",
        "subject_id": ALICE_ID,
    }
    assert check(keto, spec, **(base | {"max-depth": 1})).status_code == 403
    assert check(keto, spec, **(base | {"max-depth": 2})).status_code == 200


def test_a_subject_set_subject_is_checked_as_a_set(keto: httpx.Client, spec: SpecChecker) -> None:
    subject = {"subject_set.namespace": "Group", "subject_set.object": "finance", "subject_set.relation": "member"}
    assert check(keto, spec, **Q3, **subject).status_code == 200
    other = {**subject, "subject_set.object": "sales"}
    assert check(keto, spec, **Q3, **other).status_code == 403


def test_an_unknown_namespace_is_not_allowed_not_an_error(keto: httpx.Client, spec: SpecChecker) -> None:
    query = {"namespace": "Nope", "object": "x", "relation": "y", "subject_id": ALICE_ID}
    assert check(keto, spec, **query).json() == {"allowed": False}
    assert check(keto, spec, "/relation-tuples/check/openapi", **query).status_code == 200
    listed = spec.check(keto.get("/relation-tuples", params={"namespace": "Nope"}), network_only=True)
    assert listed.status_code == 404
    assert listed.json()["error"]["reason"] == 'Unknown namespace with name "Nope".'


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"namespace": "Document", "object": "q3", "relation": "view"}, "subject is not allowed to be nil"),
        (
            {**Q3, "subject_id": "bob", "subject_set.namespace": "Group"},
            "exactly one of subject_set or subject_id has to be provided",
        ),
        (
            {**Q3, "subject_set.namespace": "Group"},
            'incomplete subject, provide "subject_id" or a complete "subject_set.*"',
        ),
        (
            {"namespace": "Document", "subject_id": "bob"},
            'incomplete tuple, provide "namespace", "object", "relation", and a subject',
        ),
        (
            {**Q3, "subject_id": "bob", "max-depth": "deep"},
            "unable to parse 'max-depth' query parameter to int: 'deep'",
        ),
    ],
)
def test_malformed_checks_are_400(keto: httpx.Client, spec: SpecChecker, query: dict[str, str], message: str) -> None:
    resp = check(keto, spec, **query)
    assert resp.status_code == 400
    assert resp.json()["error"] == {"code": 400, "status": "Bad Request", "message": message}


def test_batch_check_answers_in_order_with_errors_per_tuple(keto: httpx.Client, spec: SpecChecker) -> None:
    tuples = [
        {**Q3, "subject_id": "bob"},
        {**Q3, "subject_id": "dave"},
        {"namespace": "Nope", "object": "x", "relation": "y", "subject_id": "bob"},
        {**Q3, "subject_id": "carol"},
    ]
    resp = spec.check(keto.post("/relation-tuples/batch/check", json={"tuples": tuples}), network_only=True)
    assert resp.status_code == 200
    assert resp.json() == {
        "results": [
            {"allowed": True},
            {"allowed": False},
            {"allowed": False, "error": "The requested resource could not be found"},
            {"allowed": True},
        ]
    }
    too_many = keto.post("/relation-tuples/batch/check", json={"tuples": tuples * 3})
    assert too_many.status_code == 400 and too_many.json()["error"]["message"] == "batch exceeds max size of 10"


def test_relationships_are_listed_filtered_and_paged(keto: httpx.Client, spec: SpecChecker) -> None:
    query = {"namespace": "Group", "object": "finance", "relation": "member"}
    resp = spec.check(keto.get("/relation-tuples", params=query), network_only=True)
    assert resp.json() == {
        "relation_tuples": [
            {**query, "subject_id": "bob"},
            {**query, "subject_set": {"namespace": "Group", "object": "auditors", "relation": "member"}},
        ],
        "next_page_token": "",
    }
    first = keto.get("/relation-tuples", params={**query, "page_size": 1}).json()
    assert first["relation_tuples"] == [{**query, "subject_id": "bob"}] and first["next_page_token"]
    second = keto.get("/relation-tuples", params={**query, "page_size": 1, "page_token": first["next_page_token"]})
    assert second.json()["next_page_token"] == "" and len(second.json()["relation_tuples"]) == 1
    mine = keto.get("/relation-tuples", params={"namespace": "Organization", "subject_id": ALICE_ID}).json()
    assert [t["object"] for t in mine["relation_tuples"]] == ["org-a"]


def test_expand_builds_the_subject_tree(keto: httpx.Client, spec: SpecChecker) -> None:
    resp = spec.check(keto.get("/relation-tuples/expand", params=Q3), network_only=True)
    tree = resp.json()
    assert tree["type"] == "union" and tree["tuple"]["subject_set"] == Q3
    [finance] = tree["children"]
    assert finance["type"] == "union"
    leaves = {c["tuple"].get("subject_id") or c["tuple"]["subject_set"]["object"] for c in finance["children"]}
    assert leaves == {"bob", "auditors"}
    shallow = keto.get("/relation-tuples/expand", params={**Q3, "max-depth": 1}).json()
    assert shallow["type"] == "leaf" and "children" not in shallow
    missing = spec.check(keto.get("/relation-tuples/expand", params={**Q3, "object": "nothing"}), network_only=True)
    assert missing.status_code == 404


def test_namespaces_are_listed(keto: httpx.Client, spec: SpecChecker) -> None:
    resp = spec.check(keto.get("/namespaces"), network_only=True)
    assert resp.json() == {"namespaces": [{"name": "Organization"}, {"name": "Group"}, {"name": "Document"}]}


def test_writes_create_patch_and_delete(keto: httpx.Client, spec: SpecChecker) -> None:
    tuple_ = {"namespace": "Document", "object": "w1", "relation": "view", "subject_id": "erin"}
    created = spec.check(keto.put("/admin/relation-tuples", json=tuple_), network_only=True)
    assert created.status_code == 201 and created.json() == tuple_
    assert created.headers["location"].endswith(
        "/relation-tuples?namespace=Document&object=w1&relation=view&subject_id=erin"
    )
    assert check(keto, spec, **tuple_).status_code == 200
    patch = [
        {"action": "delete", "relation_tuple": tuple_},
        {"action": "insert", "relation_tuple": {**tuple_, "object": "w2"}},
    ]
    assert spec.check(keto.patch("/admin/relation-tuples", json=patch), network_only=True).status_code == 204
    assert check(keto, spec, **tuple_).status_code == 403
    assert check(keto, spec, **{**tuple_, "object": "w2"}).status_code == 200
    gone = keto.delete("/admin/relation-tuples", params={"namespace": "Document", "object": "w2"})
    assert spec.check(gone, network_only=True).status_code == 204
    assert check(keto, spec, **{**tuple_, "object": "w2"}).status_code == 403


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("PUT", {"namespace": "Nope", "object": "x", "relation": "y", "subject_id": "z"}, 404),
        ("PUT", {"namespace": "Document", "object": "x", "relation": "y"}, 400),
        ("PATCH", [{"action": "upsert", "relation_tuple": {**Q3, "subject_id": "z"}}], 400),
        ("PATCH", [{"action": "insert"}], 400),
        (
            "PATCH",
            [
                {"action": "insert", "relation_tuple": {**Q3, "subject_id": "z"}},
                {
                    "action": "insert",
                    "relation_tuple": {"namespace": "Nope", "object": "x", "relation": "y", "subject_id": "z"},
                },
            ],
            404,
        ),
    ],
)
def test_bad_writes_change_nothing(keto: httpx.Client, method: str, body: Any, status: int) -> None:
    before = keto.get("/relation-tuples", params={"namespace": "Document"}).json()
    resp = keto.request(method, "/admin/relation-tuples", json=body)
    assert resp.status_code == status, resp.text
    assert keto.get("/relation-tuples", params={"namespace": "Document"}).json() == before


@pytest.mark.parametrize(
    "path", ["/relation-tuples/check", "/relation-tuples", "/namespaces", "/admin/relation-tuples"]
)
def test_every_permissions_path_needs_the_api_key(emu: RunningEmulator, path: str) -> None:
    resp = httpx.get(emu.project_url("customer") + path, params={**Q3, "subject_id": "bob"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == 401


def test_faults_reach_the_permissions_paths(emu: RunningEmulator, keto: httpx.Client) -> None:
    emu.control("POST", "faults", {"operation": "check", "mode": "status", "status": 429}).raise_for_status()
    limited = keto.get("/relation-tuples/check", params={**Q3, "subject_id": "bob"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    emu.control("DELETE", "faults")
    body = {"path_prefix": "/relation-tuples", "mode": "body", "body": {"allowed": "true"}}
    emu.control("POST", "faults", body).raise_for_status()
    odd = keto.get("/relation-tuples/check", params={**Q3, "subject_id": "dave"})
    assert (odd.status_code, odd.json()) == (200, {"allowed": "true"})
    stats = emu.control("GET", "stats").json()["projects"]["customer"]
    assert stats["check"] == 2
