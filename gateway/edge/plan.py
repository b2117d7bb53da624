"""Which routes nginx forwards itself, and the order it must try them in.

A route goes to nginx (`AtEdge`) when the gateway decides it without the body and forwards
it unchanged: a plain `forward` with no label profile, no WebSocket, no stream, whose path
needs no percent-encoding. Everything else is served by the gateway (`Through`, with why).

nginx picks a location by regular expression, first match in written order; the gateway
walks a trie, literal before `{param}` before `/**`, deeper first (`gateway.policy.matcher`).
Sorting the patterns by `specificity` makes the two agree: the first pattern in that order
that matches a path is the one the trie finds. So every pattern of a tenant that has an edge
route becomes a location in that order (a pattern of gateway routes only sends its paths to
the gateway, so that a less specific edge location never catches them), and a method the
edge route of a location does not take goes to the gateway too.

The requests that reach these locations are plain (`gateway.edge.nginx_http.PLAIN`): no
percent-encoding, dot segment or empty segment, so nginx's normalised path is the canonical
path the gateway matches, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.config.settings import Settings
from gateway.policy import Builtin, Forward, PolicySet, Route
from gateway.policy.model import ANY_METHOD, Pattern, Segment

#: the characters of a path segment nginx may match as the gateway does (RFC 3986 pchar
#: minus ';' and '%': no decoding can make nginx and the gateway read two paths)
PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,=:@]+")
_PCRE_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")


@dataclass(frozen=True, slots=True)
class Through:
    """A route the gateway serves itself, and why."""

    route: Route
    why: str


@dataclass(frozen=True, slots=True)
class Location:
    """One nginx location: the paths of one pattern in one tenant."""

    #: PCRE for nginx's normalised path; `(?<edge_rest>...)` captures what `target` appends
    regex: str
    #: the route nginx forwards itself (for `methods`), or None: every request goes to the gateway
    edge: Route | None
    #: the upstream path as an nginx expression, e.g. ``/durably$edge_rest``
    target: str
    #: the routes of this pattern, for the comment above the location
    routes: tuple[Route, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """The locations of one tenant under one prefix (``/<tenant>``, or "" at the root)."""

    tenant: str
    prefix: str
    locations: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class Server:
    """One nginx server: the default one (every tenant by prefix, the default tenant at the
    root), or a tenant's own hosts (that tenant at the root)."""

    hosts: tuple[str, ...]
    groups: tuple[Group, ...]


@dataclass(frozen=True, slots=True)
class EdgePlan:
    servers: tuple[Server, ...]
    #: every route by tenant: an edge route, or why the gateway serves it
    routes: Mapping[str, tuple[Route | Through, ...]]

    @property
    def edge_routes(self) -> list[Route]:
        return [r for routes in self.routes.values() for r in routes if isinstance(r, Route)]

    @property
    def upstreams(self) -> list[str]:
        return sorted({r.target.upstream for r in self.edge_routes if isinstance(r.target, Forward)})


def plan(settings: Settings, policies: PolicySet) -> EdgePlan:
    routes = {tenant: _sorted_routes(policies.routes.get(tenant, ())) for tenant in settings.tenants}
    prefixed = [Group(name, "/" + name, _locations(routes[name], name, "/" + name)) for name in settings.tenants]
    if settings.default_tenant is not None:
        prefixed.append(
            Group(settings.default_tenant, "", _locations(routes[settings.default_tenant], settings.default_tenant, ""))
        )
    by_host = [
        Server(tenant.hosts, (Group(name, "", _locations(routes[name], name, "")),))
        for name, tenant in settings.tenants.items()
        if tenant.hosts
    ]
    return EdgePlan((Server((), tuple(prefixed)), *by_host), routes)


def specificity(pattern: Pattern) -> tuple[tuple[int, str], ...]:
    """The order the gateway's trie tries patterns in: literal, then `{param}`, then `/**` at
    each depth; a pattern ending where the path ends before a `/**` ending there."""
    keys = [_segment_key(s) for s in pattern.segments]
    if not pattern.segments or pattern.segments[-1].kind != "prefix":
        keys.append((0, ""))
    return tuple(keys)


def pcre_literal(text: str) -> str:
    return _PCRE_SPECIAL.sub(r"\\\1", text)


def _segment_key(segment: Segment) -> tuple[int, str]:
    return {"literal": (0, segment.value), "param": (1, ""), "prefix": (2, "")}[segment.kind]


def _sorted_routes(routes: Iterable[Route]) -> tuple[Route | Through, ...]:
    """Each route, or why the gateway serves it; one edge route per pattern (the first by id)."""
    taken: dict[tuple[tuple[str, str], ...], str] = {}
    result: list[Route | Through] = []
    for route in sorted(routes, key=lambda r: (specificity(r.pattern), r.id)):
        why = gateway_reason(route)
        if why is None and route.pattern.shape in taken:
            why = f"its path is served at the edge as {taken[route.pattern.shape]} (one route per path there)"
        if why is None:
            taken[route.pattern.shape] = route.id
        result.append(route if why is None else Through(route, why))
    return tuple(result)


