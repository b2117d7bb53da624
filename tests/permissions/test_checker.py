"""A route's permission for one caller: the tuple asked, the answer cached, what is refused."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from gateway.config.settings import CacheSettings
from gateway.errors import BadRequest, Forbidden, ServiceUnavailable
from gateway.ory.pool import OryPool
from gateway.permissions.checker import TenantPermissions, permission_tuple
from gateway.permissions.template import compile_template
from gateway.policy.model import Match, Permission, Requirement
from gateway.principal import Principal
from tests.support.builders import make_route, principal
from tests.support.clock import FakeClock
from tests.support.keto import FakeKeto, keto_tenant

READ = Permission("Report", "{org}/{report}", "view", compile_template("{org}/{report}", ("report",)))
ROUTE = make_route(
    "/reports/{report}", allow=(Requirement("human", permission=READ), Requirement("machine", permission=READ))
)
ALICE = dataclasses.replace(principal(org="org-a"), subject="11111111-1111-4111-8111-111111111111", tenant="a")


def match(report: str = "q3") -> Match:
    return Match(ROUTE, {"report": report}, f"/reports/{report}")


def permissions(keto: FakeKeto, clock: FakeClock | None = None) -> TenantPermissions:
    return TenantPermissions(
        keto_tenant(), CacheSettings(max_ttl=60, negative_ttl=5), OryPool.over("a", keto.client()), clock or FakeClock()
    )


async def test_allowed_then_cached() -> None:
    keto = FakeKeto({("Report", "org-a/q3", "view", ALICE.subject)})
    checker = permissions(keto)
    await checker.require(match(), ALICE)
    await checker.require(match(), ALICE)
    assert keto.calls("/relation-tuples/check") == 1


async def test_denied_is_403_naming_the_tuple_and_cached_negatively() -> None:
    keto, clock = FakeKeto(), FakeClock()
    checker = permissions(keto, clock)
    for _ in range(2):
        with pytest.raises(Forbidden) as caught:
            await checker.require(match(), ALICE)
        assert caught.value.reason == "permission_denied"
        assert "requires permission Report:org-a/q3#view" in caught.value.description
    assert keto.calls("/relation-tuples/check") == 1
    clock.advance(6)
    keto.tuples.add(("Report", "org-a/q3", "view", ALICE.subject))
    await checker.require(match(), ALICE)


async def test_a_cold_burst_makes_one_keto_call() -> None:
    keto = FakeKeto({("Report", "org-a/q3", "view", ALICE.subject)})
    checker = permissions(keto)
    await asyncio.gather(*(checker.require(match(), ALICE) for _ in range(100)))
    assert keto.calls("/relation-tuples/check") == 1


@pytest.mark.parametrize("report", ["a/b", "..", "x#y", "x@y", "x:y", 'x"y', "x y", "x\x00", "r" * 129])
async def test_hostile_parameters_are_400_and_never_reach_keto(report: str) -> None:
    keto = FakeKeto()
    with pytest.raises(BadRequest) as caught:
        await permissions(keto).require(match(report), ALICE)
    assert caught.value.reason == "bad_path_parameter" and keto.seen == []


async def test_no_organization_for_an_org_template_is_403() -> None:
    keto = FakeKeto()
    with pytest.raises(Forbidden) as caught:
        await permissions(keto).require(match(), dataclasses.replace(ALICE, organization=None))
    assert caught.value.reason == "no_organization" and keto.seen == []


@pytest.mark.parametrize("client_id", [ALICE.subject, ALICE.subject.upper(), ALICE.subject.replace("-", "")])
async def test_a_client_id_shaped_like_an_identity_id_is_refused(client_id: str) -> None:
    keto = FakeKeto({("Report", "org-a/q3", "view", ALICE.subject)})
    machine = Principal("machine", "a", client_id, "org-a", frozenset(), frozenset(), client_id=client_id)
    with pytest.raises(Forbidden) as caught:
        await permissions(keto).require(match(), machine)
    assert caught.value.reason == "machine_subject_refused" and keto.seen == []


@pytest.mark.parametrize("client_id", ["Organization:org-a#member@" + ALICE.subject, "a#b", "x@y", "svc:1"])
async def test_odd_client_ids_are_asked_about_as_themselves(client_id: str) -> None:
    keto = FakeKeto({("Report", "org-a/q3", "view", ALICE.subject)})
    machine = Principal("machine", "a", client_id, "org-a", frozenset(), frozenset(), client_id=client_id)
    with pytest.raises(Forbidden):
        await permissions(keto).require(match(), machine)
    assert keto.seen[0].url.params["subject_id"] == client_id


async def test_people_and_machines_never_share_an_answer() -> None:
    keto = FakeKeto({("Report", "org-a/q3", "view", "svc")})
    checker = permissions(keto)
    machine = Principal("machine", "a", "svc", "org-a", frozenset(), frozenset(), client_id="svc")
    await checker.require(match(), machine)
    person = dataclasses.replace(ALICE, subject="svc")
    await checker.require(match(), person)  # asked again: the cache key has the kind
    assert keto.calls("/relation-tuples/check") == 2


async def test_keto_faults_deny_with_503_and_leave_nothing_cached() -> None:
    keto = FakeKeto({("Report", "org-a/q3", "view", ALICE.subject)}, fault=httpx.Response(500))
    checker = permissions(keto)
    with pytest.raises(ServiceUnavailable):
        await checker.require(match(), ALICE)
    keto.fault = None
    await checker.require(match(), ALICE)


def test_the_tuple_is_what_explain_shows() -> None:
    assert str(permission_tuple(ROUTE, READ, {"report": "q3"}, ALICE)) == f"Report:org-a/q3#view@{ALICE.subject}"


async def test_a_route_without_permission_asks_nothing() -> None:
    keto = FakeKeto()
    plain = make_route("/x")
    await permissions(keto).require(Match(plain, {}, "/x"), ALICE)
    assert keto.seen == []
