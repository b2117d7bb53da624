"""The running gateway, built whole and in dependency order: every part gets what it needs in
its constructor, and nothing is wired into it afterwards.

    assemble(settings, policies) -> Assembly     what `gateway serve` runs (`gateway.app`)
        Metrics, the Ory client (timed by them), Redis (when configured: never contacted here)
        OryStages: per tenant, authentication, Keto permissions, the organization stage
        build_gateway(...) -> Gateway              what a request reaches (`gateway.context`)
        Revocations, Readiness, the endpoints (`gateway.endpoints.registry`)

`gateway explain` builds the same `Gateway` with stages that answer from its flags.
The lifespan (`gateway.app`) only starts what runs in the background.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import redis.asyncio as aioredis

from gateway.authn import TenantAuthenticator, build_authenticators
from gateway.authn.authenticator import Authenticator
from gateway.config.settings import Settings
from gateway.context import Gateway
from gateway.endpoints.builtin_dispatch import BuiltinDispatch
from gateway.endpoints.builtins import BuiltinContext, bind_builtins
from gateway.endpoints.health import Readiness
from gateway.endpoints.rate_limit import SharedCounter
from gateway.endpoints.registry import Endpoints, Parts, bind_endpoints
from gateway.forward.assertion import AssertionSigner
from gateway.forward.body_policy import BodyPolicy
from gateway.forward.headers import UpstreamHeaders
from gateway.forward.recheck import StreamRecheck
from gateway.forward.relay import Relay
from gateway.forward.stream_cap import StreamCap
from gateway.forward.timed import TimedUpstreams
from gateway.front.cors import Cors
from gateway.front.cross_origin import CrossOrigin
from gateway.front.locate import Locator
from gateway.front.trusted_proxies import TrustedProxies
from gateway.labels.scope import OrgScope
from gateway.observe.metrics import Metrics, StateCollector
from gateway.observe.tracing import Tracing
from gateway.orgs.stage import OrgStage, build_org_stages
from gateway.permissions.checker import TenantPermissions, build_permissions
from gateway.policy.reload import PolicyStore
from gateway.replicas.cache import RedisCache
from gateway.replicas.permissions import ANSWERS
from gateway.replicas.redis import Guard, RedisWindows, connect
from gateway.replicas.revocations import Revocations
from gateway.replicas.verdicts import VERDICTS
from gateway.server.lifecycle import Drain


@dataclass(frozen=True, slots=True)
class OryStages:
    """The stages that ask Ory, per tenant."""

    authn: Mapping[str, Authenticator]
    permissions: Mapping[str, TenantPermissions]
    orgs: Mapping[str, OrgStage]


def build_gateway(
    settings: Settings,
    policies: PolicyStore,
    ory: httpx.AsyncClient,
    metrics: Metrics,
    stages: OryStages,
    rate_windows: SharedCounter | None = None,
) -> Gateway:
    proxies = TrustedProxies(settings.trusted_proxies)
    upstreams = TimedUpstreams(settings.upstreams, metrics)
    signer = AssertionSigner(settings.public_url, settings.tenants, settings.assertion_keys_dir)
    cors = Cors(settings)
    limits = settings.limits
    recheck = StreamRecheck(stages.authn, stages.orgs, stages.permissions, limits.stream_recheck_seconds)
    builtins = bind_builtins(BuiltinContext(settings, ory, stages.authn, stages.orgs, policies, rate_windows))
    return Gateway(
        settings=settings,
        policies=policies,
        locator=Locator(settings),
        cross_origin=CrossOrigin(settings, cors),
        cors=cors,
        authn=stages.authn,
        orgs=stages.orgs,
        permissions=stages.permissions,
        builtins=BuiltinDispatch(builtins),
        body=BodyPolicy(limits.max_body_bytes),
        labels=OrgScope(upstreams, limits.max_body_bytes, signer.assertion),
        upstream_headers=UpstreamHeaders(settings, signer),
        relay=Relay(upstreams, StreamCap(limits.max_streams), recheck, limits.sse_heartbeat_seconds),
        recheck=recheck,
        upstreams=upstreams,
        signer=signer,
        ory=ory,
        proxies=proxies,
        tracing=Tracing(settings.tracing, proxies),
    )


@dataclass(frozen=True, slots=True)
class Shared:
    """What replicas share through Redis (`GATEWAY_REDIS_URL`)."""

    client: aioredis.Redis
    decisions: RedisCache[Any, Any]
    permissions: RedisCache[Any, Any]
    rate_windows: RedisWindows


def connect_shared(settings: Settings) -> Shared | None:
    """The Redis layers; Redis is not contacted here (it being down must not stop a start)."""
    if settings.redis_url is None:
        return None
    client, guard, ttl = connect(settings.redis_url), Guard(), settings.cache.max_ttl
    return Shared(
        client,
        RedisCache(client, VERDICTS, ttl, guard),
        RedisCache(client, ANSWERS, ttl, guard),
        RedisWindows(client, guard),
    )


@dataclass(frozen=True, slots=True)
class Assembly:
    """What `gateway serve` runs: the gateway, and what lives beside it."""

    gw: Gateway
    metrics: Metrics
    drain: Drain
    revocations: Revocations
    endpoints: Endpoints
    shared: Shared | None


def assemble(settings: Settings, policies: PolicyStore) -> Assembly:
    metrics = Metrics()
    ory = httpx.AsyncClient(follow_redirects=False, cookies=NoCookies(), event_hooks=metrics.ory_hooks())
    redis = connect_shared(settings)
    authn = build_authenticators(settings, ory, shared=redis.decisions if redis else None)
    permissions = build_permissions(settings, ory, shared=redis.permissions if redis else None)
    stages = OryStages(authn, permissions, build_org_stages(settings.tenants, permissions))
    gw = build_gateway(settings, policies, ory, metrics, stages, redis.rate_windows if redis else None)
    metrics.registry.register(_state(authn, gw, redis))
    revocations = Revocations(authn, permissions, metrics, redis.client if redis else None)
    drain = Drain()
    parts = Parts(gw, metrics, Readiness(settings, policies, ory, drain), revocations)
    return Assembly(gw, metrics, drain, revocations, bind_endpoints(settings, parts), redis)


def _state(authn: Mapping[str, TenantAuthenticator], gw: Gateway, redis: Shared | None) -> StateCollector:
    """What the metrics read at scrape time: the decision caches, the open streams, Redis's counts."""
    cap = gw.relay.cap
    return StateCollector(authn, lambda: cap.open, redis.decisions.counts if redis else None)


class NoCookies(httpx.Cookies):
    """The shared Ory client must never keep one caller's Set-Cookie for the next call."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None
