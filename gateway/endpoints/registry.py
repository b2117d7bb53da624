"""The gateway's own endpoints, one registry: answered before any tenant routing.

Each `Endpoint` has its path, who may call it (anyone, or the admin: `gateway.endpoints.admin`),
the methods it answers (None: any), whether it also answers the paths under it, whether
these settings serve it on the main listener, and its one verb, `bind`: its handler for the
running gateway. The first segments of the paths are reserved: no tenant may take them
(`gateway.config.settings.RESERVED_TENANT_NAMES`, checked when the settings load), so a
tenant prefix never shadows them.
`gateway.app` only looks a path up in the table `bind_endpoints` makes.

Adding an endpoint is one `Endpoint` in `ENDPOINTS` (its handler in its own module), its
first segment in `RESERVED_TENANT_NAMES` if it is a new one (tests/test_layout.py says so),
and its documentation (docs/operations.md).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from gateway.config.settings import Settings
from gateway.context import Gateway
from gateway.endpoints.admin import allow_method, require_admin, revoke
from gateway.endpoints.forward_auth import decisions
from gateway.endpoints.health import Readiness, healthz
from gateway.endpoints.tenants import PATH as TENANTS_PATH
from gateway.endpoints.tenants import tenants
from gateway.front.exchange import Exchange
from gateway.observe.metrics import Metrics
from gateway.replicas.revocations import Revocations

#: an endpoint's handler for the running gateway
Answer = Callable[[Exchange], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Parts:
    """What the endpoints' handlers are bound to."""

    gw: Gateway
    metrics: Metrics
    readiness: Readiness
    revocations: Revocations


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    #: its handler for the running gateway (the verb)
    bind: Callable[[Parts], Answer]
    #: who may call it: anyone, or the admin (`Authorization: Bearer <GATEWAY_ADMIN_TOKEN>`)
    caller: Literal["anyone", "admin"] = "anyone"
    #: the methods it answers (405 for any other); None: every method
    methods: frozenset[str] | None = None
    #: also answers every path under it (`/decisions/<path>`)
    subtree: bool = False
    #: whether these settings serve it on the main listener
    served: Callable[[Settings], bool] = lambda settings: True


async def _jwks(gw: Gateway, ex: Exchange) -> None:
    """The keys of `X-Identity-Assertion` (upstreams verify the assertion with them)."""
    await ex.respond(200, gw.signer.jwks_body, [(b"cache-control", b"public, max-age=300")])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/healthz", lambda parts: healthz),
    Endpoint("/readyz", lambda parts: parts.readiness.answer),
    Endpoint("/.well-known/jwks.json", lambda parts: functools.partial(_jwks, parts.gw)),
    # forward-auth: `/decisions` and `/decisions/<path>` (the described request's headers are
    # believed from trusted proxies only)
    Endpoint("/decisions", lambda parts: functools.partial(decisions, parts.gw), subtree=True),
    # each tenant's Ory health (also on the metrics listener: `gateway.observe.metrics`)
    Endpoint(
        TENANTS_PATH,
        lambda parts: functools.partial(tenants, parts.gw.ory),
        caller="admin",
        methods=frozenset({"GET", "HEAD"}),
    ),
    Endpoint(
        "/_gateway/revoke",
        lambda parts: functools.partial(revoke, parts.revocations),
        caller="admin",
        methods=frozenset({"POST"}),
    ),
    # unless GATEWAY_METRICS_LISTEN gives metrics a listener of their own
    Endpoint("/metrics", lambda parts: parts.metrics.answer, served=lambda settings: settings.metrics_listen is None),
)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The served endpoints by path, and those that also answer the paths under them."""

    exact: dict[str, Answer]
    #: (path + "/", handler), and the prefixes alone for one `str.startswith`
    subtrees: tuple[tuple[str, Answer], ...]
    prefixes: tuple[str, ...]

    def under(self, path: str) -> Answer:
        """The handler of the subtree `path` is in (the caller checked `prefixes`)."""
        return next(answer for prefix, answer in self.subtrees if path.startswith(prefix))


def bind_endpoints(settings: Settings, parts: Parts) -> Endpoints:
    """Every endpoint these settings serve, bound to the running gateway."""
    served = [e for e in ENDPOINTS if e.served(settings)]
    answers = {e.path: _guarded(e, settings, e.bind(parts)) for e in served}
    subtrees = tuple((e.path + "/", answers[e.path]) for e in served if e.subtree)
    return Endpoints(answers, subtrees, tuple(prefix for prefix, _ in subtrees))


def _guarded(endpoint: Endpoint, settings: Settings, answer: Answer) -> Answer:
    """`answer` behind the endpoint's checks: the admin's (404, 405, 401 in that order), or its methods'."""
    path, methods = endpoint.path, endpoint.methods
    if endpoint.caller == "admin":

        async def admin_only(ex: Exchange) -> None:
            require_admin(settings, ex, path, methods)
            await answer(ex)

        return admin_only
    if methods is None:
        return answer

    async def checked(ex: Exchange) -> None:
        allow_method(ex, methods)
        await answer(ex)

    return checked
