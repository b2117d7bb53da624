"""Frozen values a loaded policy set is made of."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gateway.labels.registry import HEADERS
from gateway.principal import Kind

ANY_METHOD = "*"
SegmentKind = Literal["literal", "param", "prefix"]


@dataclass(frozen=True, slots=True)
class Segment:
    """One compiled pattern segment: a literal, a ``{param}`` or the trailing ``/**``."""

    kind: SegmentKind
    value: str = ""  # literal text or parameter name


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str
    segments: tuple[Segment, ...]
    #: parameter names in order, computed once (read on every match)
    params: tuple[str, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(s.value for s in self.segments if s.kind == "param"))

    @property
    def static_depth(self) -> int:
        """How many leading literal segments (the static prefix) the pattern has."""
        depth = 0
        for segment in self.segments:
            if segment.kind != "literal":
                break
            depth += 1
        return depth

    @property
    def shape(self) -> tuple[tuple[str, str], ...]:
        """Parameter names erased: two patterns of one shape match the same paths."""
        return tuple((s.kind, s.value if s.kind == "literal" else "") for s in self.segments)


@dataclass(frozen=True, slots=True)
class Permission:
    """An Ory Permissions (Keto) check a route requires: ``namespace:object#relation@subject``,
    the object rendered per request from a template of the route's ``{param}``s and ``{org}``
    (`gateway.permissions.template`); the subject is the caller (identity id or client id)."""

    namespace: str
    #: the object template as written, e.g. ``"{org}/reports/{report}"``
    object: str
    relation: str
    #: the template compiled: literal text and placeholder names alternating, literal first
    #: (``("", "org", "/reports/", "report", "")``)
    parts: tuple[str, ...] = ()

    @property
    def placeholders(self) -> tuple[str, ...]:
        return self.parts[1::2]


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a principal of one kind needs. Empty tuples mean "no requirement"."""

    kind: Kind
    roles_any: tuple[str, ...] = ()
    roles_all: tuple[str, ...] = ()
    scopes_any: tuple[str, ...] = ()
    scopes_all: tuple[str, ...] = ()
    permission: Permission | None = None
    #: people only: the session's assurance level must reach `aal2` (a second factor)
    aal: str | None = None
    #: people only: at most this many seconds since the person last authenticated
    max_age: int | None = None


#: what a route's rate limit counts per (`gateway.quotas.routes`)
RateLimitKey = Literal["tenant", "organization", "principal", "client_id", "client_address"]
RATE_LIMIT_KEYS: tuple[RateLimitKey, ...] = ("tenant", "organization", "principal", "client_id", "client_address")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `requests` per `seconds` (a sliding window) for each value of `key`."""

    requests: int
    seconds: int
    key: RateLimitKey
    #: the window as written (`1m`)
    per: str

    def __str__(self) -> str:
        return f"{self.requests} per {self.per} per {self.key.replace('_', ' ')}"


@dataclass(frozen=True, slots=True)
class Forward:
    upstream: str
    strip_tenant_prefix: bool = True
    #: replaces the route's static prefix (e.g. ``/api/durably`` -> ``/durably``)
    path_prefix: str | None = None
    #: leading segments every pattern of the route starts with, dropped from the forwarded
    #: path (``/orgs/{org}``: ``/orgs/acme/api/durably/runs`` -> ``/api/durably/runs``)
    strip_prefix: Pattern | None = None


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    options: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Route:
    #: qualified id, ``<tenant>:<id>``
    id: str
    tenant: str
    pattern: Pattern
    #: upper-case methods; GET implies HEAD; ``{"*"}`` means any
    methods: frozenset[str]
    #: per accepted kind, in the order authenticators are tried
    allow: tuple[Requirement, ...]
    anonymous: bool
    target: Forward | Builtin
    #: label profile id (`gateway.labels.registry`)
    labels: str = HEADERS
    stream: bool = False
    websocket: bool = False
    timeout: float = 30.0
    idle_timeout: float = 300.0
    #: ``file:line`` of the route in its policy file
    source: str = ""
    #: the path parameter that names the organization (``organization: {param: org}``)
    organization_param: str | None = None
    #: the route's rate limit, checked after authorization (`gateway.quotas.routes`)
    rate_limit: RateLimit | None = None
    #: the accepted principal kinds in authenticator order, computed once (read on every request)
    kinds: tuple[Kind, ...] = field(init=False, compare=False)
    #: a label profile rewrites what this route forwards (anything but ``headers``); computed once
    injects_labels: bool = field(init=False, compare=False)
    #: whether the route acts for one organization: it injects labels, names the organization
    #: in its path, requires roles of people, or renders ``{org}`` into a permission check.
    #: A person of several organizations must then choose one (`gateway.orgs`).
    org_scoped: bool = field(init=False, compare=False)
    #: a requirement depends on the time (`max_age`): its allow is decided again on every request
    timed: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(r.kind for r in self.allow))
        object.__setattr__(self, "timed", any(r.max_age is not None for r in self.allow))
        object.__setattr__(self, "injects_labels", isinstance(self.target, Forward) and self.labels != HEADERS)
        object.__setattr__(self, "org_scoped", self._org_scoped())

    def _org_scoped(self) -> bool:
        roles = any(r.kind == "human" and (r.roles_any or r.roles_all) for r in self.allow)
        org = any(r.permission is not None and "org" in r.permission.placeholders for r in self.allow)
        return self.injects_labels or self.organization_param is not None or roles or org

    def requirement_for(self, kind: Kind) -> Requirement | None:
        for requirement in self.allow:
            if requirement.kind == kind:
                return requirement
        return None


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    #: ``{param}`` values, decoded (as in the canonical path): quote before putting them in a URL
    params: Mapping[str, str] = field(hash=False)
    #: decoded path to send upstream ("" for built-ins); encode with `gateway.front.paths.quote_path`
    upstream_path: str
