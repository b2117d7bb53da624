"""A world for sessions as Ory serves them: the emulator with five projects, the recording
upstream, and a gateway whose tenants use them (tests/e2e/test_sessions.py).

    shop      required_aal aal1 (the gateway's routes ask for the second factor), a tokenizer
              template `jwt`; pat has a TOTP second factor, quinn none
    hq        required_aal highest_available (Kratos' default): whoami refuses hal's aal1
              session; hank has no second factor; its own tokenizer template
    fleeting  Ory-Session-Cache-For on, capped at 1 s
    steady    no cache header
    shared    one Kratos and one Hydra for the tenants `left` and `right`, told apart by identity
              schema (customer / staff) and by client (left-partner / right-partner)
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.emulator.state import DEFAULT_API_KEY
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.processes import Proc, Recorder, gateway_process, recording_upstream
from tests.support.seed import browser_login, client_token, login

PAT = "5a7e0b52-0d6f-4c39-9f0e-6f2b1f6a7c01"
QUINN = "5a7e0b52-0d6f-4c39-9f0e-6f2b1f6a7c02"
HAL = "5a7e0b52-0d6f-4c39-9f0e-6f2b1f6a7c03"
HANK = "5a7e0b52-0d6f-4c39-9f0e-6f2b1f6a7c04"
CY = "5a7e0b52-0d6f-4c39-9f0e-6f2b1f6a7c05"
SID = "5a7e0b52-0d6f-4c39-9f0e-6f2b1f6a7c06"
PROJECTS = ("shop", "hq", "fleeting", "steady", "shared")
#: tenant -> its project (left and right share one)
TENANTS = {"shop": "shop", "hq": "hq", "fleeting": "fleeting", "steady": "steady", "left": "shared", "right": "shared"}
TEMPLATE = """
          templates:
            jwt:
              ttl: 5m
              claims_mapper:
                memberships: identity.metadata_public.memberships
                organization_id: identity.metadata_public.organization_id
                roles: identity.metadata_public.roles
                aal: session.authenticator_assurance_level
                authenticated_at: session.authenticated_at
"""
SEED = f"""
projects:
  shop:
    session:
      whoami:
        required_aal: aal1
        tokenizer:{TEMPLATE}
    identities:
      - id: {PAT}
        traits: {{email: pat@shop.test}}
        password: pat-password
        totp_secret: PATSHOPTOTPSECRET234567ABCDEFGH
        metadata_public: {{organization_id: org-shop, roles: [member]}}
      - id: {QUINN}
        traits: {{email: quinn@shop.test}}
        password: quinn-password
        metadata_public: {{organization_id: org-shop, roles: [viewer]}}
  hq:
    session:
      whoami:
        tokenizer:{TEMPLATE}
    identities:
      - id: {HAL}
        traits: {{email: hal@hq.test}}
        password: hal-password
        totp_secret: HALHQTOTPSECRET234567ABCDEFGHIJ
        metadata_public: {{organization_id: org-hq, roles: [member]}}
      - id: {HANK}
        traits: {{email: hank@hq.test}}
        password: hank-password
        metadata_public: {{organization_id: org-hq, roles: [member]}}
    clients:
      - client_id: hq-ops
        client_secret: hq-ops-secret
        grant_types: [client_credentials]
        scope: "people:read"
  fleeting:
    feature_flags: {{cacheable_sessions: true, cacheable_sessions_max_age: 1s}}
    identities:
      - traits: {{email: fay@fleeting.test}}
        password: fay-password
  steady:
    identities:
      - traits: {{email: stu@steady.test}}
        password: stu-password
  shared:
    identities:
      - id: {CY}
        schema_id: customer
        traits: {{email: cy@shared.test}}
        password: cy-password
      - id: {SID}
        schema_id: staff
        traits: {{email: sid@shared.test}}
        password: sid-password
    clients:
      - client_id: left-partner
        client_secret: left-partner-secret
        grant_types: [client_credentials]
        scope: "api"
      - client_id: right-partner
        client_secret: right-partner-secret
        grant_types: [client_credentials]
        scope: "api"
