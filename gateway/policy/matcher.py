"""Route matching on a per-tenant segment trie: cost grows with path depth, not route count.

Most specific wins. Walking the path one segment at a time, a literal segment
is tried before a ``{param}``, and both before a ``/**`` prefix ending at that
point; so a deeper exact match beats a prefix, and ``/a/b/**`` beats
``/a/{x}/c`` for ``/a/b/c`` (the literal ``b`` decides first). The first
candidate in that order whose methods include the request's wins. If some
pattern matched the path but none allows the method: 405 with ``Allow``; if
none matched: 404. Two routes of one shape with overlapping methods are
rejected at load, so there is never a tie.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import MethodNotAllowed, NotFound
from gateway.policy.model import ANY_METHOD, Forward, Route


class _Methods:
    """Routes ending at one trie node, by method."""

    __slots__ = ("by_method",)

    def __init__(self) -> None:
        self.by_method: dict[str, Route] = {}

    def get(self, method: str) -> Route | None:
        return self.by_method.get(method) or self.by_method.get(ANY_METHOD)

    def add(self, route: Route) -> Route | None:
        """Add `route`, or return the route it would tie with (nothing is added)."""
        for method in route.methods:
            clash = self.by_method.get(ANY_METHOD) if method != ANY_METHOD else None
            clash = clash or self.by_method.get(method)
            if clash is None and method == ANY_METHOD and self.by_method:
                clash = next(iter(self.by_method.values()))
            if clash is not None:
                return clash
        self.by_method.update(dict.fromkeys(route.methods, route))
        return None


class _Node:
    __slots__ = ("exact", "literals", "param", "prefix")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.exact: _Methods | None = None
        self.prefix: _Methods | None = None


class Matcher:
    """The compiled routes of one tenant."""

    def __init__(self) -> None:
        self._root = _Node()

    def add(self, route: Route) -> Route | None:
        """Add `route`; returns the already added route it would tie with, if any."""
        node = self._root
        for segment in route.pattern.segments:
            if segment.kind == "literal":
                node = node.literals.setdefault(segment.value, _Node())
            elif segment.kind == "param":
                node.param = node.param or _Node()
                node = node.param
        if route.pattern.segments and route.pattern.segments[-1].kind == "prefix":
            node.prefix = node.prefix or _Methods()
            return node.prefix.add(route)
        node.exact = node.exact or _Methods()
        return node.exact.add(route)

    def lookup(self, method: str, path: str) -> tuple[Route, list[str]]:
        """The winning route for `method` `path` and its parameter values, in pattern order."""
        segments = _segments(path)
        hit = _find(self._root, segments, 0, method, [])
        if hit is not None:
            return hit
        allowed = frozenset(m for m in _allowed(self._root, segments, 0) if m != ANY_METHOD)
        if allowed:
            raise MethodNotAllowed(f"method {method} is not allowed here", allowed=allowed)
        raise NotFound("no route matches this path", reason="no_route")


def build_matcher(routes: Iterable[Route]) -> tuple[Matcher, list[tuple[Route, Route]]]:
    """A matcher for `routes` and the (earlier, later) pairs that would tie."""
    matcher, ties = Matcher(), []
    for route in routes:
        clash = matcher.add(route)
        if clash is not None:
            ties.append((clash, route))
    return matcher, ties


def upstream_path(route: Route, rest_path: str) -> str:
    """The decoded path forwarded for `rest_path` ("" for built-in targets)."""
    target = route.target
    if not isinstance(target, Forward):
        return ""
    if not target.strip_tenant_prefix:
        return f"/{route.tenant}{rest_path}"
    if target.strip_prefix is not None:  # whole matched segments dropped: never a new `..` or `//`
        return "/" + "/".join(_segments(rest_path)[len(target.strip_prefix.segments) :])
    if target.path_prefix is None:
        return rest_path
    below = _segments(rest_path)[route.pattern.static_depth :]
    remainder = "/" + "/".join(below) if below else ""
    return (target.path_prefix.rstrip("/") + remainder) or "/"


def _segments(path: str) -> list[str]:
    return [] if path == "/" else path[1:].split("/")


def _find(node: _Node, segs: list[str], i: int, method: str, values: list[str]) -> tuple[Route, list[str]] | None:
    if i == len(segs):
        route = node.exact.get(method) if node.exact is not None else None
        if route is not None:
            return route, values
    else:
        child = node.literals.get(segs[i])
        hit = _find(child, segs, i + 1, method, values) if child is not None else None
        if hit is not None:
            return hit
        if node.param is not None and segs[i]:
            hit = _find(node.param, segs, i + 1, method, [*values, segs[i]])
            if hit is not None:
                return hit
    route = node.prefix.get(method) if node.prefix is not None else None
    return (route, values) if route is not None else None


def _allowed(node: _Node, segs: list[str], i: int) -> set[str]:
    methods = set(node.prefix.by_method) if node.prefix is not None else set()
    if i == len(segs):
        return methods | (set(node.exact.by_method) if node.exact is not None else set())
    child = node.literals.get(segs[i])
    if child is not None:
        methods |= _allowed(child, segs, i + 1)
    if node.param is not None and segs[i]:
        methods |= _allowed(node.param, segs, i + 1)
    return methods
