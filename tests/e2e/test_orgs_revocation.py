"""Memberships that change while cached, on the `orgs` gateways (issue 16): identity metadata
edited and Keto relationships deleted at Ory, then `POST /_gateway/revoke` by subject or by
organization is honoured at once; Keto-backed memberships; malformed metadata."""

from __future__ import annotations

import concurrent.futures
import uuid

import httpx
import pytest

from tests.support.jobs import JOBS, SseStream
from tests.support.orgs import DANA, Orgs, revoke
from tests.support.world import Auth

RUNS = f"/customer{JOBS}/runs"


def org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def runs(gateway_url: str, headers: dict[str, str], choice: str | None = None) -> httpx.Response:
    extra = {"X-Organization-Id": choice} if choice is not None else {}
    return httpx.get(gateway_url + RUNS, headers={**headers, **extra}, timeout=15)


def test_a_metadata_membership_removed_while_cached_is_refused_after_revoke_subject(orgs: Orgs) -> None:
    a, b = org(), org()
    person = orgs.person(
        {"memberships": [{"organization_id": a, "roles": ["member"]}, {"organization_id": b, "roles": ["viewer"]}]}
    )
    url = orgs.metadata.url
    assert runs(url, person.headers, b).status_code == 200
    orgs.set_metadata(person, {"memberships": [{"organization_id": a, "roles": ["member"]}]})
    assert runs(url, person.headers, b).status_code == 200  # cached: bounded by GATEWAY_CACHE_MAX_TTL
    assert revoke(orgs.metadata, "customer", subject=person.id)["evicted_here"] >= 1
    refused = runs(url, person.headers, b)
    assert (refused.status_code, refused.json()["reason"]) == (403, "not_a_member")
    assert runs(url, person.headers).status_code == 200  # one membership left: the default


def test_revoke_by_organization_drops_every_principal_speaking_for_it(orgs: Orgs) -> None:
    a = org()
    person = orgs.person({"organization_id": a, "roles": ["viewer"]})
    assert runs(orgs.metadata.url, person.headers).status_code == 200
    orgs.set_metadata(person, {"organization_id": a, "roles": []})  # demoted
    assert runs(orgs.metadata.url, person.headers).status_code == 200
    revoke(orgs.metadata, "customer", organization=a)
    demoted = runs(orgs.metadata.url, person.headers)
    assert (demoted.status_code, demoted.json()["reason"]) == (403, "missing_role")


def test_an_open_stream_ends_when_its_membership_is_revoked(orgs: Orgs) -> None:
    a, b = org(), org()
    person = orgs.person(
        {"memberships": [{"organization_id": a, "roles": ["viewer"]}, {"organization_id": b, "roles": ["viewer"]}]}
    )
    headers = {**person.headers, "X-Organization-Id": b}
    with SseStream(orgs.metadata.url, f"{RUNS}/subscribe", headers) as stream:
        assert stream.status == 200
        orgs.set_metadata(person, {"memberships": [{"organization_id": a, "roles": ["viewer"]}]})
        revoke(orgs.metadata, "customer", subject=person.id)
        assert stream.ended.wait(10), "the stream must end within the re-check interval"


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"memberships": "org-a"}, "metadata_public.memberships is not a list"),
        ({"memberships": [{"roles": ["member"]}]}, "metadata_public.memberships[0] has no valid organization_id"),
        (
            {"memberships": [{"organization_id": "org-a", "roles": [7]}]},
            "metadata_public.memberships[0].roles must be a list of role names",
        ),
    ],
)
def test_malformed_metadata_is_a_clear_denial(orgs: Orgs, metadata: object, problem: str) -> None:
    person = orgs.person(metadata)
    resp = runs(orgs.metadata.url, person.headers, "org-a")
    assert resp.status_code == 403
    assert resp.json()["reason"] == "memberships_malformed"
    assert resp.json()["error_description"] == f"identity metadata: {problem}"


# --- memberships from Keto ---------------------------------------------------------------------


def test_keto_memberships_choose_like_metadata_ones(orgs: Orgs, auth: Auth) -> None:
    url = orgs.keto.url
    assert runs(url, auth("dana"), "org-globex").status_code == 200
    viewer = httpx.post(
        url + f"/customer{JOBS}/trigger",
        headers={**auth("dana"), "X-Organization-Id": "org-globex"},
        json={"jobName": "echo"},
    )
    assert (viewer.status_code, viewer.json()["reason"]) == (403, "missing_role")
    several = runs(url, auth("dana"))
    assert (several.status_code, several.json()["reason"]) == (400, "organization_required")
    assert runs(url, auth("alice")).status_code == 200  # one Organization tuple: the default
    stranger = runs(url, auth("alice"), "org-globex")
    assert (stranger.status_code, stranger.json()["reason"]) == (403, "not_a_member")


def test_a_cold_burst_with_one_new_keto_membership_makes_one_keto_call(orgs: Orgs) -> None:
    a = org()
    person = orgs.person(None)
    orgs.relate(namespace="Organization", object=a, relation="viewer", subject_id=person.id)
    assert httpx.get(orgs.keto.url + "/customer/me-nothing", headers=person.headers).status_code == 404
    before = orgs.keto_calls("batch_check")
    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(lambda _: runs(orgs.keto.url, person.headers, a).status_code, range(100)))
    assert answers == [200] * 100
    assert orgs.keto_calls("batch_check") - before == 1


def test_a_keto_membership_deleted_while_cached_is_refused_after_revoke(orgs: Orgs) -> None:
    a = org()
    person = orgs.person(None)
    orgs.relate(namespace="Organization", object=a, relation="member", subject_id=person.id)
    assert runs(orgs.keto.url, person.headers, a).status_code == 200
    orgs.unrelate(namespace="Organization", object=a, subject_id=person.id)
    assert runs(orgs.keto.url, person.headers, a).status_code == 200  # cached, bounded
    revoke(orgs.keto, "customer", organization=a)
    refused = runs(orgs.keto.url, person.headers, a)
    assert (refused.status_code, refused.json()["reason"]) == (403, "not_a_member")


def test_keto_faults_on_memberships_are_503(orgs: Orgs, faults: object) -> None:
    a = org()
    person = orgs.person(None)
    orgs.relate(namespace="Organization", object=a, relation="member", subject_id=person.id)
    assert callable(faults)
    faults(project="customer", operation="batch_check", mode="status", status=500)
    resp = runs(orgs.keto.url, person.headers, a)
    assert resp.status_code == 503 and int(resp.headers["retry-after"]) >= 1


def test_a_route_permission_deleted_while_cached_is_refused_after_revoke_organization(orgs: Orgs, auth: Auth) -> None:
    name = f"r-{uuid.uuid4().hex[:8]}"
    orgs.relate(namespace="Report", object=f"org-globex/{name}", relation="view", subject_id=DANA)
    url = orgs.metadata.url + f"/customer/orgs/org-globex/reports/{name}"
    assert httpx.get(url, headers=auth("dana")).status_code == 200
    orgs.unrelate(namespace="Report", object=f"org-globex/{name}")
    assert httpx.get(url, headers=auth("dana")).status_code == 200  # cached, bounded
    revoke(orgs.metadata, "customer", organization="org-globex")
    refused = httpx.get(url, headers=auth("dana"))
    assert (refused.status_code, refused.json()["reason"]) == (403, "permission_denied")
