"""The loaded policy set: every tenant's routes and their compiled matchers, and `match`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.errors import NotFound
from gateway.labels.profile import LabelProfile
from gateway.policy.matcher import Matcher, upstream_path
from gateway.policy.model import Match, Route


@dataclass(frozen=True, slots=True)
class PolicySet:
    routes: Mapping[str, tuple[Route, ...]]
    matchers: Mapping[str, Matcher]
    #: compiled label profiles by id: the built-ins and the files' `label_profiles:`
    #: (`gateway.labels.registry`); ``headers`` is none (nothing to apply)
    label_profiles: Mapping[str, LabelProfile] = field(default_factory=dict)
    #: per tenant, every role name its routes require of people: the roles a Keto-backed
    #: membership source asks about (`gateway.orgs.sources`)
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def route(self, route_id: str) -> Route | None:
        tenant = route_id.partition(":")[0]
        return next((r for r in self.routes.get(tenant, ()) if r.id == route_id), None)

    def tenant_roles(self, tenant: str) -> frozenset[str]:
        return self.roles.get(tenant, frozenset())

    @property
    def route_count(self) -> int:
        return sum(len(rs) for rs in self.routes.values())


def match(policy_set: PolicySet, tenant: str, method: str, rest_path: str) -> Match:
    """The route `tenant` serves for `method` on `rest_path` (canonical, tenant-relative)."""
    matcher = policy_set.matchers.get(tenant)
    if matcher is None:
        raise NotFound("no route matches this path", reason="no_route")
    route, values = matcher.lookup(method, rest_path)
    params = dict(zip(route.pattern.params, values, strict=True))
    return Match(route, params, upstream_path(route, rest_path))
