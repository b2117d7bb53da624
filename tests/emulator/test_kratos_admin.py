"""Kratos admin API: identities and sessions, with spec and SDK-model checks."""

from __future__ import annotations

import uuid

import httpx
import ory_client

from .conftest import ALICE_ID, ORG_A_UUID
from .kratos_helpers import api_login
from .oryspec import SpecChecker, parsed

NOT_FOUND = {"error": {"code": 404, "status": "Not Found", "message": "Unable to locate the resource"}}


def _create(customer: httpx.Client, headers: dict[str, str], email: str, **extra: object) -> httpx.Response:
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"password": "pw-123456"}}},
        **extra,
    }
    return customer.post("/admin/identities", json=body, headers=headers)


def test_admin_requires_api_key(customer: httpx.Client, spec: SpecChecker) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        response = spec.check(customer.get(f"/admin/identities/{ALICE_ID}", headers=headers))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == 401
        assert response.json()["error"]["status"] == "Unauthorized"


def test_get_identity(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    response = spec.check(customer.get(f"/admin/identities/{ALICE_ID}", headers=admin_headers))
    identity = parsed(ory_client.Identity, response.text)
    assert identity.organization_id == ORG_A_UUID
    assert identity.metadata_admin == {"note": "vip"}
    assert identity.credentials is not None and identity.credentials["password"].config == {}
    assert identity.credentials["password"].identifiers == ["alice@example.com"]
    with_creds = spec.check(
        customer.get(f"/admin/identities/{ALICE_ID}?include_credential=password", headers=admin_headers)
    )
    assert with_creds.json()["credentials"]["password"]["config"]["hashed_password"].startswith("$pbkdf2")


def test_get_identity_errors(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        response = spec.check(customer.get(f"/admin/identities/{bad}", headers=admin_headers))
        assert response.status_code == 404 and response.json() == NOT_FOUND
    bad_include = customer.get(f"/admin/identities/{ALICE_ID}?include_credential=nope", headers=admin_headers)
    assert bad_include.status_code == 400


def test_create_list_delete_identity(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    org = str(uuid.uuid4())
    created = spec.check(
        _create(
            customer,
            admin_headers,
            "new@example.com",
            organization_id=org,
            metadata_public={"organization_id": "org-n", "roles": ["viewer"]},
        )
    )
    assert created.status_code == 201
    identity = parsed(ory_client.Identity, created.text)
    assert _create(customer, admin_headers, "new@example.com").status_code == 409
    listed = spec.check(customer.get(f"/admin/identities?organization_id={org}", headers=admin_headers))
    assert [i["id"] for i in listed.json()] == [str(identity.id)]
    by_identifier = customer.get("/admin/identities?credentials_identifier=new@example.com", headers=admin_headers)
    assert [i["id"] for i in by_identifier.json()] == [str(identity.id)]
    by_ids = customer.get(
        "/admin/identities", params=[("ids", str(identity.id)), ("ids", ALICE_ID)], headers=admin_headers
    )
    assert sorted(i["id"] for i in by_ids.json()) == sorted([str(identity.id), ALICE_ID])
    login = api_login(customer, "new@example.com", "pw-123456")
    deleted = spec.check(customer.delete(f"/admin/identities/{identity.id}", headers=admin_headers))
    assert deleted.status_code == 204
    assert customer.get(f"/admin/identities/{identity.id}", headers=admin_headers).status_code == 404
    assert customer.get("/sessions/whoami", headers={"X-Session-Token": login["session_token"]}).status_code == 401


def test_create_identity_validation(customer: httpx.Client, admin_headers: dict[str, str]) -> None:
    no_traits = customer.post("/admin/identities", json={"schema_id": "default"}, headers=admin_headers)
    assert no_traits.status_code == 400
    bad_org = _create(customer, admin_headers, "x1@example.com", organization_id="org-a")
    assert bad_org.status_code == 400


def test_list_identities_pagination(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    first = spec.check(customer.get("/admin/identities?page_size=2", headers=admin_headers))
    assert len(first.json()) == 2
    assert 'rel="first"' in first.headers["link"] and 'rel="next"' in first.headers["link"]
    seen = [i["id"] for i in first.json()]
    link = first.headers["link"]
    while 'rel="next"' in link:
        next_url = link.split(",")[-1].split(";")[0].strip("<> ")
        assert next_url.startswith("/customer/admin/identities?")
        page = httpx.get(str(customer.base_url.join("/")) + next_url.lstrip("/"), headers=admin_headers)
        seen += [i["id"] for i in page.json()]
        link = page.headers["link"]
    everything = customer.get("/admin/identities", headers=admin_headers).json()
    assert seen == [i["id"] for i in everything]
    [ory_client.Identity.from_dict(i) for i in everything]


def test_admin_sessions(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    login = api_login(customer, "alice@example.com", "alice-pass-1")
    sid = login["session"]["id"]
    got = spec.check(customer.get(f"/admin/sessions/{sid}?expand=identity", headers=admin_headers))
    assert parsed(ory_client.Session, got.text).identity is not None
    listed = spec.check(customer.get(f"/admin/identities/{ALICE_ID}/sessions", headers=admin_headers))
    assert sid in [s["id"] for s in listed.json()]
    everything = spec.check(customer.get("/admin/sessions?active=true", headers=admin_headers))
    assert sid in [s["id"] for s in everything.json()]
    disabled = spec.check(customer.delete(f"/admin/sessions/{sid}", headers=admin_headers))
    assert disabled.status_code == 204 and disabled.content == b""
    assert customer.get(f"/admin/sessions/{sid}", headers=admin_headers).json()["active"] is False
    assert customer.get("/sessions/whoami", headers={"X-Session-Token": login["session_token"]}).status_code == 401


def test_disable_session_errors(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    bad = spec.check(customer.delete("/admin/sessions/abc", headers=admin_headers))
    assert bad.status_code == 400
    assert bad.json() == {
        "error": {"code": 400, "status": "Bad Request", "message": 'uuid: incorrect UUID length 3 in string "abc"'}
    }
    unknown = customer.delete(f"/admin/sessions/{uuid.uuid4()}", headers=admin_headers)
    assert unknown.status_code == 404 and unknown.json() == NOT_FOUND


def test_delete_identity_sessions(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    tokens = [api_login(customer, "alice@example.com", "alice-pass-1")["session_token"] for _ in range(2)]
    response = spec.check(customer.delete(f"/admin/identities/{ALICE_ID}/sessions", headers=admin_headers))
    assert response.status_code == 204
    for token in tokens:
        assert customer.get("/sessions/whoami", headers={"X-Session-Token": token}).status_code == 401
    assert customer.delete(f"/admin/identities/{uuid.uuid4()}/sessions", headers=admin_headers).status_code == 404


def test_unknown_path_and_project(emu_base: str, customer: httpx.Client) -> None:
    unknown = customer.get("/no/such/path")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == 404
    project = httpx.get(f"{emu_base}/no-such-project/sessions/whoami")
    assert project.status_code == 404 and project.json()["error"]["status"] == "Not Found"


def test_update_identity_replaces_metadata_seen_by_whoami(
    customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker
) -> None:
    created = _create(customer, admin_headers, "upd@example.com", metadata_public={"organization_id": "org-a"}).json()
    token = api_login(customer, "upd@example.com", "pw-123456")["session_token"]
    memberships = [{"organization_id": "org-a", "roles": ["member"]}, {"organization_id": "org-b", "roles": []}]
    body = {"schema_id": "default", "traits": {"email": "upd@example.com"}, "state": "active"}
    updated = spec.check(
        customer.put(
            f"/admin/identities/{created['id']}",
            json={**body, "metadata_public": {"memberships": memberships}},
            headers=admin_headers,
        )
    )
    identity = parsed(ory_client.Identity, updated.text)
    assert identity.metadata_public == {"memberships": memberships}
    whoami = customer.get("/sessions/whoami", headers={"X-Session-Token": token}).json()
    assert whoami["identity"]["metadata_public"] == {"memberships": memberships}
    cleared = customer.put(f"/admin/identities/{created['id']}", json=body, headers=admin_headers)
    assert cleared.json()["metadata_public"] is None  # PUT replaces: absent metadata is cleared
    assert api_login(customer, "upd@example.com", "pw-123456")["session"]["active"] is True


def test_update_identity_errors(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    body = {"schema_id": "default", "traits": {"email": "nobody@example.com"}, "state": "active"}
    missing = spec.check(customer.put(f"/admin/identities/{uuid.uuid4()}", json=body, headers=admin_headers))
    assert missing.status_code == 404 and missing.json() == NOT_FOUND
    no_traits = customer.put(f"/admin/identities/{ALICE_ID}", json={"schema_id": "default"}, headers=admin_headers)
    assert no_traits.status_code == 400
    taken = customer.put(
        f"/admin/identities/{ALICE_ID}",
        json={**body, "traits": {"email": "mfa@example.com"}},
        headers=admin_headers,
    )
    assert taken.status_code == 409
    assert customer.get(f"/admin/identities/{ALICE_ID}", headers=admin_headers).json()["traits"]["email"] == (
        "alice@example.com"
    )
