"""Attack class "Organization choice": a header naming an organization the caller is not
a member of, two choices that disagree, case and spacing variants, the choice header in
every spelling (consumed, never forwarded). Status and what the upstream received."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.security.support import ALICE, ANONYMOUS, PARTNER, Case, Expect, Sec, check_case, check_status, ids, run_case
from tests.support.rawhttp import Header

EVIL = "org-evil-42"
DANA_ID = "55555555-5555-4555-8555-555555555555"
DANA_GLOBEX = {
    "x-tenant": "customer",
    "x-principal-kind": "human",
    "x-org-id": "org-globex",
    "x-user-id": DANA_ID,
    "x-roles": "viewer",
}
CHOICE_SPELLINGS = ("x-organization-id", "x_organization_id", "x.organization.id", "X-ORGANIZATION-ID")
MACHINE = "partner-inventory:inventory:read"


def allowed(
    case_id: str, headers: Sequence[Header], who: str, identity: dict[str, str], target: str = "/customer/echo/o"
) -> Case:
    upstream = target.split("/", 2)[2]
    expect = Expect("/" + upstream, identity=identity, absent=CHOICE_SPELLINGS, never=(EVIL,))
    return Case(case_id, "GET", target, headers=headers, who=who, expect=expect)


def refused(
    case_id: str,
    headers: Sequence[Header],
    who: str,
    status: int,
    target: str = "/customer/echo/o",
    method: str = "GET",
) -> Case:
    body = b"{}" if method == "POST" else b""
    return Case(case_id, method, target, headers=headers, who=who, status=status, body=body)


CASES = [
    allowed("own-org", [("X-Organization-Id", "org-acme")], "alice", ALICE),
    allowed("own-org-underscore", [("X_Organization_Id", "org-acme")], "alice", ALICE),
    allowed("own-org-dots", [("x.organization.id", "org-acme")], "alice", ALICE),
    allowed("own-org-twice", [("X-Organization-Id", "org-acme"), ("x_organization_id", "org-acme")], "alice", ALICE),
    allowed("own-org-padded", [("X-Organization-Id", "  org-acme ")], "alice", ALICE),
    allowed(
        "own-org-connection-listed",
        [("Connection", "X-Organization-Id"), ("X-Organization-Id", "org-acme")],
        "alice",
        ALICE,
    ),
    refused("other-org", [("X-Organization-Id", EVIL)], "alice", 403),
    refused("other-org-underscore", [("X_Organization_Id", EVIL)], "alice", 403),
    refused("case-variant", [("X-Organization-Id", "ORG-ACME")], "alice", 403),
    refused("trailing-dot", [("X-Organization-Id", "org-acme.")], "alice", 403),
    refused("two-choices", [("X-Organization-Id", "org-acme"), ("X-Organization-Id", EVIL)], "alice", 400),
    refused("two-spellings-disagree", [("X-Organization-Id", "org-acme"), ("X_Organization_Id", EVIL)], "alice", 400),
    refused("folded-list", [("X-Organization-Id", f"org-acme, {EVIL}")], "alice", 400),
    refused("inner-space", [("X-Organization-Id", "org acme")], "alice", 400),
    refused("empty", [("X-Organization-Id", "")], "alice", 400),
    refused("path-traversal-id", [("X-Organization-Id", "../org-acme")], "alice", 400),
    refused("over-long", [("X-Organization-Id", "o" * 129)], "alice", 400),
    refused("several-no-choice", [], "dana", 400),
    refused("viewer-writes", [("X-Organization-Id", "org-globex")], "dana", 403, "/customer/write/o", "POST"),
    allowed("several-chosen", [("X-Organization-Id", "org-globex")], "dana", DANA_GLOBEX),
    refused("machine-other-org", [("X-Organization-Id", EVIL)], MACHINE, 403, target="/dealer/echo/o"),
    allowed("machine-own-org", [("X-Organization-Id", "org-partner")], MACHINE, PARTNER, target="/dealer/echo/o"),
    Case(
        "anonymous-choice-ignored",
        "GET",
        "/customer/public/o",
        headers=[("X-Organization-Id", EVIL)],
        expect=Expect("/public/o", identity=ANONYMOUS, absent=CHOICE_SPELLINGS, never=(EVIL,)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_organization_choice(sec: Sec, case: Case) -> None:
    check_case(sec, case)


def test_forward_auth_answers_with_the_chosen_organization(sec: Sec) -> None:
    case = Case(
        "decisions", "GET", "/decisions/customer/echo/d", headers=[("X-Organization-Id", "org-globex")], who="dana"
    )
    response, seen = run_case(sec, case)
    check_status(response, 200, case.id)
    assert seen == []
    assert response.header_values("x-org-id") == ["org-globex"] and response.header_values("x-roles") == ["viewer"]
    assert response.header_values("x-organization-id") == []
