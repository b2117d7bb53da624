"""What the pipeline stages share: built once at start-up, owned by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from gateway.config.settings import Settings
from gateway.forward.assertion import AssertionSigner
from gateway.forward.headers import UpstreamHeaders
from gateway.forward.proxy import Upstreams
from gateway.front.cors import Cors
from gateway.front.cross_origin import CrossOrigin
from gateway.front.locate import Locator
from gateway.front.trusted_proxies import TrustedProxies
from gateway.observe.tracing import Tracing
from gateway.policy.reload import PolicyStore

if TYPE_CHECKING:
    from gateway.authn import TenantAuthenticator
    from gateway.forward.dispatch import Targets
    from gateway.orgs.stage import OrgStage
    from gateway.permissions.checker import TenantPermissions


@dataclass(slots=True)
class Gateway:
    settings: Settings
    policies: PolicyStore
    authn: dict[str, TenantAuthenticator]
    upstreams: Upstreams
    signer: AssertionSigner
    #: the one builder of what an upstream receives (HTTP, WebSocket, /decisions)
    upstream_headers: UpstreamHeaders
    targets: Targets
    #: control-plane client for Ory (cache misses only); the forwarding path uses aiohttp
    ory: httpx.AsyncClient
    proxies: TrustedProxies
    #: canonical path -> tenant -> route, remembered per policy set
    locator: Locator
    #: W3C trace context per request, and OTLP export when configured
    tracing: Tracing
    #: CORS per tenant: preflights, and the Access-Control-* headers of every answer
    cors: Cors
    #: the cookie's cross-origin use refused before authentication (CSRF, CSWSH)
    cross_origin: CrossOrigin
    #: per tenant: the organization stage (membership source bound) and Keto permissions
    orgs: dict[str, OrgStage] = field(default_factory=dict)
    permissions: dict[str, TenantPermissions] = field(default_factory=dict)
