"""`gateway explain` on the seed policies: how policy tests read."""

from __future__ import annotations

import argparse

import orjson
import pytest

from gateway.cli.explain import add_arguments, explain, run
from gateway.cli.explanation import Caller, Explanation
from tests.support.builders import make_settings, seed_policies

SETTINGS = make_settings(GATEWAY_TENANT_DEALER_HOSTS="partners.example.com")
POLICIES = seed_policies(SETTINGS)


def human(*roles: str, org: str | None = "acme") -> Caller:
    return Caller("human", roles=frozenset(roles), organization=org)


def machine(*scopes: str, org: str | None = "acme") -> Caller:
    return Caller("machine", scopes=frozenset(scopes), organization=org)


def decide(method: str, path: str, caller: Caller, host: str | None = None) -> Explanation:
    return explain(SETTINGS, POLICIES, method, path, caller, host=host)


def test_viewer_can_read() -> None:
    result = decide("GET", "/customer/api/durably/runs?status=done", human("viewer"))
    assert (result.decision, result.status, result.reason) == ("allow", 200, "allowed")
    assert (result.tenant, result.tenant_by, result.tenant_path) == (
        "customer",
        "prefix",
        "/api/durably/runs",
    )
    assert result.route == "customer:jobs-read"
    assert result.route_source is not None and result.route_source.endswith("jobs.yaml:8")
    assert all(c["met"] for c in result.checks)
    assert result.upstream == "jobs"
    assert result.forwarded_url == "http://127.0.0.1:9001/api/durably/runs"
    assert any("label.organizationId=acme" in line and "listings" in line for line in result.label_rewrite)
    assert any("stamped into trigger bodies" in line for line in result.label_rewrite)


def test_viewer_cannot_trigger() -> None:
    result = decide("POST", "/customer/api/durably/trigger", human("viewer"))
    assert (result.decision, result.status, result.reason) == ("deny", 403, "missing_role")
    assert result.route == "customer:jobs-write"
    assert result.detail == "route customer:jobs-write requires one of roles [member]"
    assert {"requirement": "one of roles [member]", "met": False, "reason": "missing_role"} in result.checks


def test_member_can_trigger_and_delete() -> None:
    assert decide("POST", "/customer/api/durably/trigger", human("member")).decision == "allow"
    assert decide("DELETE", "/customer/api/durably/run", human("member")).decision == "allow"
    assert decide("DELETE", "/customer/api/durably/run", human("viewer")).reason == "missing_role"


def test_machine_with_jobs_read() -> None:
    read = decide("GET", "/dealer/api/durably/steps", machine("jobs:read"))
    assert (read.decision, read.route) == ("allow", "dealer:jobs-read")
    write = decide("POST", "/dealer/api/durably/cancel", machine("jobs:read"))
    assert (write.decision, write.reason) == ("deny", "missing_scope")
    assert write.detail == "route dealer:jobs-write requires one of scopes [jobs:write]"


def test_principal_without_org_is_denied_on_label_routes() -> None:
    result = decide("GET", "/customer/api/durably/runs", machine("jobs:read", org=None))
    assert (result.decision, result.reason) == ("deny", "no_organization")
    assert "organization" in result.detail and result.label_rewrite == []


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [(("platform:support",), True), (("platform:admin",), True), (("viewer", "member"), False), ((), False)],
)
def test_admin_lookup(roles: tuple[str, ...], allowed: bool) -> None:
    result = decide("GET", "/admin/customers/abc-123", human(*roles, org=None))
    assert result.route == "admin:customer-lookup"
    assert result.params == {"id": "abc-123"}
    assert result.builtin == "identity_lookup param=id tenant=customer"
    assert result.decision == ("allow" if allowed else "deny")
    if not allowed:
        assert result.reason == "missing_role"
        assert result.detail == "route admin:customer-lookup requires one of roles [platform:admin, platform:support]"


def test_other_tenants_principal_never_passes() -> None:
    caller = Caller("human", roles=frozenset({"platform:admin"}), tenant="customer")
    result = decide("GET", "/admin/customers/abc", caller)
    assert (result.decision, result.reason) == ("deny", "wrong_tenant")


def test_inventory_is_machines_only_and_host_routed() -> None:
    by_host = decide("GET", "/partner-api/inventory", machine("inventory:read"), host="Partners.Example.com:443")
    assert (by_host.tenant, by_host.tenant_by, by_host.decision) == ("dealer", "host", "allow")
    assert by_host.forwarded_url == "http://127.0.0.1:9002/partner-api/inventory"
    as_human = decide("GET", "/dealer/partner-api/inventory", human("member"))
    assert (as_human.decision, as_human.reason) == ("deny", "kind_not_allowed")


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", "/customer/api/durably/../../admin/customers/1", 400, "ambiguous_path"),
        ("GET", "/customer/api/durably/%2e%2e/runs", 400, "ambiguous_path"),
        ("GET", "http://evil/customer/api/durably/runs", 400, "ambiguous_path"),
        ("GET", "/customer/api/durably/nope", 404, "no_route"),
        ("GET", "/customerx/api/durably/runs", 404, "no_route"),
        ("PUT", "/customer/api/durably/run", 405, "method_not_allowed"),
    ],
)
def test_refused_before_authorization(method: str, path: str, status: int, reason: str) -> None:
    result = decide(method, path, human("member"))
    assert (result.decision, result.status, result.reason) == ("deny", status, reason)
    assert result.route is None


