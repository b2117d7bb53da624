"""The running gateway, built whole and in dependency order: every part gets what it needs in
its constructor, and nothing is wired into it afterwards.

    assemble(settings, policies) -> Assembly     what `gateway serve` runs (`gateway.app`)
        Metrics, each tenant's Ory pool (timed by them), Redis (when configured: never contacted here)
        OryStages: per tenant, authentication, Keto permissions, the organization stage
        build_gateway(...) -> Gateway              what a request reaches (`gateway.context`)
        Revocations, Readiness, the tenant probe, the endpoints (`gateway.endpoints.registry`)

`gateway explain` builds the same `Gateway` with stages that answer from its flags.
The lifespan (`gateway.app`) only starts what runs in the background.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from gateway.authn import TenantAuthenticator, build_authenticators
from gateway.authn.authenticator import Authenticator
from gateway.config.settings import Settings
from gateway.context import Gateway
from gateway.endpoints.builtin_dispatch import BuiltinDispatch
from gateway.endpoints.builtins import BuiltinContext, bind_builtins
from gateway.endpoints.health import Readiness
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
from gateway.ory.pool import OryPool, build_pools
from gateway.ory.probe import TenantProbe
from gateway.permissions.checker import TenantPermissions, build_permissions
from gateway.policy.reload import PolicyStore
from gateway.quotas.attempts import Attempts
from gateway.quotas.routes import RouteLimits
from gateway.quotas.storage import LocalStorage
from gateway.quotas.windows import Windows
from gateway.replicas.cache import RedisCache
from gateway.replicas.permissions import ANSWERS
from gateway.replicas.redis import Guard, connect
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
    ory: Mapping[str, OryPool],
    metrics: Metrics,
    stages: OryStages,
    windows: Windows | None = None,
) -> Gateway:
    proxies = TrustedProxies(settings.trusted_proxies)
    upstreams = TimedUpstreams(settings.upstreams, metrics)
    signer = AssertionSigner(settings.public_url, settings.tenants, settings.assertion_keys_dir)
    cors = Cors(settings)
    limits = settings.limits
    recheck = StreamRecheck(stages.authn, stages.orgs, stages.permissions, limits.stream_recheck_seconds)
    windows = windows or Windows(LocalStorage(settings.cache.size))
    builtins = bind_builtins(BuiltinContext(settings, ory, stages.authn, stages.orgs, policies, windows))
    return Gateway(
        settings=settings,
        policies=policies,
        locator=Locator(settings),
        cross_origin=CrossOrigin(settings, cors),
        cors=cors,
        authn=stages.authn,
        orgs=stages.orgs,
        permissions=stages.permissions,
        route_limits=RouteLimits(windows),
        builtins=BuiltinDispatch(builtins),
        body=BodyPolicy(limits.max_body_bytes),
        labels=OrgScope(upstreams, limits.max_body_bytes, signer.assertion),
        upstream_headers=UpstreamHeaders(settings, signer),
        relay=Relay(
            upstreams,
            StreamCap(limits.max_streams, limits.max_streams_per_tenant, limits.max_streams_per_principal),
            recheck,
            limits.sse_heartbeat_seconds,
        ),
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
    #: rate-limit windows counted in Redis (this process's while Redis is down)
    windows: Windows


def connect_shared(settings: Settings) -> Shared | None:
    """The Redis layers; Redis is not contacted here (it being down must not stop a start)."""
    if settings.redis_url is None:
        return None
    client, guard, ttl = connect(settings.redis_url), Guard(), settings.cache.max_ttl
    return Shared(
        client,
        RedisCache(client, VERDICTS, ttl, guard),
        RedisCache(client, ANSWERS, ttl, guard),
        Windows(LocalStorage(settings.cache.size), client, guard),
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
    #: asks each tenant's Ory services how they are between real calls (run by the lifespan)
    probe: TenantProbe


def assemble(settings: Settings, policies: PolicyStore) -> Assembly:
    metrics = Metrics()
    ory = build_pools(settings.tenants, metrics.ory_hooks())
    redis = connect_shared(settings)
    windows = redis.windows if redis else Windows(LocalStorage(settings.cache.size))
    attempts = Attempts(windows, settings.limits.auth_failures_per_minute, settings.cache.size)
    authn = build_authenticators(settings, ory, shared=redis.decisions if redis else None, attempts=attempts)
    permissions = build_permissions(settings, ory, shared=redis.permissions if redis else None)
    stages = OryStages(authn, permissions, build_org_stages(settings.tenants, permissions))
    gw = build_gateway(settings, policies, ory, metrics, stages, windows)
    metrics.registry.register(_state(authn, gw, redis))
    revocations = Revocations(authn, permissions, metrics, redis.client if redis else None)
    drain = Drain()
    parts = Parts(gw, metrics, Readiness(policies, drain), revocations)
    probe = TenantProbe(settings.tenants, ory)
    return Assembly(gw, metrics, drain, revocations, bind_endpoints(settings, parts), redis, probe)


def _state(authn: Mapping[str, TenantAuthenticator], gw: Gateway, redis: Shared | None) -> StateCollector:
    """What the metrics read at scrape time: the decision caches, the open streams, Redis's counts."""
    cap = gw.relay.cap
    return StateCollector(authn, gw.ory, lambda: cap.open, redis.decisions.counts if redis else None)
