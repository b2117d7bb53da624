"""Fixtures: one emulator process for the whole session, spec validation, per-test reset of faults/clock."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.support.emulator import RunningEmulator, launch

from .oryspec import SpecChecker

ALICE_ID = "5b2b3c36-3f0e-4d7a-9d7e-0000000000a1"
ORG_A_UUID = "0c8a5f4e-1111-4a1b-9c2d-00000000000a"
CUSTOMER_KEY = "ory_pat_customer_test"
REFRESHER_KEY = "ory_pat_refresher_test"
MFA_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#: a tokenizer key given as Kratos takes one: a private JWK set at `jwks_url`
RSA_KEY = RSAKey.generate_key(2048, {"kid": "rsa-test-key", "alg": "RS256", "use": "sig"}, private=True)
RSA_JWKS_URL = "base64://" + base64.b64encode(json.dumps({"keys": [RSA_KEY.as_dict(private=True)]}).encode()).decode()
RITA_MEMBERSHIPS = [{"organization_id": "org-a", "roles": ["member"]}, {"organization_id": "org-b", "roles": []}]
SEED = f"""
projects:
  customer:
    api_key: {CUSTOMER_KEY}
    identities:
      - id: {ALICE_ID}
        traits: {{email: alice@example.com, name: Alice}}
        password: alice-pass-1
        organization_id: {ORG_A_UUID}
        metadata_public: {{organization_id: org-a, roles: [member]}}
        metadata_admin: {{note: vip}}
      - traits: {{email: mfa@example.com}}
        password: mfa-pass-1
        totp_secret: {MFA_SECRET}
        lookup_secrets: [rescue-one, rescue-two, rescue-three]
      - traits: {{email: codes@example.com}}
        password: codes-pass-1
        lookup_secrets: [only-code]
      - traits: {{email: off@example.com}}
        password: off-pass-1
        state: inactive
    clients:
      - client_id: partner
        client_secret: partner-secret
        grant_types: [client_credentials]
        scope: "jobs:read jobs:write inventory:read"
        audience: [https://api.example.com]
        metadata: {{organization_id: org-a, token_ext: {{organization_id: org-a}}}}
      - client_id: poster
        client_secret: poster-secret
        grant_types: [client_credentials]
        token_endpoint_auth_method: client_secret_post
        scope: "jobs:read"
      - client_id: jwt-client
        client_secret: jwt-secret
        grant_types: [client_credentials]
        scope: "jobs:read"
        access_token_strategy: jwt
        client_credentials_grant_access_token_lifespan: 10m
        metadata: {{token_ext: {{organization_id: org-j}}}}
      - client_id: "odd id:+"
        client_secret: "s3cret with space+plus"
        grant_types: [client_credentials]
        scope: "jobs:read"
      - client_id: webapp
        client_secret: webapp-secret
        scope: "openid"
      - client_id: public-app
        token_endpoint_auth_method: none
        grant_types: [client_credentials]
        scope: "jobs:read"
    namespaces: [Organization, Group, Document]
    relationships:
      - {{namespace: Organization, object: org-a, relation: member, subject_id: {ALICE_ID}}}
      - {{namespace: Group, object: finance, relation: member, subject_id: bob}}
      - namespace: Document
        object: q3
        relation: view
        subject_set: {{namespace: Group, object: finance, relation: member}}
      - namespace: Group
        object: finance
        relation: member
        subject_set: {{namespace: Group, object: auditors, relation: member}}
      - {{namespace: Group, object: auditors, relation: member, subject_id: carol}}
  refresher:
    api_key: {REFRESHER_KEY}
    session_lifespan: 1h
    session:
      earliest_possible_extend: 10m
      cookie: {{domain: example.test, same_site: Strict}}
      whoami:
        required_aal: aal1
        tokenizer:
          templates:
            jwt:
              ttl: 2m
              claims_mapper:
                memberships: identity.metadata_public.memberships
                aal: session.authenticator_assurance_level
                nothing: identity.traits.missing
            rsa: {{jwks_url: "{RSA_JWKS_URL}", subject_source: external_id}}
    feature_flags: {{cacheable_sessions: true, cacheable_sessions_max_age: 5m}}
    identities:
      - traits: {{email: rita@example.com}}
        password: rita-pass-1
        external_id: rita-ext
        metadata_public: {{memberships: {json.dumps(RITA_MEMBERSHIPS)}}}
      - traits: {{email: noext@example.com}}
        password: noext-pass-1
      - traits: {{email: two@example.com}}
        password: two-pass-1
        totp_secret: {MFA_SECRET}
  enforced:
    session: {{whoami: {{mfa_enrollment_required: true}}}}
    identities:
      - traits: {{email: plain@example.com}}
        password: plain-pass-1
      - traits: {{email: strong@example.com}}
        password: strong-pass-1
        totp_secret: {MFA_SECRET}
  dealer:
    api_key: ory_pat_dealer_test
    session_cookie_name: dealer_cookie
    session_lifespan: 1h
    access_token_lifespan: 5m
    access_token_strategy: jwt
    identities:
      - traits: {{username: dave}}
        password: dave-pass-1
    clients:
      - client_id: dealer-m2m
        client_secret: dealer-secret
        grant_types: [client_credentials]
        scope: "inventory:read"
"""


@pytest.fixture(scope="session")
def seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("emulator") / "seed.yaml"
    path.write_text(SEED)
    return path


@pytest.fixture(scope="session")
def emu(seed_file: Path) -> Iterator[RunningEmulator]:
    running = launch(["plain-project"], seed=seed_file)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def spec() -> SpecChecker:
    return SpecChecker()


@pytest.fixture(autouse=True)
def _reset_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").reset()


def _client_of(project: str) -> Callable[[RunningEmulator], Iterator[httpx.Client]]:
    """A fixture: an HTTP client whose base URL is `project` of the session's emulator."""

    def client(emu: RunningEmulator) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=emu.project_url(project), timeout=10) as http:
            yield http

    return client


customer = pytest.fixture(_client_of("customer"), name="customer")
dealer = pytest.fixture(_client_of("dealer"), name="dealer")
refresher = pytest.fixture(_client_of("refresher"), name="refresher")
enforced = pytest.fixture(_client_of("enforced"), name="enforced")


@pytest.fixture()
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {CUSTOMER_KEY}"}


@pytest.fixture()
def emu_base(emu: RunningEmulator) -> str:
    return emu.base_url
