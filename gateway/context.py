"""`Gateway`: what a request can reach, built whole (`gateway.build`) and never changed after."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.authn.authenticator import Authenticator
from gateway.config.settings import Settings
from gateway.endpoints.builtin_dispatch import BuiltinDispatch
from gateway.forward.assertion import AssertionSigner
from gateway.forward.body_policy import BodyPolicy
from gateway.forward.headers import UpstreamHeaders
from gateway.forward.proxy import Upstreams
from gateway.forward.recheck import StreamRecheck
from gateway.forward.relay import Relay
from gateway.front.cors import Cors
from gateway.front.cross_origin import CrossOrigin
from gateway.front.locate import Locator
from gateway.front.trusted_proxies import TrustedProxies
from gateway.labels.scope import OrgScope
from gateway.observe.tracing import Tracing
from gateway.orgs.stage import OrgStage
from gateway.ory.pool import OryPool
from gateway.permissions.checker import TenantPermissions
from gateway.policy.reload import PolicyStore
from gateway.quotas.routes import RouteLimits


@dataclass(frozen=True, slots=True)
class Gateway:
    settings: Settings
    policies: PolicyStore
    #: canonical path -> tenant -> route, remembered per policy set
    locator: Locator
    #: the cookie's cross-origin use refused before authentication (CSRF, CSWSH)
    cross_origin: CrossOrigin
    #: CORS per tenant: preflights, and the Access-Control-* headers of every answer
    cors: Cors
    #: per tenant: authentication, the organization stage (membership source bound), Keto permissions
    authn: Mapping[str, Authenticator]
    orgs: Mapping[str, OrgStage]
    permissions: Mapping[str, TenantPermissions]
    #: a route's `rate_limit`, after authorization
    route_limits: RouteLimits
    #: after authorization: a built-in answers, or the body is taken, labelled and relayed upstream
    builtins: BuiltinDispatch
    body: BodyPolicy
    labels: OrgScope
    #: the one builder of what an upstream receives (HTTP, WebSocket, /decisions)
    upstream_headers: UpstreamHeaders
    relay: Relay
    #: an open stream's principal, checked again (SSE, streamed runs, WebSockets)
    recheck: StreamRecheck
    upstreams: Upstreams
    signer: AssertionSigner
    #: each tenant's way to its Ory (cache misses only; `gateway.ory.pool`); the forwarding path uses aiohttp
    ory: Mapping[str, OryPool]
    proxies: TrustedProxies
    #: W3C trace context per request, and OTLP export when configured
    tracing: Tracing
    #: what time it is (a route's `max_age`)
    clock: Callable[[], float] = time.time
