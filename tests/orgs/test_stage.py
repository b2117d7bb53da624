"""The organization stage: which organization a request acts for, with which roles."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from gateway.config.settings import CacheSettings
from gateway.errors import BadRequest, Forbidden
from gateway.front.request import RequestView
from gateway.orgs.stage import OrgStage, org_stage
from gateway.ory.pool import OryPool
from gateway.permissions.checker import TenantPermissions
from gateway.policy.model import Forward, Match, Requirement
from gateway.principal import Membership, Principal
from tests.support.builders import make_route
from tests.support.clock import FakeClock
from tests.support.keto import FakeKeto, keto_tenant

ROLES = frozenset({"viewer", "member"})
SCOPED = make_route("/runs", allow=(Requirement("human", roles_any=("viewer", "member")), Requirement("machine")))
OPEN = make_route("/me", allow=(Requirement("human"),))
IN_PATH = dataclasses.replace(make_route("/orgs/{org}/x", allow=(Requirement("human"),)), organization_param="org")
LABELLED = make_route("/api/runs", allow=(Requirement("human"),), target=Forward("jobs"), labels="durably")


def request(org: str | None = None) -> RequestView:
    headers = [(b"x-organization-id", org.encode())] if org is not None else []
    return RequestView(method="GET", path="/x", raw_query=b"", headers=headers, client_ip="127.0.0.1")


def person(*memberships: Membership, problem: str = "") -> Principal:
    org, roles = (memberships[0].organization, memberships[0].roles) if len(memberships) == 1 else (None, frozenset())
    return Principal("human", "a", "u1", org, roles, frozenset(), memberships=memberships, memberships_problem=problem)


ACME, GLOBEX = Membership("org-acme", frozenset({"member"})), Membership("org-globex", frozenset({"viewer"}))


def permissions(keto: FakeKeto | None = None, memberships: str = "metadata") -> TenantPermissions:
    return TenantPermissions(
        keto_tenant(memberships=memberships),
        CacheSettings(),
        OryPool.over("a", (keto or FakeKeto()).client()),
        FakeClock(),
    )


def stage(
    keto: FakeKeto | None = None, memberships: str = "metadata", perms: TenantPermissions | None = None
) -> OrgStage:
    perms = perms or permissions(keto, memberships)
    return org_stage(perms.tenant, perms)


async def choose(st: OrgStage, p: Principal, org: str | None = None, route=SCOPED, params=None) -> Principal:  # type: ignore[no-untyped-def]
    return await st.choose(request(org), Match(route, params or {}, "/x"), p, ROLES)


async def test_one_membership_and_no_choice_is_that_organization_unchanged() -> None:
    alice = person(ACME)
    assert await choose(stage(), alice) is alice


async def test_several_memberships_need_a_choice_on_an_org_scoped_route() -> None:
    dana = person(ACME, GLOBEX)
    for route in (SCOPED, LABELLED):
        with pytest.raises(BadRequest) as caught:
            await choose(stage(), dana, route=route)
        assert caught.value.reason == "organization_required"
    assert await choose(stage(), dana, route=OPEN) is dana  # nothing to choose for


async def test_the_choice_gives_that_memberships_roles_and_one_object_per_organization() -> None:
    dana, st = person(ACME, GLOBEX), stage()
    in_globex = await choose(st, dana, "org-globex")
    assert (in_globex.organization, in_globex.roles) == ("org-globex", frozenset({"viewer"}))
    assert await choose(st, dana, "org-globex") is in_globex  # made once: per-principal caches hold
    in_acme = await choose(st, dana, "org-acme")
    assert (in_acme.organization, in_acme.roles, in_acme.subject) == ("org-acme", frozenset({"member"}), "u1")
    assert await choose(st, dana, "org-acme", route=IN_PATH, params={"org": "org-acme"}) is in_acme


@pytest.mark.parametrize("org", ["org-other", "ORG-ACME", "org-acme."])
async def test_a_choice_that_is_not_a_membership_is_403(org: str) -> None:
    with pytest.raises(Forbidden) as caught:
        await choose(stage(), person(ACME, GLOBEX), org)
    assert caught.value.reason == "not_a_member"


async def test_malformed_metadata_is_a_denial_everywhere() -> None:
    broken = person(problem="identity metadata: metadata_public.memberships is not a list")
    for route in (SCOPED, OPEN):
        with pytest.raises(Forbidden) as caught:
            await choose(stage(), broken, route=route)
        assert caught.value.reason == "memberships_malformed"
        assert caught.value.description == "identity metadata: metadata_public.memberships is not a list"


async def test_machines_keep_their_one_organization() -> None:
    svc = Principal("machine", "a", "svc", "org-acme", frozenset(), frozenset({"jobs:read"}), client_id="svc")
    assert await choose(stage(), svc) is svc
    assert await choose(stage(), svc, "org-acme") is svc
    with pytest.raises(Forbidden) as caught:
        await choose(stage(), svc, "org-globex")
    assert caught.value.reason == "not_a_member"


# -- Keto-backed memberships -----------------------------------------------------------------

KETO_TUPLES = {
    ("Organization", "org-acme", "member", "u1"),
    ("Organization", "org-globex", "viewer", "u1"),
    ("Organization", "org-solo", "viewer", "u2"),
    ("Organization", "org-other", "auditor", "u2"),  # not a role the policies use: not a membership
}


def keto_person(subject: str = "u1") -> Principal:
    return Principal("human", "a", subject, None, frozenset(), frozenset())


async def test_keto_choice_checks_the_policy_roles_in_one_batch() -> None:
    keto = FakeKeto(set(KETO_TUPLES))
    st = stage(keto, "keto")
    base = keto_person()  # the cached session's principal: the same object on every request
    chosen = await asyncio.gather(*(choose(st, base, "org-globex") for _ in range(100)))
    assert {(p.organization, p.roles) for p in chosen} == {("org-globex", frozenset({"viewer"}))}
    assert len({id(p) for p in chosen}) == 1
    assert keto.calls("/relation-tuples/batch/check") == 1 and keto.calls("/relation-tuples") == 0
    with pytest.raises(Forbidden):
        await choose(st, keto_person(), "org-solo")


async def test_keto_without_a_choice_lists_the_organizations() -> None:
    keto = FakeKeto(set(KETO_TUPLES))
    st = stage(keto, "keto")
    solo = await choose(st, keto_person("u2"))
    assert (solo.organization, solo.roles) == ("org-solo", frozenset({"viewer"}))
    with pytest.raises(BadRequest):
        await choose(st, keto_person("u1"))
    nobody = keto_person("u3")
    assert await choose(st, nobody) is nobody
    assert await choose(st, keto_person("u1"), route=OPEN) is not None  # no Keto call needed there
    assert keto.calls("/relation-tuples") == 3


async def test_keto_roles_follow_revocation() -> None:
    keto = FakeKeto(set(KETO_TUPLES))
    perms = permissions(keto, "keto")
    st = stage(perms=perms)
    before = await choose(st, keto_person(), "org-acme")
    keto.tuples.discard(("Organization", "org-acme", "member", "u1"))
    assert await choose(st, keto_person(), "org-acme") == before  # cached
    perms.evict("organization", "org-acme")
    with pytest.raises(Forbidden):
        await choose(st, keto_person(), "org-acme")
