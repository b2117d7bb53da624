"""Memberships from identity metadata: both forms, and every malformed shape as a problem."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.orgs.memberships import Memberships, read_memberships
from gateway.principal import Membership

LIST, ORGS, ROLES = (
    "metadata_public.memberships",
    ("metadata_public.organization_id", "organization_id"),
    "metadata_public.roles",
)


def read(metadata: Any, **identity: Any) -> Memberships:
    return read_memberships({"metadata_public": metadata, **identity}, LIST, ORGS, ROLES)


def m(org: str, *roles: str) -> Membership:
    return Membership(org, frozenset(roles))


def test_the_list_form() -> None:
    got = read({"memberships": [{"organization_id": "a", "roles": ["member"]}, {"organization_id": "b", "roles": []}]})
    assert got == Memberships((m("a", "member"), m("b")))
    assert got.default == (None, frozenset())


def test_the_single_form_is_a_list_of_one() -> None:
    got = read({"organization_id": "org-1", "roles": ["viewer", "member"]})
    assert got.items == (m("org-1", "viewer", "member"),) and got.default == ("org-1", frozenset({"viewer", "member"}))


def test_the_single_form_falls_back_to_kratos_organization_id() -> None:
    got = read(None, organization_id="0c8a5f4e-1111-4a1b-9c2d-00000000000a")
    assert got.default == ("0c8a5f4e-1111-4a1b-9c2d-00000000000a", frozenset())


def test_roles_without_an_organization_stay_roles_outside_any() -> None:
    got = read({"roles": ["member"]})
    assert got.items == () and got.default == (None, frozenset({"member"}))


def test_no_metadata_at_all() -> None:
    assert read(None) == Memberships(())


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"memberships": "org-a"}, "metadata_public.memberships is not a list"),
        ({"memberships": {"organization_id": "a"}}, "metadata_public.memberships is not a list"),
        ({"memberships": ["a"]}, "metadata_public.memberships[0] is not an object"),
        ({"memberships": [{"roles": ["member"]}]}, "metadata_public.memberships[0] has no valid organization_id"),
        ({"memberships": [{"organization_id": "", "roles": []}]}, "[0] has no valid organization_id"),
        ({"memberships": [{"organization_id": 7, "roles": []}]}, "[0] has no valid organization_id"),
        ({"memberships": [{"organization_id": "a b", "roles": []}]}, "[0] has no valid organization_id"),
        ({"memberships": [{"organization_id": "a/b", "roles": []}]}, "[0] has no valid organization_id"),
        ({"memberships": [{"organization_id": "a"}]}, "[0] has no roles (use [] for none)"),
        ({"memberships": [{"organization_id": "a", "roles": "member"}]}, "[0].roles must be a list of role names"),
        ({"memberships": [{"organization_id": "a", "roles": ["member", 3]}]}, "[0].roles must be a list of role names"),
        ({"memberships": [{"organization_id": "a", "roles": ["a,b"]}]}, "[0].roles must be a list of role names"),
        ({"memberships": [{"organization_id": "a", "roles": [""]}]}, "[0].roles must be a list of role names"),
        (
            {"memberships": [{"organization_id": "a", "roles": []}, {"organization_id": "a", "roles": ["x"]}]},
            "[1]: organization a is listed twice",
        ),
        (
            {"memberships": [], "organization_id": "a"},
            "and the single form (metadata_public.organization_id) are both set",
        ),
        ({"memberships": [], "roles": ["member"]}, "and the single form (metadata_public.roles) are both set"),
        ({"organization_id": 12}, "metadata_public.organization_id is not a valid organization id"),
        ({"organization_id": ""}, "metadata_public.organization_id is not a valid organization id"),
        ({"organization_id": "a", "roles": "member"}, "metadata_public.roles must be a list of role names"),
        ({"memberships": [{"organization_id": "x" * 129, "roles": []}]}, "[0] has no valid organization_id"),
    ],
)
def test_malformed_metadata_is_a_problem_never_a_guess(metadata: dict[str, Any], problem: str) -> None:
    got = read(metadata)
    assert got.items == () and got.default == (None, frozenset())
    assert got.problem.startswith("identity metadata: ") and problem in got.problem, got.problem


def test_an_empty_list_is_no_membership_not_a_problem() -> None:
    assert read({"memberships": []}) == Memberships(())
