"""Locator: the same answer as canonical path -> tenant -> match, remembered per policy set."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest, NotFound
from gateway.front.locate import Locator
from gateway.front.paths import canonical_path
from gateway.front.request import RequestView
from gateway.front.tenants import resolve_tenant
from gateway.policy import match
from tests.support.builders import make_settings, seed_policies


def request(method: str = "GET", host: str = "") -> RequestView:
    return RequestView(method=method, path="", raw_query=b"", headers=[], client_ip="127.0.0.1", host=host)


def test_the_answer_is_the_pipeline_steps_answer() -> None:
    settings, policies = make_settings(), seed_policies()
    locator = Locator(settings)
    req = request()
    found = locator.locate(policies, req, b"/customer/api/durably/runs")
    tenant = resolve_tenant(settings, canonical_path(b"/customer/api/durably/runs"), "")
    assert (found.path, found.tenant) == ("/customer/api/durably/runs", "customer")
    assert found.match == match(policies, tenant.tenant, "GET", tenant.rest)
    assert req.path == "/customer/api/durably/runs"


def test_a_second_request_gets_the_remembered_answer() -> None:
    settings, policies = make_settings(), seed_policies()
    locator = Locator(settings)
    first = locator.locate(policies, request(), b"/customer/api/durably/run")
    again = request()
    assert locator.locate(policies, again, b"/customer/api/durably/run") is first
    assert again.path == "/customer/api/durably/run"
    other = locator.locate(policies, request("DELETE"), b"/customer/api/durably/run")
    assert (first.match.route.id, other.match.route.id) == ("customer:jobs-read", "customer:jobs-delete")


def test_a_new_policy_set_forgets_everything() -> None:
    settings = make_settings()
    locator = Locator(settings)
    first = locator.locate(seed_policies(settings), request(), b"/customer/api/durably/runs")
    assert locator.locate(seed_policies(settings), request(), b"/customer/api/durably/runs") is not first


def test_refusals_are_raised_every_time_and_keep_the_canonical_path() -> None:
    settings, policies = make_settings(), seed_policies()
    locator = Locator(settings)
    for _ in range(2):
        with pytest.raises(BadRequest):
            locator.locate(policies, request(), b"/customer/../admin")
        req = request()
        with pytest.raises(NotFound):
            locator.locate(policies, req, b"/customer/no%20such/route")
        assert req.path == "/customer/no such/route"  # the access log shows what was matched


def test_the_memo_is_bounded() -> None:
    settings, policies = make_settings(), seed_policies()
    locator = Locator(settings, size=4)
    for i in range(10):
        assert locator.locate(policies, request(), b"/admin/customers/%d" % i).match.params == {"id": str(i)}
        assert len(locator._memo) <= 4


def test_long_paths_are_not_kept() -> None:
    settings, policies = make_settings(), seed_policies()
    locator = Locator(settings)
    long = b"/admin/customers/" + b"x" * 600
    assert locator.locate(policies, request(), long).match.params == {"id": "x" * 600}
    assert locator._memo == {}