def gateway_reason(route: Route) -> str | None:
    """Why nginx cannot forward `route` itself, or None when it can."""
    target = route.target
    if isinstance(target, Builtin):
        return f"built-in {target.name}"
    if route.injects_labels:
        return f"label profile {route.labels}"
    if route.websocket:
        return "WebSocket"
    if route.stream:
        return "stream (a long-lived answer the gateway re-checks)"
    if isinstance(target, Forward) and target.strip_prefix is not None:
        return "strip_prefix (the gateway drops the matched segments from the forwarded path)"
    if any(s.kind == "literal" and not PLAIN_SEGMENT.fullmatch(s.value) for s in route.pattern.segments):
        return "its path needs percent-encoding"
    if _rewritten(route) and route.pattern.static_depth == 0:
        return "a path_prefix on a pattern without a static prefix"
    if _rewritten(route) and (target.path_prefix or "").strip("/") == "" and _rest_may_vanish(route.pattern):
        return "its path_prefix '/' may stand for the whole path"
    return None


def _rewritten(route: Route) -> bool:
    """The route's `path_prefix` replaces its static prefix (`gateway.policy.matcher.upstream_path`)."""
    target = route.target
    return isinstance(target, Forward) and target.strip_tenant_prefix and target.path_prefix is not None


def _rest_may_vanish(pattern: Pattern) -> bool:
    return all(s.kind == "prefix" for s in pattern.segments[pattern.static_depth :])


def _locations(routes: Sequence[Route | Through], tenant: str, prefix: str) -> tuple[Location, ...]:
    """The locations of one tenant served under `prefix` (the root: ""), most specific first;
    a pattern of gateway routes only where a later edge location could catch its paths."""
    shapes: dict[tuple[tuple[str, str], ...], list[Route | Through]] = {}
    for item in routes:
        shapes.setdefault(_route(item).pattern.shape, []).append(item)
    found = [_location(group, tenant, prefix) for group in shapes.values()]
    kept = [
        loc
        for i, loc in enumerate(found)
        if loc.edge is not None or any(later.edge and _overlap(loc, later) for later in found[i + 1 :])
    ]
    return tuple(kept)


def _overlap(first: Location, later: Location) -> bool:
    return overlap(first.routes[0].pattern.segments, later.routes[0].pattern.segments)


def overlap(a: Sequence[Segment], b: Sequence[Segment]) -> bool:
    """Whether some path matches both patterns."""
    for x, y in zip(a, b, strict=False):
        if "prefix" in (x.kind, y.kind):
            return True
        if x.kind == y.kind == "literal" and x.value != y.value:
            return False
    longer = a[len(b) :] or b[len(a) :]
    return not longer or [s.kind for s in longer] == ["prefix"]


def _route(item: Route | Through) -> Route:
    return item if isinstance(item, Route) else item.route


def _location(group: list[Route | Through], tenant: str, prefix: str) -> Location:
    edge = next((item for item in group if isinstance(item, Route)), None)
    pattern = _route(group[0]).pattern
    head = "^" + pcre_literal(prefix)
    if edge is None:
        return Location(head + _inner(pattern.segments, whole=True) + "$", None, "", tuple(map(_route, group)))
    split = pattern.static_depth if _rewritten(edge) else 0  # the static prefix a path_prefix replaces
    fixed = "".join("/" + pcre_literal(s.value) for s in pattern.segments[:split])
    rest = _inner(pattern.segments[split:], whole=split == 0)
    regex = f"{head}{fixed}(?<edge_rest>{rest})$"
    return Location(regex, edge, _target(edge, tenant), tuple(map(_route, group)))


def _inner(segments: Sequence[Segment], *, whole: bool) -> str:
    """The regex of `segments`; `whole`: they are the whole path below the tenant, which is
    never empty (``/`` at least)."""
    if whole and not segments:
        return "/"
    if whole and [s.kind for s in segments] == ["prefix"]:
        return "/.*"
    return "".join(_segment_regex(s) for s in segments)


def _segment_regex(segment: Segment) -> str:
    if segment.kind == "literal":
        return "/" + pcre_literal(segment.value)
    return "/[^/]+" if segment.kind == "param" else "(?:/.*)?"


def _target(route: Route, tenant: str) -> str:
    """What nginx appends to the upstream's URL, as `gateway.policy.matcher.upstream_path` does."""
    target = route.target
    assert isinstance(target, Forward)
    if not target.strip_tenant_prefix:
        return f"/{tenant}$edge_rest"
    if target.path_prefix is not None:
        return target.path_prefix.rstrip("/") + "$edge_rest"
    return "$edge_rest"


def methods_of(route: Route) -> frozenset[str] | None:
    """The methods nginx forwards for `route` (None: any)."""
    return None if ANY_METHOD in route.methods else route.methods
