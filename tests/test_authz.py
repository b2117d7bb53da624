"""Authorization: tenant, kind, roles/scopes any-of and all-of, machine scopes as roles, organization."""

from __future__ import annotations

import dataclasses
import logging

import orjson
import pytest

from gateway.authz import authorize, checks
from gateway.errors import Forbidden, StepUpRequired
from gateway.policy.model import Builtin, Requirement
from gateway.principal import Principal
from tests.support.builders import make_route, principal

READ = make_route(
    "/api/durably/runs",
    id="jobs-read",
    allow=(
        Requirement("human", roles_any=("viewer", "member")),
        Requirement("machine", scopes_any=("jobs:read",)),
    ),
    labels="durably",
)
WRITE = make_route(
    "/api/durably/trigger", ("POST",), id="jobs-write", allow=(Requirement("human", roles_any=("member",)),)
)
ALL_ROLES = make_route("/x", id="both", allow=(Requirement("human", roles_all=("a", "b")),))
ALL_SCOPES = make_route("/y", id="scopes", allow=(Requirement("machine", scopes_all=("s1", "s2")),))
MACHINE_ROLE = make_route("/z", id="machine-role", allow=(Requirement("machine", roles_any=("ops",)),))
ANON = make_route("/oauth2/token", ("POST",), id="token", anonymous=True, allow=(), target=Builtin("oauth2_token"))
STEP_UP = make_route("/danger", ("DELETE",), id="danger", allow=(Requirement("human", aal="aal2"),))
RECENT = make_route("/recent", id="recent", allow=(Requirement("human", max_age=300),))
NOW = 1_000_000.0


def denied(route: object, who: Principal | None) -> Forbidden:
    with pytest.raises(Forbidden) as info:
        authorize(route, who, NOW)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize(
    ("route", "who"),
    [
        (READ, principal(roles=("viewer",))),
        (READ, principal(roles=("member", "other"))),
        (READ, principal("machine", scopes=("jobs:read",))),
        (WRITE, principal(roles=("member",))),
        (ALL_ROLES, principal(roles=("a", "b", "c"))),
        (ALL_SCOPES, principal("machine", scopes=("s1", "s2"))),
        (MACHINE_ROLE, principal("machine", scopes=("ops",))),  # a scope doubles as a role
        (MACHINE_ROLE, principal("machine", roles=("ops",))),
        (ANON, None),
        (ANON, principal(tenant="dealer")),
    ],
)
def test_allowed(route: object, who: Principal | None) -> None:
    authorize(route, who, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("route", "who", "reason", "names"),
    [
        (
            WRITE,
            principal(roles=("viewer",)),
            "missing_role",
            "route customer:jobs-write requires one of roles [member]",
        ),
        (READ, principal(roles=()), "missing_role", "one of roles [viewer, member]"),
        (ALL_ROLES, principal(roles=("a",)), "missing_role", "all of roles [a, b]"),
        (ALL_SCOPES, principal("machine", scopes=("s1",)), "missing_scope", "all of scopes [s1, s2]"),
        (READ, principal("machine", scopes=("jobs:write",)), "missing_scope", "one of scopes [jobs:read]"),
        (READ, principal("machine", roles=("jobs:read",)), "missing_scope", "one of scopes [jobs:read]"),
        (WRITE, principal("machine", scopes=("member",)), "kind_not_allowed", "kind [human]"),
        (MACHINE_ROLE, principal(roles=("ops",)), "kind_not_allowed", "kind [machine]"),
        (READ, principal(roles=("viewer",), tenant="dealer"), "wrong_tenant", "tenant customer"),
        (READ, principal(roles=("viewer",), org=None), "no_organization", "an organization"),
        (READ, None, "kind_not_allowed", "an authenticated principal"),
    ],
)
def test_denied_with_fixed_reason(route: object, who: Principal | None, reason: str, names: str) -> None:
    error = denied(route, who)
    assert error.status == 403
    assert error.reason == reason
    assert names in error.description
    body = orjson.loads(error.body())
    assert body["error"] == "forbidden" and body["reason"] == reason
    assert body["error_description"] == error.description


