"""The caller's choice of organization: header (every spelling), path parameter, and conflicts."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.errors import BadRequest
from gateway.front.request import RequestView
from gateway.orgs.choice import chosen_organization
from gateway.policy.model import Match
from tests.support.builders import make_route

PLAIN = make_route("/reports/{report}")
IN_PATH = dataclasses.replace(make_route("/orgs/{org}/reports/{report}"), organization_param="org")


def request(*headers: tuple[bytes, bytes]) -> RequestView:
    return RequestView(method="GET", path="/x", raw_query=b"", headers=list(headers), client_ip="127.0.0.1")


def match(org: str | None = None) -> Match:
    if org is None:
        return Match(PLAIN, {"report": "r"}, "/reports/r")
    return Match(IN_PATH, {"org": org, "report": "r"}, f"/orgs/{org}/reports/r")


def test_no_choice() -> None:
    assert chosen_organization(request(), match()) is None


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-organization-id", b"org-a")],
        [(b"x-organization-id", b"  org-a\t")],  # optional whitespace around a header value is not part of it
        [(b"x-organization-id", b"org-a"), (b"x-organization-id", b"org-a")],
        [(b"x_organization_id", b"org-a")],
        [(b"x-organization.id", b"org-a"), (b"x-organization-id", b"org-a ")],
    ],
)
def test_a_header_choice_in_any_spelling(headers: list[tuple[bytes, bytes]]) -> None:
    assert chosen_organization(request(*headers), match()) == "org-a"


def test_a_case_variant_is_another_organization_not_a_match() -> None:
    assert chosen_organization(request((b"x-organization-id", b"ORG-A")), match()) == "ORG-A"


@pytest.mark.parametrize(
    ("headers", "org", "reason"),
    [
        ([(b"x-organization-id", b"org-a"), (b"x-organization-id", b"org-b")], None, "organization_conflict"),
        ([(b"x-organization-id", b"org-a"), (b"x_organization_id", b"org-b")], None, "organization_conflict"),
        ([(b"x-organization-id", b"org-a"), (b"X-ORGANIZATION-ID", b"org-A")], None, "organization_conflict"),
        ([(b"x-organization-id", b"org-b")], "org-a", "organization_conflict"),
        ([(b"x-organization-id", b"org-a, org-b")], None, "bad_organization_id"),
        ([(b"x-organization-id", b"org a")], None, "bad_organization_id"),
        ([(b"x-organization-id", b"")], None, "bad_organization_id"),
        ([(b"x-organization-id", b"org-\xe9")], None, "bad_organization_id"),
        ([(b"x-organization-id", b"a" * 129)], None, "bad_organization_id"),
        ([(b"x-organization-id", b"../org-b")], None, "bad_organization_id"),
        ([], " org-a", "bad_organization_id"),
        ([], "org-a#x", "bad_organization_id"),
        ([], "..", "bad_organization_id"),
        ([], "org:a", "bad_organization_id"),
        ([], "org@a", "bad_organization_id"),
    ],
)
def test_ambiguous_or_malformed_choices_are_400(
    headers: list[tuple[bytes, bytes]], org: str | None, reason: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        chosen_organization(request(*headers), match(org))
    assert caught.value.reason == reason and caught.value.extra["reason"] == reason


def test_the_path_chooses_and_an_equal_header_agrees() -> None:
    assert chosen_organization(request(), match("org-a")) == "org-a"
    assert chosen_organization(request((b"x-organization-id", b"org-a")), match("org-a")) == "org-a"
