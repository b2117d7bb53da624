"""`forward.strip_prefix`: a route takes the organization from its path and forwards without
it. Checked at load (file:line problems); the forwarded path is the canonical request path
less whole matched segments, so a parameter's value is one segment and never adds `..` or `//`."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import BadRequest, NotFound
from gateway.front.paths import canonical_path, quote_path
from gateway.policy import match
from gateway.policy.loader import load_policies
from gateway.policy.model import Forward
from gateway.policy.pattern import parse_pattern
from gateway.policy.policy_set import PolicySet
from tests.policy.test_loader import find
from tests.support.builders import make_settings, seed_policies, write_policies

ROUTE = """tenant: customer
routes:
  - id: org-runs
    paths: {paths}
    methods: [GET]
    organization: {{param: org}}
    allow:
      human: {{roles: {{any: [member]}}}}
    forward: {forward}
"""


def route_file(forward: str, paths: str = '["/orgs/{org}/api/runs", "/orgs/{org}/api/run"]') -> str:
    return ROUTE.format(paths=paths, forward=forward)


def loaded(tmp_path: Path, text: str) -> PolicySet:
    return load_policies(write_policies(tmp_path, {"a.yaml": text}), make_settings())


def test_the_organization_segments_are_not_forwarded(tmp_path: Path) -> None:
    policy = loaded(tmp_path, route_file('{upstream: jobs, strip_prefix: "/orgs/{org}"}'))
    found = match(policy, "customer", "GET", "/orgs/org-acme/api/runs")
    assert found.params == {"org": "org-acme"}
    assert found.upstream_path == "/api/runs"
    assert match(policy, "customer", "GET", "/orgs/x/api/run").upstream_path == "/api/run"
    target = found.route.target
    assert isinstance(target, Forward) and target.strip_prefix == parse_pattern("/orgs/{org}")


def test_a_subtree_keeps_its_rest_and_trailing_slash(tmp_path: Path) -> None:
    policy = loaded(tmp_path, route_file('{upstream: jobs, strip_prefix: "/orgs/{org}"}', '["/orgs/{org}/**"]'))
    assert match(policy, "customer", "GET", "/orgs/a").upstream_path == "/"
    assert match(policy, "customer", "GET", "/orgs/a/").upstream_path == "/"
    assert match(policy, "customer", "GET", "/orgs/a/assets/app.js").upstream_path == "/assets/app.js"
    assert match(policy, "customer", "GET", "/orgs/a/b/").upstream_path == "/b/"


@pytest.mark.parametrize(
    ("forward", "paths", "needle"),
    [
        ('{upstream: jobs, strip_prefix: "/orgs/{team}"}', None, "{team} is not a parameter of path"),
        ('{upstream: jobs, strip_prefix: "/teams/{org}"}', None, "does not start with strip_prefix"),
        ('{upstream: jobs, strip_prefix: "/orgs/{org}/api/runs/x"}', None, "does not start with strip_prefix"),
        ('{upstream: jobs, strip_prefix: "/orgs/../{org}"}', None, "not a canonical path segment"),
        ('{upstream: jobs, strip_prefix: "/orgs//{org}"}', None, "empty segment"),
        ('{upstream: jobs, strip_prefix: "/orgs/{org}/"}', None, "must not end with '/'"),
        ('{upstream: jobs, strip_prefix: "/orgs/**"}', '["/orgs/**"]', "'**' cannot be stripped"),
        ('{upstream: jobs, strip_prefix: "/"}', None, "strips nothing"),
        ('{upstream: jobs, strip_prefix: "/orgs/{org}", path_prefix: /v2}', None, "combined with path_prefix"),
        (
            '{upstream: jobs, strip_prefix: "/orgs/{org}", strip_tenant_prefix: false}',
            None,
            "cannot be combined with strip_tenant_prefix: false",
        ),
        ('{upstream: jobs, strip_prefix: "orgs/{org}"}', None, "does not match '^/'"),
        ('{upstream: jobs, strip_prefix: "/orgs/{org}"}', '["/orgs/{org}/runs", "/teams/{org}/runs"]', "'/teams/"),
    ],
)
def test_a_bad_strip_prefix_is_a_problem_at_its_line(
    tmp_path: Path, forward: str, paths: str | None, needle: str
) -> None:
    text = route_file(forward) if paths is None else route_file(forward, paths)
    find(tmp_path, text, 9, needle)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="/"), max_size=12))
def test_a_parameter_value_is_one_segment_and_never_a_new_dot_segment(value: str) -> None:
    """Whatever a caller puts where `{org}` is, the forwarded path is exactly the canonical
    path after it: the value itself is never forwarded, and nothing the canonical check
    refused (`..`, `//`, `%2F`) can appear."""
    policy = seed_policies()
    raw = b"/orgs/" + quote_path(value).encode("ascii") + b"/api/durably/runs"
    try:
        found = match(policy, "customer", "GET", canonical_path(raw))
    except BadRequest:  # refused before any route is chosen (`..`, `%2F`, control characters...)
        return
    except NotFound:  # an empty segment matches no parameter
        assert value == ""
        return
    assert found.route.id == "customer:jobs-org-read"
    assert found.params["org"] == value
    assert found.upstream_path == "/api/durably/runs"


def test_the_shipped_policies_serve_the_durably_api_per_organization() -> None:
    policy = seed_policies()
    for tenant in ("customer", "admin", "dealer"):
        for method, rest, route in [
            ("GET", "/api/durably/runs", "jobs-org-read"),
            ("GET", "/api/durably/runs/subscribe", "jobs-org-subscribe"),
            ("GET", "/api/durably/subscribe", "jobs-org-subscribe"),
            ("POST", "/api/durably/trigger", "jobs-org-write"),
            ("POST", "/api/durably/cancel", "jobs-org-write"),
            ("DELETE", "/api/durably/run", "jobs-org-delete"),
        ]:
            found = match(policy, tenant, method, "/orgs/org-acme" + rest)
            assert found.route.id == f"{tenant}:{route}"
            assert found.route.organization_param == "org" and found.route.labels == "durably"
            assert found.upstream_path == rest
    dashboard = match(policy, "customer", "GET", "/orgs/org-acme/")
    assert (dashboard.route.id, dashboard.upstream_path) == ("customer:dashboard-org", "/")
