"""The official ory-client SDK talking to the emulator exactly as it would to a Network project."""

from __future__ import annotations

import httpx
import ory_client
import pytest
from ory_client.exceptions import NotFoundException, UnauthorizedException

from tests.support.emulator import RunningEmulator

from .conftest import ALICE_ID, CUSTOMER_KEY
from .kratos_helpers import api_login


@pytest.fixture()
def sdk(emu: RunningEmulator) -> ory_client.ApiClient:
    config = ory_client.Configuration(host=emu.project_url("customer"), access_token=CUSTOMER_KEY)
    return ory_client.ApiClient(config)


def test_sdk_to_session(sdk: ory_client.ApiClient, customer: httpx.Client) -> None:
    token = api_login(customer, "alice@example.com", "alice-pass-1")["session_token"]
    session = ory_client.FrontendApi(sdk).to_session(x_session_token=token)
    assert session.identity is not None and str(session.identity.id) == ALICE_ID
    with pytest.raises(UnauthorizedException) as caught:
        ory_client.FrontendApi(sdk).to_session(x_session_token="ory_st_nope")
    assert caught.value.status == 401


def test_sdk_to_session_with_cookie(sdk: ory_client.ApiClient, customer: httpx.Client) -> None:
    flow = customer.get("/self-service/login/browser", headers={"Accept": "application/json"}).json()
    csrf = flow["ui"]["nodes"][0]["attributes"]["value"]
    login = customer.post(
        f"/self-service/login?flow={flow['id']}",
        data={"method": "password", "identifier": "alice@example.com", "password": "alice-pass-1", "csrf_token": csrf},
    )
    cookie = f"ory_session_customer={login.cookies['ory_session_customer']}"
    session = ory_client.FrontendApi(sdk).to_session(cookie=cookie)
    assert session.active is True


def test_sdk_identity_api(sdk: ory_client.ApiClient) -> None:
    api = ory_client.IdentityApi(sdk)
    identity = api.get_identity(ALICE_ID, include_credential=["password"])
    assert isinstance(identity.traits, dict) and identity.traits["email"] == "alice@example.com"
    listed = api.list_identities(page_size=500, credentials_identifier="alice@example.com")
    assert [str(i.id) for i in listed] == [ALICE_ID]
    with pytest.raises(NotFoundException):
        api.get_identity("00000000-0000-4000-8000-000000000000")


def test_sdk_sessions(sdk: ory_client.ApiClient, customer: httpx.Client) -> None:
    login = api_login(customer, "alice@example.com", "alice-pass-1")
    api = ory_client.IdentityApi(sdk)
    got = api.get_session(login["session"]["id"], expand=["identity"])
    assert got.identity is not None
    api.disable_session(login["session"]["id"])
    assert api.get_session(login["session"]["id"]).active is False


def test_sdk_introspection_and_clients(sdk: ory_client.ApiClient, customer: httpx.Client) -> None:
    token = customer.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "jobs:read"},
        auth=("partner", "partner-secret"),
    ).json()["access_token"]
    oauth = ory_client.OAuth2Api(sdk)
    info = oauth.introspect_o_auth2_token(token)
    assert info.active is True and info.client_id == "partner" and info.ext == {"organization_id": "org-a"}
    assert oauth.introspect_o_auth2_token("bogus").active is False
    client = oauth.get_o_auth2_client("partner")
    assert client.metadata == {"organization_id": "org-a", "token_ext": {"organization_id": "org-a"}}
    created = oauth.create_o_auth2_client(ory_client.OAuth2Client(grant_types=["client_credentials"]))
    assert created.client_secret is not None
    with pytest.raises(NotFoundException):
        oauth.get_o_auth2_client("does-not-exist")


def test_sdk_wellknown(sdk: ory_client.ApiClient, emu: RunningEmulator) -> None:
    keys = ory_client.WellknownApi(sdk).discover_json_web_keys()
    assert keys.keys is not None and len(keys.keys) == 2
    config = ory_client.OidcApi(sdk).discover_oidc_configuration()
    assert config.issuer == emu.project_url("customer")


def test_sdk_wrong_api_key(emu: RunningEmulator) -> None:
    config = ory_client.Configuration(host=emu.project_url("customer"), access_token="ory_pat_wrong")
    with pytest.raises(UnauthorizedException):
        ory_client.IdentityApi(ory_client.ApiClient(config)).get_identity(ALICE_ID)
