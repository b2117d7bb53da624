"""What the pipeline stages share: built once at start-up, owned by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from gateway.config.load import Settings
from gateway.forward.assertion import AssertionSigner
from gateway.forward.headers import UpstreamHeaders
from gateway.forward.proxy import Upstreams
from gateway.front.locate import Locator
from gateway.front.trusted_proxies import TrustedProxies
from gateway.policy import PolicyStore

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
    #: per tenant: the organization stage (membership source bound) and Keto permissions
    orgs: dict[str, OrgStage] = field(default_factory=dict)
    permissions: dict[str, TenantPermissions] = field(default_factory=dict)
