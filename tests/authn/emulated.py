"""Helpers for the emulator-backed authn tests: seed, tenants from env, logins and tokens."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from gateway.authn import TenantAuthenticator
from gateway.config.settings import CacheSettings, Settings, TenantSettings
from gateway.front.request import RequestView
from gateway.load import load_settings
from gateway.ory.pool import OryPool
from tests.support.clock import OffsetClock
from tests.support.emulator import RunningEmulator

API_KEY = "ory_pat_emulator"
BETA_KEY = "ory_pat_beta"
PASSWORD = "correct-horse-battery"
ALPHA_ID = "11111111-1111-4111-8111-111111111111"

SEED = f"""
projects:
  alpha:
    session_cookie_name: ory_kratos_session
    identities:
      - id: {ALPHA_ID}
        traits: {{email: ann@alpha.test}}
        password: {PASSWORD}
        metadata_public: {{organization_id: org-alpha, roles: [member, viewer]}}
      - traits: {{email: bob@alpha.test}}
        password: {PASSWORD}
        organization_id: 22222222-2222-4222-8222-222222222222
    clients:
      - client_id: alpha-svc
        client_secret: alpha-secret-1
        grant_types: [client_credentials]
        scope: "jobs:read jobs:write"
        metadata: {{organization_id: org-alpha-m}}
      - client_id: alpha-jwt
        client_secret: alpha-secret-2
        grant_types: [client_credentials]
        scope: "jobs:read"
        audience: [gw-alpha]
        access_token_strategy: jwt
        metadata: {{token_ext: {{organization_id: org-ext}}}}
      - client_id: alpha-orphan
        client_secret: alpha-secret-3
        grant_types: [client_credentials]
        scope: "jobs:read"
  beta:
    api_key: {BETA_KEY}
    session_cookie_name: ory_kratos_session
    identities:
      - traits: {{email: carl@beta.test}}
        password: {PASSWORD}
    clients:
      - client_id: beta-svc
        client_secret: beta-secret-1
        grant_types: [client_credentials]
        scope: "jobs:read"
  gamma-cloud:
    session_lifespan: 30s
    identities:
      - traits: {{email: dora@gamma.test}}
        password: {PASSWORD}
        metadata_public: {{organization_id: org-gamma}}
"""


def settings_for(emu: RunningEmulator, timeout: float = 0.5) -> Settings:
    alpha, beta, gamma = (emu.project_url(p) for p in ("alpha", "beta", "gamma-cloud"))
    env = {
        "GATEWAY_TENANTS": "alpha,beta,gamma",
        "GATEWAY_DEFAULT_TENANT": "alpha",
        "GATEWAY_TENANT_ALPHA_MODE": "self-hosted",
        "GATEWAY_TENANT_ALPHA_KRATOS_PUBLIC_URL": alpha,
        "GATEWAY_TENANT_ALPHA_HYDRA_PUBLIC_URL": alpha,
        "GATEWAY_TENANT_ALPHA_HYDRA_ADMIN_URL": alpha,
        "GATEWAY_TENANT_ALPHA_HYDRA_ADMIN_TOKEN": API_KEY,
        "GATEWAY_TENANT_ALPHA_TIMEOUT": str(timeout),
        "GATEWAY_TENANT_BETA_MODE": "self-hosted",
        "GATEWAY_TENANT_BETA_KRATOS_PUBLIC_URL": beta,
        "GATEWAY_TENANT_BETA_HYDRA_PUBLIC_URL": beta,
        "GATEWAY_TENANT_BETA_HYDRA_ADMIN_URL": beta,
        "GATEWAY_TENANT_BETA_HYDRA_ADMIN_TOKEN": BETA_KEY,
        "GATEWAY_TENANT_BETA_TIMEOUT": str(timeout),
        "GATEWAY_TENANT_GAMMA_MODE": "cloud",
        "GATEWAY_TENANT_GAMMA_PROJECT_SLUG": "gamma-cloud",
        "GATEWAY_TENANT_GAMMA_API_KEY": API_KEY,
        "GATEWAY_TENANT_GAMMA_KRATOS_PUBLIC_URL": gamma,
        "GATEWAY_TENANT_GAMMA_KRATOS_ADMIN_URL": gamma,
        "GATEWAY_TENANT_GAMMA_HYDRA_PUBLIC_URL": gamma,
        "GATEWAY_TENANT_GAMMA_HYDRA_ADMIN_URL": gamma,
        "GATEWAY_TENANT_GAMMA_TIMEOUT": str(timeout),
    }
    return load_settings(env)


def make(
    tenant: TenantSettings,
    http: httpx.AsyncClient,
    clock: OffsetClock,
    cache: CacheSettings | None = None,
    **overrides: Any,
) -> TenantAuthenticator:
    return TenantAuthenticator(
        replace(tenant, **overrides), cache or CacheSettings(), OryPool.over(tenant.name, http), clock
    )


def request(*headers: tuple[str, str]) -> RequestView:
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]
    return RequestView(method="GET", path="/x", raw_query=b"", headers=raw, client_ip="127.0.0.1")


def bearer(token: str) -> RequestView:
    return request(("authorization", f"Bearer {token}"))


async def login_token(http: httpx.AsyncClient, base: str, email: str) -> tuple[str, str]:
    """Native (API) login: (session token, session id)."""
    flow = (await http.get(f"{base}/self-service/login/api")).json()
    body = {"method": "password", "identifier": email, "password": PASSWORD}
    done = await http.post(f"{base}/self-service/login", params={"flow": flow["id"]}, json=body)
    assert done.status_code == 200, done.text
    return done.json()["session_token"], done.json()["session"]["id"]


async def login_cookie(base: str, email: str) -> tuple[str, str, str]:
    """Browser login: (cookie name, cookie value, session id)."""
    async with httpx.AsyncClient() as browser:
        flow = (await browser.get(f"{base}/self-service/login/browser", headers={"accept": "application/json"})).json()
        csrf = next(
            n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "csrf_token"
        )
        body = {"method": "password", "identifier": email, "password": PASSWORD, "csrf_token": csrf}
        done = await browser.post(
            f"{base}/self-service/login",
            params={"flow": flow["id"]},
            json=body,
            headers={"accept": "application/json"},
        )
        assert done.status_code == 200, done.text
        (name, value), *_ = [(c.name, c.value or "") for c in browser.cookies.jar if c.name.startswith("ory_")]
        return name, value, str(done.json()["session"]["id"])


async def client_token(
    http: httpx.AsyncClient, base: str, client: str, secret: str, scope: str = "", audience: str = ""
) -> str:
    form = {"grant_type": "client_credentials", "scope": scope}
    if audience:
        form["audience"] = audience
    done = await http.post(f"{base}/oauth2/token", data=form, auth=(client, secret))
    assert done.status_code == 200, done.text
    return str(done.json()["access_token"])


def calls(emu: RunningEmulator, project: str, operation: str) -> int:
    stats = emu.control("GET", "stats").json()["projects"]
    return int(stats.get(project, {}).get(operation, 0))


def fault(emu: RunningEmulator, **body: Any) -> None:
    assert emu.control("POST", "faults", body).status_code == 201
