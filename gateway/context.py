"""What the pipeline stages share: built once at start-up, owned by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from gateway.assertion import AssertionSigner
from gateway.config import Settings
from gateway.forwarded import TrustedProxies
from gateway.locate import Locator
from gateway.policy import PolicyStore
from gateway.proxy import Upstreams

if TYPE_CHECKING:
    from gateway.authn import TenantAuthenticator
    from gateway.targets import Targets


@dataclass(slots=True)
class Gateway:
    settings: Settings
    policies: PolicyStore
    authn: dict[str, TenantAuthenticator]
    upstreams: Upstreams
    signer: AssertionSigner
    targets: Targets
    #: control-plane client for Ory (cache misses only); the forwarding path uses aiohttp
    ory: httpx.AsyncClient
    proxies: TrustedProxies
    #: canonical path -> tenant -> route, remembered per policy set
    locator: Locator
