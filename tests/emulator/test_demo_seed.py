"""The demo world's Ory side: erin's second factor (the secret `gateway demo` prints) and the
customer project's tokenizer template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

import gateway.demo
from gateway.demo import ERIN_TOTP_SECRET
from tests.support.emulator import RunningEmulator, start_emulator

from .kratos_helpers import api_login, totp_now

SEED = Path(gateway.demo.__file__).resolve().parent / "seed.yaml"


@pytest.fixture(scope="module")
def demo_customer() -> Iterator[tuple[RunningEmulator, httpx.Client]]:
    with start_emulator(seed=SEED) as emu, httpx.Client(base_url=emu.project_url("customer"), timeout=10) as client:
        yield emu, client


def test_erin_steps_up_with_the_printed_secret(demo_customer: tuple[RunningEmulator, httpx.Client]) -> None:
    emu, customer = demo_customer
    token = api_login(customer, "erin@acme.example", "erin-password")["session_token"]
    headers = {"X-Session-Token": token}
    assert customer.get("/sessions/whoami", headers=headers).json()["error"]["id"] == "session_aal2_required"
    flow = customer.get("/self-service/login/api?aal=aal2", headers=headers).json()
    code = totp_now(emu, ERIN_TOTP_SECRET)
    assert emu.control("GET", "projects/customer/identities/erin@acme.example/totp").json()["code"] == code
    done = customer.post(
        f"/self-service/login?flow={flow['id']}", json={"method": "totp", "totp_code": code}, headers=headers
    )
    assert done.status_code == 200
    whoami = customer.get("/sessions/whoami", headers=headers).json()
    assert whoami["authenticator_assurance_level"] == "aal2"
    assert whoami["identity"]["metadata_public"] == {"organization_id": "org-acme", "roles": ["member"]}


def test_people_without_a_second_factor_are_unchanged(demo_customer: tuple[RunningEmulator, httpx.Client]) -> None:
    _, customer = demo_customer
    for email, password in (("alice@acme.example", "alice-password"), ("dana@consult.example", "dana-password")):
        token = api_login(customer, email, password)["session_token"]
        whoami = customer.get("/sessions/whoami", headers={"X-Session-Token": token})
        assert whoami.status_code == 200 and whoami.json()["authenticator_assurance_level"] == "aal1"
        assert "ory-session-cache-for" not in whoami.headers  # cacheable sessions are off in the demo


def test_customer_tokenizer_template(demo_customer: tuple[RunningEmulator, httpx.Client]) -> None:
    emu, customer = demo_customer
    token = api_login(customer, "alice@acme.example", "alice-password")["session_token"]
    session = customer.get("/sessions/whoami?tokenize_as=jwt", headers={"X-Session-Token": token}).json()
    keys = KeySet.import_key_set(customer.get("/.well-known/ory/tokenizer/jwt/jwks.json").json())
    claims = jwt.decode(session["tokenized"], keys, algorithms=["ES256"]).claims
    assert claims["iss"] == emu.project_url("customer") and claims["sub"] == "11111111-1111-4111-8111-111111111111"
    assert claims["organization_id"] == "org-acme" and claims["roles"] == ["member"] and "memberships" not in claims
    assert claims["exp"] - claims["iat"] == 60
