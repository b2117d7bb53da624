"""Hydra admin clients, JWKS and discovery."""

from __future__ import annotations

import httpx
import ory_client

from .oryspec import SpecChecker, parsed


def test_create_client_defaults(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    response = spec.check(
        customer.post(
            "/admin/clients", json={"grant_types": ["client_credentials"], "client_name": "m2m"}, headers=admin_headers
        )
    )
    assert response.status_code == 201
    client = parsed(ory_client.OAuth2Client, response.text)
    assert response.headers["location"] == f"/admin/clients/{client.client_id}"
    assert client.client_secret is not None and len(client.client_secret) == 26
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert client.scope == "offline_access offline openid"
    assert client.userinfo_signed_response_alg == "none" and client.subject_type == "public"
    assert client.client_secret_expires_at == 0
    assert client.client_credentials_grant_access_token_lifespan is None
    assert client.registration_access_token and client.registration_client_uri
    fetched = spec.check(customer.get(f"/admin/clients/{client.client_id}", headers=admin_headers))
    assert "client_secret" not in fetched.json()
    parsed(ory_client.OAuth2Client, fetched.text)
    token = customer.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(str(client.client_id), client.client_secret)
    )
    assert token.status_code == 200
    deleted = spec.check(customer.delete(f"/admin/clients/{client.client_id}", headers=admin_headers))
    assert deleted.status_code == 204
    gone = spec.check(customer.get(f"/admin/clients/{client.client_id}", headers=admin_headers))
    assert gone.status_code == 404
    assert gone.json() == {"error": "Unable to locate the resource", "error_description": ""}


def test_create_client_choices_and_errors(
    customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker
) -> None:
    body = {
        "client_id": "chosen-id",
        "client_secret": "chosen-secret",
        "grant_types": ["client_credentials"],
        "scope": "a b",
        "audience": ["https://x"],
        "metadata": {"organization_id": "org-z"},
        "access_token_strategy": "jwt",
        "client_credentials_grant_access_token_lifespan": "30m",
    }
    created = spec.check(customer.post("/admin/clients", json=body, headers=admin_headers)).json()
    assert created["client_id"] == "chosen-id" and created["client_secret"] == "chosen-secret"
    assert created["metadata"] == {"organization_id": "org-z"} and created["access_token_strategy"] == "jwt"
    duplicate = customer.post("/admin/clients", json=body, headers=admin_headers)
    assert duplicate.status_code == 409
    short = spec.check(customer.post("/admin/clients", json={"client_secret": "12345"}, headers=admin_headers))
    assert short.status_code == 400 and short.json()["error"] == "invalid_client_metadata"
    assert short.json()["error_description"].endswith(
        "Field client_secret must contain a secret that is at least 6 characters long."
    )
    customer.delete("/admin/clients/chosen-id", headers=admin_headers)


def test_list_clients(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    response = spec.check(customer.get("/admin/clients?page_size=2", headers=admin_headers))
    assert len(response.json()) == 2 and 'rel="next"' in response.headers["link"]
    everything = customer.get("/admin/clients", headers=admin_headers).json()
    assert {"partner", "poster", "jwt-client"} <= {c["client_id"] for c in everything}
    assert all("client_secret" not in c for c in everything)
    [ory_client.OAuth2Client.from_dict(c) for c in everything]


def test_jwks_has_both_key_sets(customer: httpx.Client, admin_headers: dict[str, str], spec: SpecChecker) -> None:
    response = spec.check(customer.get("/.well-known/jwks.json"))
    keys = parsed(ory_client.JsonWebKeySet, response.text)
    assert keys.keys is not None and len(keys.keys) == 2
    for key in response.json()["keys"]:
        assert {"kty", "kid", "alg", "use", "n", "e"} <= set(key) and "d" not in key
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    access = customer.get("/admin/keys/hydra.jwt.access-token", headers=admin_headers).json()
    assert access["keys"][0]["kid"] in [k["kid"] for k in response.json()["keys"]]


def test_discovery(customer: httpx.Client, spec: SpecChecker) -> None:
    base = str(customer.base_url).rstrip("/")
    response = spec.check(customer.get("/.well-known/openid-configuration"))
    config = parsed(ory_client.OidcConfiguration, response.text)
    assert config.issuer == base and not config.issuer.endswith("/")
    assert config.token_endpoint == f"{base}/oauth2/token"
    assert config.jwks_uri == f"{base}/.well-known/jwks.json"
    assert config.revocation_endpoint == f"{base}/oauth2/revoke"
    assert isinstance(config.id_token_signed_response_alg, list)
    assert "client_credentials" in (config.grant_types_supported or [])
    other = customer.get("/.well-known/oauth-authorization-server")
    assert other.json() == response.json()
