"""The security gateway, started once per session next to the shared world."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.redirector import redirector
from tests.security.support import Sec, security_gateway
from tests.support.world import World

#: the bounds the corpus measures, kept small so the suite stays fast
SECURITY_ENV = {
    "GATEWAY_CACHE_MAX_TTL": "2",  # revoked sessions: accepted at most this long (cache class)
    "GATEWAY_STREAM_RECHECK_SECONDS": "1",  # long-lived streams: re-check interval
    "GATEWAY_HEADER_TIMEOUT": "2",  # slow headers
    "GATEWAY_MAX_STREAMS": "3",  # open SSE streams (resource exhaustion)
    "GATEWAY_MAX_STREAMS_PER_TENANT": "3",  # (one tenant and one person hold them all here)
    "GATEWAY_MAX_STREAMS_PER_PRINCIPAL": "3",
    "GATEWAY_TENANT_CUSTOMER_JWT_AUDIENCE": "gw-customer",  # customer machine tokens (aud []): wrong audience
    "GATEWAY_TENANT_ADMIN_HYDRA_ISSUER": "http://wrong-issuer.example",  # admin tokens: wrong issuer
    # cross-origin and CORS (test_corpus_cross_origin.py): a trusted front end and a dev server
    "GATEWAY_TENANT_CUSTOMER_TRUSTED_ORIGINS": "https://app.customer.example,http://localhost:3000",
    # forward-auth: a bare /decisions is described by nginx's X-Original-* from trusted proxies only
    "GATEWAY_DECISIONS_HEADERS": "original",
}


@pytest.fixture(scope="session")
def sec(world: World) -> Iterator[Sec]:
    with redirector() as upstream:
        # the admin tenant told to trust the customer project's session keys: a genuine session
        # JWT of another tenant's Kratos, refused for its issuer (test_corpus_session_jwt.py)
        customer_keys = f"{world.emulator.base_url}/customer/.well-known/ory/tokenizer/jwt/jwks.json"
        env = {
            **SECURITY_ENV,
            "GATEWAY_UPSTREAM_REDIRECTOR_URL": upstream.url,
            "GATEWAY_TENANT_ADMIN_SESSION_JWKS_URL": customer_keys,
        }
        with security_gateway(world.env, **env) as gateway:
            yield Sec(world, gateway, upstream)
