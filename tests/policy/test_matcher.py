"""Matching: most specific wins, 405 vs 404, params, upstream paths, and 10,000 routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gateway.policy.matcher as matcher_module
from gateway.errors import BadRequest, MethodNotAllowed, NotFound
from gateway.front.paths import canonical_path, quote_path
from gateway.front.tenants import resolve_tenant
from gateway.policy.matcher import Matcher, build_matcher, upstream_path
from gateway.policy.model import Builtin, Forward, Route
from gateway.policy.policy_set import PolicySet, match
from tests.support.builders import make_route, make_settings

SETTINGS = make_settings()


def policy_of(*routes: Route) -> PolicySet:
    matcher, ties = build_matcher(routes)
    assert ties == []
    return PolicySet(routes={"customer": routes}, matchers={"customer": matcher})


PRECEDENCE = policy_of(
    make_route("/", id="root"),
    make_route("/a/b/c", id="abc"),
    make_route("/a/{x}/c", id="axc"),
    make_route("/a/b/**", id="ab-prefix"),
    make_route("/a/**", id="a-prefix"),
    make_route("/a/{x}", id="ax"),
    make_route("/a/b", id="ab"),
    make_route("/p/{x}/q/{y}", id="pxqy"),
    make_route("/p/{x}/**", id="px-prefix"),
    make_route("/m", ("GET", "HEAD"), id="m-get"),  # the loader adds HEAD to GET
    make_route("/m", ("POST", "DELETE"), id="m-write"),
    make_route("/m/**", ("PUT",), id="m-put-prefix"),
    make_route("/any", ("*",), id="any"),
)


@pytest.mark.parametrize(
    ("method", "path", "route_id", "params"),
    [
        ("GET", "/", "root", {}),
        ("GET", "/a/b/c", "abc", {}),  # exact literal
        ("GET", "/a/z/c", "axc", {"x": "z"}),  # param when literal does not fit
        ("GET", "/a/b/d", "ab-prefix", {}),  # literal b decides before {x}/d could
        ("GET", "/a/b", "ab", {}),  # exact beats prefix at the same depth
        ("GET", "/a/z", "ax", {"x": "z"}),  # deeper exact (param) beats the shallower prefix
        ("GET", "/a", "a-prefix", {}),  # prefix matches the prefix itself
        ("GET", "/a/", "a-prefix", {}),  # a param never matches an empty segment
        ("GET", "/a/z/y/w", "a-prefix", {}),
        ("GET", "/a/b/c/d", "ab-prefix", {}),
        ("GET", "/p/1/q/2", "pxqy", {"x": "1", "y": "2"}),
        ("GET", "/p/1/q", "px-prefix", {"x": "1"}),
        ("GET", "/p/1/q/2/3", "px-prefix", {"x": "1"}),
        ("GET", "/p/caf\u00e9 1", "px-prefix", {"x": "caf\u00e9 1"}),
        ("HEAD", "/m", "m-get", {}),
        ("POST", "/m", "m-write", {}),
        ("DELETE", "/m", "m-write", {}),
        ("PUT", "/m", "m-put-prefix", {}),  # the exact shape lacks PUT: next candidate in order
        ("PATCH", "/any", "any", {}),
    ],
)
def test_most_specific_route_wins(method: str, path: str, route_id: str, params: dict[str, str]) -> None:
    found = match(PRECEDENCE, "customer", method, path)
    assert found.route.id == f"customer:{route_id}"
    assert dict(found.params) == params


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/m", {"GET", "HEAD", "POST", "DELETE", "PUT"}),  # /m/** also matches /m
        ("POST", "/a/b/c", {"GET", "HEAD"}),
        ("DELETE", "/m/x", {"PUT"}),
    ],
)
def test_path_known_but_method_not_is_405(method: str, path: str, allowed: set[str]) -> None:
    policy = policy_of(
        make_route("/m", ("GET", "HEAD"), id="m-get"),
        make_route("/m", ("POST", "DELETE"), id="m-write"),
        make_route("/m/**", ("PUT",), id="m-put"),
        make_route("/a/b/c", ("GET", "HEAD"), id="abc"),
    )
    with pytest.raises(MethodNotAllowed) as info:
        match(policy, "customer", method, path)
    assert info.value.allowed == allowed
    assert info.value.status == 405
    assert info.value.headers()["allow"] == ", ".join(sorted(allowed))


@pytest.mark.parametrize("path", ["/nothing", "/a/b/c/d", "/ab", "/a/bc", "/m2", "/"])
def test_unknown_path_is_404(path: str) -> None:
    policy = policy_of(make_route("/a/b/c", id="abc"), make_route("/m", id="m"), make_route("/a/{x}/c", id="x"))
    with pytest.raises(NotFound):
        match(policy, "customer", "GET", path)


def test_unknown_tenant_is_404() -> None:
    with pytest.raises(NotFound):
        match(PRECEDENCE, "admin", "GET", "/a")


def test_case_matters() -> None:
    policy = policy_of(make_route("/Api", id="upper"))
    with pytest.raises(NotFound):
        match(policy, "customer", "GET", "/api")


@pytest.mark.parametrize(
    ("pattern", "target", "rest", "expected"),
    [
        ("/api/durably/runs", Forward("jobs"), "/api/durably/runs", "/api/durably/runs"),
        (
            "/api/durably/runs",
            Forward("jobs", strip_tenant_prefix=False),
            "/api/durably/runs",
            "/customer/api/durably/runs",
        ),
        ("/api/durably/**", Forward("jobs", path_prefix="/d"), "/api/durably/runs/x", "/d/runs/x"),
        ("/api/durably/**", Forward("jobs", path_prefix="/"), "/api/durably/runs", "/runs"),
        ("/api/durably/**", Forward("jobs", path_prefix="/"), "/api/durably", "/"),
        ("/api/durably/**", Forward("jobs", path_prefix="/d/"), "/api/durably/", "/d/"),
        ("/items/{id}", Forward("jobs", path_prefix="/v2/items"), "/items/7", "/v2/items/7"),
        (
            "/partner-api/inventory",
            Forward("inventory", path_prefix="/inventory"),
            "/partner-api/inventory",
            "/inventory",
        ),
        ("/customers/{id}", Builtin("identity_lookup"), "/customers/1", ""),
    ],
)
def test_upstream_path(pattern: str, target: Forward | Builtin, rest: str, expected: str) -> None:
    route = make_route(pattern, target=target)
    assert upstream_path(route, rest) == expected
    assert match(policy_of(route), "customer", "GET", rest).upstream_path == expected


def many_routes(count: int) -> Iterator[Route]:
    for i in range(count):
        shape = i % 4
        if shape == 0:
            yield make_route(f"/svc{i}/items", id=f"r{i}")
        elif shape == 1:
            yield make_route(f"/svc{i}/items/{{id}}", ("GET", "POST"), id=f"r{i}")
        elif shape == 2:
            yield make_route(f"/svc{i}/files/**", id=f"r{i}")
        else:
            yield make_route(f"/shared/{i}/{{a}}/x", id=f"r{i}")


def lookups(count: int) -> list[tuple[str, str, str | None]]:
    probes: list[tuple[str, str, str | None]] = []
    for i in (
        0,
        1,
        2,
        3,
        count // 2 - 2,
        count // 2 - 1,
        count // 2,
        count // 2 + 1,
        count - 4,
        count - 3,
        count - 2,
        count - 1,
    ):
        shape = i % 4
        path = [f"/svc{i}/items", f"/svc{i}/items/42", f"/svc{i}/files/a/b", f"/shared/{i}/v/x"][shape]
        probes.append(("GET", path, f"customer:r{i}"))
    probes += [
        ("GET", "/svc0/items/42", None),
        ("GET", f"/svc{count}/items", None),
        ("GET", "/shared/3/v/y", None),
    ]
    return probes


def test_ten_thousand_routes_match_correctly() -> None:
    routes = list(many_routes(10_000))
    policy = policy_of(*routes)
    for method, path, expected in lookups(10_000):
        if expected is None:
            with pytest.raises(NotFound):
                match(policy, "customer", method, path)
        else:
            assert match(policy, "customer", method, path).route.id == expected
    assert match(policy, "customer", "POST", "/svc9001/items/7").params == {"id": "7"}


def test_matching_work_does_not_grow_with_route_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not timed: count trie steps for the same requests against 10 and 10,000 routes."""
    steps = {"n": 0}
    real_find = matcher_module._find

    def counting(*args: Any) -> Any:
        steps["n"] += 1
        return real_find(*args)

    monkeypatch.setattr(matcher_module, "_find", counting)

    def cost(count: int) -> int:
        policy = policy_of(*many_routes(count))
        steps["n"] = 0
        for path in ("/svc1/items/42", "/svc2/files/a/b", "/shared/3/v/x", "/svc0/items"):
            match(policy, "customer", "GET", path)
        return steps["n"]

    assert cost(10) == cost(10_000)