def test_wrong_tenant_is_checked_first_and_leaks_nothing_of_the_caller() -> None:
    who = Principal("human", "dealer", "secret-user", "secret-org", frozenset({"viewer"}), frozenset())
    error = denied(READ, who)
    assert error.reason == "wrong_tenant"
    text = error.body().decode()
    assert "dealer" not in text and "secret" not in text


def test_human_scopes_do_not_count_as_roles() -> None:
    assert denied(MACHINE_ROLE, principal(scopes=("ops",))).reason == "kind_not_allowed"
    human_role_route = make_route("/h", allow=(Requirement("human", roles_any=("ops",)),))
    assert denied(human_role_route, principal(scopes=("ops",))).reason == "missing_role"


def test_decisions_are_logged_with_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="gateway.authz"):
        denied(WRITE, principal(roles=("viewer",)))
        authorize(WRITE, principal(roles=("member",)), NOW)
    deny, allow = caplog.records
    assert (deny.tenant, deny.route, deny.principal, deny.reason) == (  # type: ignore[attr-defined]
        "customer",
        "customer:jobs-write",
        "human-1",
        "missing_role",
    )
    assert allow.reason == "allowed"  # type: ignore[attr-defined]


def test_every_requirement_is_checked_in_decision_order() -> None:
    assert [(check.requirement, check.met) for check in checks(READ, principal(roles=("viewer",), org=None), NOW)] == [
        ("a principal of tenant customer", True),
        ("a principal of kind [human, machine]", True),
        ("one of roles [viewer, member]", True),
        ("an organization (label profile durably)", False),
    ]
    assert list(checks(ANON, principal(), NOW)) == []  # anonymous access: no requirement


def session(aal: str = "aal1", ago: float | None = 0.0) -> Principal:
    person = principal()
    return dataclasses.replace(person, aal=aal, authenticated_at=None if ago is None else NOW - ago)


def test_a_second_factor_route_wants_an_aal2_session() -> None:
    authorize(STEP_UP, session("aal2"), NOW)
    authorize(STEP_UP, session("aal3"), NOW)
    refused = denied(STEP_UP, session("aal1"))
    assert isinstance(refused, StepUpRequired)
    assert (refused.status, refused.code, refused.need, refused.reason) == (
        403,
        "aal2_required",
        "aal2",
        "aal2_required",
    )
    assert isinstance(denied(STEP_UP, session(aal="")), StepUpRequired)  # no level said: not a second factor


def test_a_cached_allow_is_never_reused_for_a_weaker_session() -> None:
    strong, weak = session("aal2"), session("aal1")
    authorize(STEP_UP, strong, NOW)
    authorize(STEP_UP, strong, NOW)  # the allow kept for this principal object
    assert isinstance(denied(STEP_UP, weak), StepUpRequired)


def test_max_age_is_decided_on_every_request_at_its_time() -> None:
    fresh = session(ago=299)
    authorize(RECENT, fresh, NOW)
    with pytest.raises(StepUpRequired) as info:  # the same principal, later: never an allow kept from before
        authorize(RECENT, fresh, NOW + 2)
    assert (info.value.code, info.value.need) == ("reauthentication_required", "refresh")
    assert isinstance(denied(RECENT, session(ago=None)), StepUpRequired)  # no sign-in time: fail closed


def test_the_step_up_body_names_where_a_browser_goes() -> None:
    refused = denied(STEP_UP, session("aal1"))
    assert isinstance(refused, StepUpRequired)
    body = orjson.loads(refused.located("https://login.example/?aal=aal2").body("req-1"))
    assert body == {
        "error": "aal2_required",
        "error_description": "route customer:danger requires a session with a second factor (aal2)",
        "reason": "aal2_required",
        "redirect_browser_to": "https://login.example/?aal=aal2",
        "request_id": "req-1",
    }


def test_session_requirements_are_listed_in_decision_order() -> None:
    both = make_route(
        "/both", id="both-session", allow=(Requirement("human", roles_any=("member",), aal="aal2", max_age=60),)
    )
    found = [(c.requirement, c.met, c.reason) for c in checks(both, session("aal2", ago=61), NOW)]
    assert found[-2:] == [
        ("a session with a second factor (aal2)", True, "aal2_required"),
        ("a sign-in within the last 60 s", False, "reauthentication_required"),
    ]
