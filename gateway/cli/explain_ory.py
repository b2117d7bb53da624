"""Ory's answers for `gateway explain`, from its flags; no network call is ever made.

`explaining_gateway` builds the real `Gateway` (`gateway.build.build_gateway`) with the
stages that ask Ory answering from a `Caller` instead:

- authentication: every tenant's authenticator answers with the caller (`--as`, `--roles`,
  `--scopes`, `--org`, `--subject`, `--principal-tenant`), whatever credential the request
  carries and whatever kinds the route accepts (authorization then judges the kind);
- memberships: the caller holds `--roles` in the organization the request acts for (a
  person; a machine keeps its own `--org`), whatever the tenant's membership source;
- Keto: the tenant's permission checks are the real ones, their answers `allowed` unless
  `--keto-denies`, through an in-process transport.

Every other Ory call (the built-ins', readiness) is refused in process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx

from gateway.build import OryStages, build_gateway
from gateway.cli.explanation import Caller
from gateway.config.settings import CacheSettings, Settings
from gateway.context import Gateway
from gateway.front.request import RequestView
from gateway.observe.metrics import Metrics
from gateway.orgs.sources import Resolve
from gateway.orgs.stage import OrgStage
from gateway.ory.pool import OryPool
from gateway.permissions.checker import TenantPermissions
from gateway.policy import PolicySet
from gateway.policy.reload import PolicyStore
from gateway.principal import Kind, Membership, Principal


class CallerAuthenticator:
    """One tenant's authentication, answered by the caller's flags."""

    def __init__(self, caller: Caller, tenant: str) -> None:
        self.caller, self.tenant = caller, tenant

    async def authenticate(
        self, request: RequestView, kinds: Sequence[Kind], refreshed: Callable[[str], None] | None = None
    ) -> Principal:
        return self.caller.principal(self.tenant)

    async def forget(self, principal: Principal) -> None:
        return None

    def evict_credential(self, credential: str) -> int:
        return 0


def caller_memberships(caller: Caller) -> Resolve:
    """The membership source's verb: `--roles` in the organization chosen (none when no choice)."""

    async def resolve(principal: Principal, choice: str | None, roles: frozenset[str]) -> Membership | None:
        return Membership(choice, caller.roles) if choice is not None else None

    return resolve


def keto_answers(caller: Caller) -> httpx.AsyncClient:
    """Keto's read API, in process: every check answered with `--keto-denies`' answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/relation-tuples/check"):
            return httpx.Response(200, json={"allowed": caller.keto_allows})
        if path.endswith("/relation-tuples/batch/check"):
            count = len(httpx.Response(200, content=request.content).json().get("tuples", []))
            return httpx.Response(200, json={"results": [{"allowed": caller.keto_allows}] * count})
        if path.endswith("/relation-tuples"):
            return httpx.Response(200, json={"relation_tuples": [], "next_page_token": ""})
        return _refused(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def _none(principal: Principal, roles: frozenset[str]) -> tuple[Membership, ...]:
    return ()  # `me` is not explained: no list of memberships to give


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("gateway explain makes no network call", request=request)


def explaining_gateway(settings: Settings, policies: PolicySet, caller: Caller) -> Gateway:
    """The gateway `decide` runs on, its Ory answers taken from `caller`."""
    keto = keto_answers(caller)
    tenants = settings.tenants
    permissions = {name: TenantPermissions(t, CacheSettings(), OryPool.over(name, keto)) for name, t in tenants.items()}
    resolve = caller_memberships(caller)
    stages = OryStages(
        authn={name: CallerAuthenticator(caller, name) for name in settings.tenants},
        permissions=permissions,
        orgs={name: OrgStage(t, resolve, _none) for name, t in settings.tenants.items()},
    )
    store = PolicyStore(settings.policies_dir, settings, initial=policies)
    nowhere = httpx.AsyncClient(transport=httpx.MockTransport(_refused))
    return build_gateway(settings, store, {name: OryPool.over(name, nowhere) for name in tenants}, Metrics(), stages)
