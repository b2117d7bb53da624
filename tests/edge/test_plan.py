"""The edge plan: which routes nginx forwards itself, and that its locations, tried in order,
pick the route the gateway's matcher picks (else the request goes to the gateway)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.edge.plan import Location, Through, _locations, _sorted_routes, gateway_reason, overlap, specificity
from gateway.errors import GatewayError
from gateway.front.paths import quote_path
from gateway.policy import Builtin, Forward, Route
from gateway.policy.matcher import build_matcher, upstream_path
from gateway.policy.pattern import parse_pattern

WORDS = ("a", "b", "api", "x.y", "c~d")


def route(pattern: str, methods: Sequence[str] = ("GET",), **kw: object) -> Route:
    target = kw.pop("target", Forward("up"))
    return Route(
        id=str(kw.pop("id", pattern)),
        tenant="t",
        pattern=parse_pattern(pattern),
        methods=frozenset(methods),
        allow=(),
        anonymous=True,
        target=target,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def first_location(locations: Sequence[Location], path: str) -> tuple[Location, re.Match[str]] | None:
    for location in locations:
        found = re.match(location.regex.replace("(?<", "(?P<"), path)
        if found:
            return location, found
    return None


def nginx_target(location: Location, found: re.Match[str]) -> str:
    return location.target.replace("$edge_rest", found.group("edge_rest") or "")


# --- what goes to the gateway, and why --------------------------------------------------


@pytest.mark.parametrize(
    ("made", "why"),
    [
        (route("/a", target=Builtin("login")), "built-in login"),
        (route("/a", labels="durably"), "label profile durably"),
        (route("/a", websocket=True), "WebSocket"),
        (route("/a", stream=True), "stream (a long-lived answer the gateway re-checks)"),
        (route("/caf\u00e9"), "its path needs percent-encoding"),
        (
            route("/{x}/b", target=Forward("up", path_prefix="/v1")),
            "a path_prefix on a pattern without a static prefix",
        ),
        (route("/a/**", target=Forward("up", path_prefix="/")), "its path_prefix '/' may stand for the whole path"),
        (route("/a/{x}", target=Forward("up", path_prefix="/")), None),
        (route("/a/{x}", target=Forward("up", path_prefix="/v1")), None),
        (route("/a/**", target=Forward("up", strip_tenant_prefix=False, path_prefix="/")), None),
        (route("/a/b!c/{x}"), None),
    ],
)
def test_why_a_route_goes_through_the_gateway(made: Route, why: str | None) -> None:
    assert gateway_reason(made) == why


def test_one_edge_route_per_path_the_others_through_the_gateway() -> None:
    routes = _sorted_routes([route("/a", ["GET"], id="t:read"), route("/a", ["POST"], id="t:write")])
    assert routes[0] == route("/a", ["GET"], id="t:read")
    assert routes[1] == Through(
        route("/a", ["POST"], id="t:write"), "its path is served at the edge as t:read (one route per path there)"
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("/a", "/a", True),
        ("/a", "/b", False),
        ("/{x}", "/a", True),
        ("/a/**", "/a", True),
        ("/a/**", "/a/b/c", True),
        ("/x/**", "/a/b", False),
        ("/{x}", "/a/b", False),
        ("/a/{x}/c", "/a/b/**", True),
        ("/", "/**", True),
        ("/", "/a", False),
    ],
)
def test_overlap(a: str, b: str, expected: bool) -> None:
    sa, sb = parse_pattern(a).segments, parse_pattern(b).segments
    assert overlap(sa, sb) is expected and overlap(sb, sa) is expected


# --- nginx's order is the gateway's order ---------------------------------------------

segment = st.one_of(st.sampled_from(WORDS), st.just("{p}"))
pattern = st.builds(
    lambda segs, tail: "/" + "/".join([*segs, *(["**"] if tail else [])]) if segs or tail else "/",
    st.lists(segment, max_size=3),
    st.booleans(),
).map(lambda text: _one_param_name(text))
policy = st.lists(
    st.tuples(
        pattern, st.sampled_from([("GET",), ("POST",), ("GET", "POST")]), st.booleans(), st.sampled_from(["", "/v1"])
    ),
    min_size=1,
    max_size=8,
)
path = st.builds(
    lambda segs, slash: "/" + "/".join(segs) + ("/" if slash and segs else ""),
    st.lists(st.sampled_from([*WORDS, "zz"]), max_size=4),
    st.booleans(),
)


def _one_param_name(text: str) -> str:
    count = iter(range(10))
    return re.sub(r"\{p\}", lambda _: f"{{p{next(count)}}}", text)


def _routes(items: list[tuple[str, tuple[str, ...], bool, str]]) -> list[Route]:
    made = []
    for i, (text, methods, at_edge, prefix) in enumerate(items):
        target = Forward("up", path_prefix=prefix or None)
        made.append(route(text, methods, id=f"t:r{i}", target=target, websocket=not at_edge))
    _, ties = build_matcher(made)
    tied = {id(later) for _, later in ties}
    return [r for r in made if id(r) not in tied]


@settings(max_examples=300, deadline=None)
@given(policy, path, st.sampled_from(["GET", "POST"]), st.sampled_from(["", "/t"]))
def test_a_request_nginx_forwards_is_the_route_the_gateway_matches_with_its_upstream_path(
    items: list[tuple[str, tuple[str, ...], bool, str]], rest: str, method: str, prefix: str
) -> None:
    routes = _routes(items)
    matcher, _ = build_matcher(routes)
    located = first_location(_locations(_sorted_routes(routes), "t", prefix), prefix + rest if prefix else rest)
    if located is None or located[0].edge is None or method not in located[0].edge.methods:
        return  # the gateway serves it, whatever it is
    location, found = located
    winner, _ = matcher.lookup(method, rest)  # nginx forwards only what the gateway matches the same way
    assert winner is location.edge
    assert nginx_target(location, found) == quote_path(upstream_path(winner, rest))


@settings(max_examples=200, deadline=None)
@given(policy, path, st.sampled_from(["GET", "POST"]))
def test_every_path_of_an_edge_route_reaches_its_location(
    items: list[tuple[str, tuple[str, ...], bool, str]], rest: str, method: str
) -> None:
    """An edge route loses no request to another location, except to a more specific pattern
    that matches the path but not the method (nginx then hands it to the gateway)."""
    routes = _routes(items)
    matcher, _ = build_matcher(routes)
    try:
        winner, _ = matcher.lookup(method, rest)
    except GatewayError:
        return
    planned = _sorted_routes(routes)
    if winner not in planned:  # the gateway serves it (not an edge route, or its path is another's)
        return
    before = [r for r in routes if specificity(r.pattern) < specificity(winner.pattern) and _matches(r, rest)]
    located = first_location(_locations(planned, "t", ""), rest)
    assert located is not None
    first = located[0].edge
    assert first is winner or (before and (first is None or method not in first.methods))


def _matches(made: Route, rest: str) -> bool:
    matcher, _ = build_matcher([replace(made, methods=frozenset({"*"}))])
    try:
        matcher.lookup("GET", rest)
    except GatewayError:
        return False
    return True