def test_matcher_reports_ties() -> None:
    a, b = make_route("/x/{a}", id="a"), make_route("/x/{b}", ("GET", "POST"), id="b")
    matcher, ties = build_matcher([a, b])
    assert ties == [(a, b)]
    assert isinstance(matcher, Matcher)
    with pytest.raises(MethodNotAllowed):  # the tying route was not added
        match(PolicySet({"customer": (a,)}, {"customer": matcher}), "customer", "POST", "/x/1")


FILES = policy_of(
    make_route("/files/**", id="files"),
    make_route("/other", id="other"),
)
segment = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=6)


@given(st.lists(segment, min_size=1, max_size=5))
def test_what_is_authorized_is_what_is_forwarded(segments: list[str]) -> None:
    """Differential: the forwarded path decodes to exactly the path that was matched."""
    raw = quote_path("/customer/files/" + "/".join(segments)).encode("ascii")
    try:
        path = canonical_path(raw)
    except BadRequest:
        return
    tenant = resolve_tenant(SETTINGS, path, None)
    found = match(FILES, tenant.tenant, "GET", tenant.rest)
    assert found.route.id == "customer:files"
    assert tenant.rest.startswith("/files")
    assert canonical_path(quote_path(found.upstream_path).encode("ascii")) == found.upstream_path
    assert found.upstream_path == tenant.rest


def test_routes_and_matches_are_hashable() -> None:
    found = match(FILES, "customer", "GET", "/files/a")
    assert len({found, found}) == 1 and len({found.route, *FILES.routes["customer"]}) == 2
