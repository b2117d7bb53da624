"""Hydra token endpoint (client_credentials), introspection and revocation."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

import httpx
import ory_client
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.emulator import RunningEmulator

from .oryspec import SpecChecker, parsed

OAUTH_JSON = "application/json;charset=UTF-8"
INVALID_CLIENT = (
    "Client authentication failed (e.g., unknown client, no client authentication included, or "
    "unsupported authentication method)."
)
INVALID_REQUEST = (
    "The request is missing a required parameter, includes an invalid parameter value, includes "
    "a parameter more than once, or is otherwise malformed."
)


def _token(client: httpx.Client, auth: tuple[str, str] | None, **form: Any) -> httpx.Response:
    data = {"grant_type": "client_credentials", **form}
    return client.post("/oauth2/token", data=data, auth=auth) if auth else client.post("/oauth2/token", data=data)


def _introspect(client: httpx.Client, headers: dict[str, str], token: str, **form: str) -> httpx.Response:
    return client.post("/admin/oauth2/introspect", data={"token": token, **form}, headers=headers)


def test_opaque_token_and_introspection(
    customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker
) -> None:
    response = spec.check(
        _token(
            customer, ("partner", "partner-secret"), scope="jobs:read jobs:write", audience="https://api.example.com"
        )
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == OAUTH_JSON
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    body = response.json()
    exchange = parsed(ory_client.OAuth2TokenExchange, response.text)
    assert body["token_type"] == "bearer" and body["scope"] == "jobs:read jobs:write"
    assert exchange.access_token is not None and exchange.access_token.startswith("ory_at_")
    assert "." in exchange.access_token[7:]
    assert 3590 <= body["expires_in"] <= 3600
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    info = spec.check(_introspect(customer, admin_headers, body["access_token"]))
    assert info.headers["cache-control"] == "no-store" and info.headers["content-type"] == OAUTH_JSON
    introspected = parsed(ory_client.IntrospectedOAuth2Token, info.text)
    assert (
        introspected.active is True and introspected.token_type == "Bearer" and introspected.token_use == "access_token"
    )
    data = info.json()
    assert data["client_id"] == data["sub"] == "partner"
    assert data["aud"] == ["https://api.example.com"]
    assert data["ext"] == {"organization_id": "org-a"}
    assert data["iss"] == str(customer.base_url).rstrip("/")
    assert data["nbf"] == data["iat"] and data["exp"] - data["iat"] == 3600


def test_token_scope_always_present(customer: httpx.Client, admin_headers: dict[str, str]) -> None:
    body = _token(customer, None, client_id="poster", client_secret="poster-secret").json()
    assert body["scope"] == ""
    info = _introspect(customer, admin_headers, body["access_token"]).json()
    assert "scope" not in info and info["aud"] == [] and "ext" not in info


def test_introspection_inactive_cases(
    emu: RunningEmulator, customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker
) -> None:
    token = _token(customer, ("partner", "partner-secret"), scope="jobs:read").json()["access_token"]
    for candidate, extra in ((token + "x", {}), ("garbage", {}), ("", {}), (token, {"scope": "jobs:read jobs:write"})):
        response = spec.check(_introspect(customer, admin_headers, candidate, **extra))
        assert response.status_code == 200 and response.json() == {"active": False}
        assert response.headers["cache-control"] == "no-store"
    assert _introspect(customer, admin_headers, token, scope="jobs:read").json()["active"] is True
    emu.control("POST", "clock", {"advance": 3601})
    assert _introspect(customer, admin_headers, token).json() == {"active": False}


def test_introspection_empty_body_is_400(customer: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = customer.post("/admin/oauth2/introspect", headers=admin_headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": f"{INVALID_REQUEST} The POST body can not be empty.",
    }


def test_introspection_needs_api_key(customer: httpx.Client, spec: SpecChecker) -> None:
    response = spec.check(customer.post("/admin/oauth2/introspect", data={"token": "x"}))
    assert response.status_code == 401
    assert set(response.json()) == {"error", "error_description"}


@pytest.mark.parametrize(
    ("auth", "form", "status", "error", "description"),
    [
        (("partner", "wrong"), {}, 401, "invalid_client", INVALID_CLIENT),
        (("nobody", "x"), {}, 401, "invalid_client", INVALID_CLIENT),
        (
            None,
            {},
            400,
            "invalid_request",
            f"{INVALID_REQUEST} Client credentials missing or malformed in both HTTP "
            "Authorization header and HTTP POST body.",
        ),
        (
            ("partner", "partner-secret"),
            {"scope": "admin"},
            400,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed. The OAuth 2.0 Client is not allowed to request "
            "scope 'admin'.",
        ),
        (
            ("partner", "partner-secret"),
            {"audience": "https://evil"},
            400,
            "invalid_request",
            f"{INVALID_REQUEST} Requested audience 'https://evil' has not been whitelisted by the OAuth 2.0 Client.",
        ),
        (
            ("webapp", "webapp-secret"),
            {},
            400,
            "unauthorized_client",
            "The client is not authorized to request a token using this method. The OAuth 2.0 Client is not allowed "
            "to use authorization grant 'client_credentials'.",
        ),
        (("partner", "partner-secret"), {"grant_type": "password"}, 400, "invalid_request", INVALID_REQUEST),
        (
            ("partner", "partner-secret"),
            {"grant_type": ""},
            400,
            "invalid_request",
            f"{INVALID_REQUEST} Request parameter 'grant_type' is missing",
        ),
    ],
)
def test_token_errors(
    customer: httpx.Client,
    spec: SpecChecker,
    auth: tuple[str, str] | None,
    form: dict[str, str],
    status: int,
    error: str,
    description: str,
) -> None:
    response = spec.check(_token(customer, auth, **form))
    assert response.status_code == status
    assert response.json() == {"error": error, "error_description": description}
    assert response.headers["content-type"] == OAUTH_JSON
    assert "www-authenticate" not in response.headers
    parsed(ory_client.ErrorOAuth2, response.text)


def test_auth_method_mismatch_and_post(customer: httpx.Client) -> None:
    mismatch = _token(customer, None, client_id="partner", client_secret="partner-secret")
    assert mismatch.status_code == 401
    assert (
        "supports client authentication method 'client_secret_basic', but method 'client_secret_post' was "
        "requested" in mismatch.json()["error_description"]
    )
    posted = _token(customer, None, client_id="poster", client_secret="poster-secret", scope="jobs:read")
    assert posted.status_code == 200
    public = _token(customer, None, client_id="public-app")
    assert public.status_code == 400 and public.json()["error"] == "invalid_grant"


def test_basic_auth_parts_are_url_decoded(customer: httpx.Client) -> None:
    raw = f"{quote_plus('odd id:+')}:{quote_plus('s3cret with space+plus')}"
    header = {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
    response = customer.post("/oauth2/token", data={"grant_type": "client_credentials"}, headers=header)
    assert response.status_code == 200, response.text


def test_jwt_access_token(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    body = _token(customer, ("jwt-client", "jwt-secret"), scope="jobs:read").json()
    assert 590 <= body["expires_in"] <= 600
    token = body["access_token"]
    assert not token.startswith("ory_at_") and token.count(".") == 2
    keys = spec.check(customer.get("/.well-known/jwks.json")).json()
    issuer = customer.get("/.well-known/openid-configuration").json()["issuer"]
    decoded = jwt.decode(token, KeySet.import_key_set(keys))
    assert decoded.header["typ"] == "JWT" and decoded.header["alg"] == "RS256"
    assert decoded.header["kid"] in [k["kid"] for k in keys["keys"]]
    claims = decoded.claims
    assert claims["iss"] == issuer and claims["sub"] == claims["client_id"] == "jwt-client"
    assert claims["scp"] == ["jobs:read"] and claims["aud"] == [] and claims["ext"] == {"organization_id": "org-j"}
    assert {"exp", "iat", "nbf", "jti"} <= set(claims)
    info = _introspect(customer, admin_headers, token).json()
    assert info["active"] is True and info["scope"] == "jobs:read"


def test_project_wide_jwt_strategy_and_ttl(dealer: httpx.Client) -> None:
    body = _token(dealer, ("dealer-m2m", "dealer-secret"), scope="inventory:read").json()
    assert body["access_token"].count(".") == 2 and 290 <= body["expires_in"] <= 300


def test_revocation(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    token = _token(customer, ("partner", "partner-secret")).json()["access_token"]
    other = customer.post("/oauth2/revoke", data={"token": token}, auth=("jwt-client", "jwt-secret"))
    assert other.status_code == 200
    assert _introspect(customer, admin_headers, token).json()["active"] is True
    revoked = spec.check(customer.post("/oauth2/revoke", data={"token": token}, auth=("partner", "partner-secret")))
    assert revoked.status_code == 200 and revoked.content == b""
    assert _introspect(customer, admin_headers, token).json() == {"active": False}
    unknown = customer.post("/oauth2/revoke", data={"token": "nope"}, auth=("partner", "partner-secret"))
    assert unknown.status_code == 200
    bad_client = customer.post("/oauth2/revoke", data={"token": token}, auth=("partner", "bad"))
    assert bad_client.status_code == 401