def test_anonymous_token_route() -> None:
    result = decide("POST", "/dealer/oauth2/token", machine())
    assert (result.decision, result.route, result.builtin) == ("allow", "dealer:oauth2-token", "oauth2_token")
    assert result.checks == []


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gateway explain")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_text_output_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    viewer = ("--as", "human", "--roles", "viewer", "--org", "acme")
    assert run(parse("get", "/customer/api/durably/runs", *viewer), SETTINGS, POLICIES) == 0
    text = capsys.readouterr().out
    for needle in (
        "customer:jobs-read",
        "jobs.yaml:8",
        "met: one of roles [viewer, member]",
        "upstream jobs -> http://127.0.0.1:9001/api/durably/runs",
        "label.organizationId=acme",
        "ALLOW",
    ):
        assert needle in text
    assert run(parse("POST", "/customer/api/durably/trigger", *viewer), SETTINGS, POLICIES) == 1
    text = capsys.readouterr().out
    assert "MISSING: one of roles [member]" in text and "DENY 403 missing_role" in text


def test_cli_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("GET", "/customer/api/durably/runs", "--as", "machine", "--scopes", "jobs:read other", "--json")
    assert run(args, SETTINGS, POLICIES) == 1
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["decision"] == "deny" and doc["reason"] == "no_organization"
    assert doc["principal"]["scopes"] == ["jobs:read", "other"]


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parse("G E T", "/x", "--as", "human"), SETTINGS, POLICIES) == 2
    assert run(parse("GET", "/x", "--as", "human", "--principal-tenant", "nobody"), SETTINGS, POLICIES) == 2
    assert "unknown tenant" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        parse("GET", "/x", "--as", "robot")
    assert info.value.code == 2


def test_durably_lists_are_re_checked_by_default() -> None:
    result = decide("GET", "/customer/api/durably/runs", human("viewer"))
    assert "list answers are re-checked: runs of other organizations are dropped" in result.label_rewrite


# --- organizations and permissions ------------------------------------------------------------

REPORT = "/customer/orgs/org-acme/reports/q3"


def test_the_organization_from_the_path_and_the_permission_tuple() -> None:
    caller = Caller("human", roles=frozenset({"viewer"}), subject="u-1")
    result = decide("GET", REPORT, caller)
    assert (result.decision, result.organization, result.organization_by) == (
        "allow",
        "org-acme",
        "path parameter {org}",
    )
    assert result.membership == ["org-acme with roles [viewer] (identity metadata)"]
    assert result.permissions == ["Report:org-acme/q3#view@u-1"]
    assert result.checks[-1] == {
        "requirement": "permission Report:org-acme/q3#view@u-1 (Keto)",
        "met": True,
        "reason": "permission_denied",
    }
    denied = decide("GET", REPORT, Caller("human", roles=frozenset({"viewer"}), subject="u-1", keto_allows=False))
    assert (denied.decision, denied.reason) == ("deny", "permission_denied")


def test_a_header_choice_that_disagrees_with_the_path_is_400() -> None:
    result = decide("GET", REPORT, human("viewer", org="org-globex"))
    assert (result.decision, result.status, result.reason) == ("deny", 400, "organization_conflict")


@pytest.mark.parametrize("path", ["/customer/orgs/org-acme/reports/q3%23x", "/customer/orgs/org-acme/reports/a:b"])
def test_a_hostile_parameter_is_400_in_explain_too(path: str) -> None:
    assert decide("GET", path, human("viewer", org=None)).reason == "bad_path_parameter"


def test_a_keto_tenant_shows_the_membership_tuples() -> None:
    settings = make_settings(GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS="keto")
    caller = Caller("human", roles=frozenset({"member"}), organization="org-acme", subject="u-1")
    result = explain(settings, seed_policies(settings), "GET", "/customer/api/durably/runs", caller)
    assert result.membership[0].startswith("Keto: member of org-acme")
    assert (
        "Organization:org-acme#member@u-1" in result.membership
        and "Organization:org-acme#viewer@u-1" in result.membership
    )


def test_the_text_shows_organization_membership_and_keto(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("GET", REPORT, "--as", "human", "--roles", "viewer", "--subject", "u-1")
    assert run(args, SETTINGS, POLICIES) == 0
    text = capsys.readouterr().out
    assert "org       org-acme (by path parameter {org})" in text
    assert "member    org-acme with roles [viewer] (identity metadata)" in text
    assert "keto      would check Report:org-acme/q3#view@u-1" in text
    assert run(parse("GET", REPORT, "--as", "human", "--roles", "viewer", "--keto-denies"), SETTINGS, POLICIES) == 1
    assert "DENY 403 permission_denied" in capsys.readouterr().out


def test_the_organization_route_forwards_without_the_organization(capsys: pytest.CaptureFixture[str]) -> None:
    result = decide("GET", "/customer/orgs/org-globex/api/durably/runs", human("viewer", org=None))
    assert (result.decision, result.route, result.organization) == ("allow", "customer:jobs-org-read", "org-globex")
    assert result.forwarded_url is not None and result.forwarded_url.endswith("/api/durably/runs")
    assert "org-globex" not in result.forwarded_url
    path = "/customer/orgs/org-globex/api/durably/trigger"
    assert run(parse("POST", path, "--as", "human", "--roles", "viewer", "--org", "org-acme"), SETTINGS, POLICIES) == 1
    assert "DENY 400 organization_conflict" in capsys.readouterr().out  # text, not a traceback