"""
POLICIES = """
tenants: [shop, hq, fleeting, steady, left, right]
routes:
  - id: api
    path: /api/**
    methods: [GET, POST]
    allow: {human: {}, machine: {}}
    forward: {upstream: rec}
  - id: secure
    path: /secure
    methods: [GET]
    allow:
      human: {aal: aal2}
    forward: {upstream: rec}
  - id: recent
    path: /recent
    methods: [GET]
    allow:
      human: {max_age: 600}
    forward: {upstream: rec}
  - id: logout
    path: /auth/logout
    methods: [POST]
    allow: {human: {}}
    builtin: {name: logout}
  - id: token
    path: /oauth2/token
    methods: [POST]
    allow: anonymous
    builtin: {name: oauth2_token}
  - id: jwks
    path: /.well-known/jwks.json
    methods: [GET]
    allow: anonymous
    builtin: {name: hydra_jwks}
  - id: discovery
    path: /.well-known/openid-configuration
    methods: [GET]
    allow: anonymous
    builtin: {name: hydra_discovery}
"""
LOOKUP = """
tenant: hq
routes:
  - id: people
    path: /people/{id}
    methods: [GET]
    allow: {machine: {}}
    builtin: {name: identity_lookup, tenant: shop, param: id}
"""
TOLD_APART = {
    "GATEWAY_TENANT_LEFT_IDENTITY_SCHEMAS": "customer",
    "GATEWAY_TENANT_RIGHT_IDENTITY_SCHEMAS": "staff",
    "GATEWAY_TENANT_LEFT_CLIENT_IDS": "left-partner",
    "GATEWAY_TENANT_RIGHT_CLIENT_IDS": "right-partner",
}


@dataclass
class Sessions:
    emulator: RunningEmulator
    upstream: Recorder
    gateway: Proc
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.gateway.url

    def project(self, name: str) -> str:
        return self.emulator.project_url(name)

    def calls(self, project: str, operation: str | None = None) -> list[dict[str, Any]]:
        """The calls the emulator received for `project` (and `operation`) since the last `forget`."""
        query = f"requests?project={project}" + (f"&operation={operation}" if operation else "")
        found: list[dict[str, Any]] = self.emulator.control("GET", query).json()
        return found

    def forget(self) -> None:
        self.emulator.control("DELETE", "requests").raise_for_status()

    def login(self, project: str, email: str, password: str) -> str:
        """A session token (Kratos' native login flow)."""
        return login(self.emulator.base_url, project, email, password)

    def browser_login(self, project: str, email: str, password: str) -> tuple[str, str]:
        """The session cookie (name, value) of a browser login flow."""
        return browser_login(self.emulator.base_url, project, email, password)

    def second_factor(self, project: str, token: str, email: str) -> None:
        """An aal2 login flow on the session: the TOTP code the emulator's clock holds now."""
        code = self.emulator.control("GET", f"projects/{project}/identities/{email}/totp").json()["code"]
        self._login_again(project, token, {"aal": "aal2"}, {"method": "totp", "totp_code": code})

    def sign_in_again(self, project: str, token: str, email: str, password: str) -> None:
        """A refresh login flow on the session: the password again."""
        body = {"method": "password", "identifier": email, "password": password}
        self._login_again(project, token, {"refresh": "true"}, body)

    def _login_again(self, project: str, token: str, query: dict[str, str], body: dict[str, str]) -> None:
        base, headers = self.project(project), {"X-Session-Token": token}
        flow = httpx.get(f"{base}/self-service/login/api", params=query, headers=headers).json()
        httpx.post(
            f"{base}/self-service/login", params={"flow": flow["id"]}, json=body, headers=headers
        ).raise_for_status()

    def whoami(self, project: str, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.project(project)}/sessions/whoami", headers=headers)

    def move(self, project: str, session_id: str, **change: object) -> None:
        self.emulator.control("PATCH", f"projects/{project}/sessions/{session_id}", change).raise_for_status()

    def client_token(self, project: str, client: str, secret: str, scope: str) -> str:
        return client_token(self.emulator.base_url, project, client, secret, scope)


def sessions_env(emulator: RunningEmulator, upstream: str, policies: Path) -> dict[str, str]:
    env = {
        "GATEWAY_TENANTS": ",".join(TENANTS),
        "GATEWAY_DEFAULT_TENANT": "shop",
        "GATEWAY_POLICIES_DIR": str(policies),
        "GATEWAY_UPSTREAM_REC_URL": upstream,
        "GATEWAY_CACHE_MAX_TTL": "60",
    }
    for tenant, project in TENANTS.items():
        p, base = f"GATEWAY_TENANT_{tenant.upper()}_", emulator.project_url(project)
        env |= {
            p + "MODE": "self-hosted",
            p + "KRATOS_PUBLIC_URL": base,
            p + "KRATOS_ADMIN_URL": base,
            p + "KRATOS_ADMIN_TOKEN": DEFAULT_API_KEY,
            p + "HYDRA_PUBLIC_URL": base,
            p + "HYDRA_ADMIN_URL": base,
            p + "HYDRA_ADMIN_TOKEN": DEFAULT_API_KEY,
            p + "SESSION_COOKIE_NAME": f"ory_session_{project}",
        }
    env["GATEWAY_TENANT_SHOP_SESSION_JWKS_URL"] = (
        emulator.project_url("shop") + "/.well-known/ory/tokenizer/jwt/jwks.json"
    )
    return env | TOLD_APART


@contextmanager
def sessions_world(workdir: Path) -> Iterator[Sessions]:
    seed, policies = workdir / "seed.yaml", workdir / "policies"
    seed.write_text(textwrap.dedent(SEED))
    policies.mkdir()
    (policies / "sessions.yaml").write_text(textwrap.dedent(POLICIES))
    (policies / "lookup.yaml").write_text(textwrap.dedent(LOOKUP))
    with ExitStack() as stack:
        emulator = stack.enter_context(start_emulator(PROJECTS, seed=seed))
        upstream = stack.enter_context(recording_upstream())
        env = sessions_env(emulator, upstream.url, policies)
        gateway = stack.enter_context(gateway_process(env))
        yield Sessions(emulator, upstream, gateway, env)
