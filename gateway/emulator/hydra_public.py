"""Hydra public API: client-credentials token endpoint, revocation, JWKS and discovery."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from gateway.emulator import errors as err
from gateway.emulator.clients import authenticate
from gateway.emulator.context import BodyError, Ctx
from gateway.emulator.errors import OAUTH_HEADERS, OAUTH_JSON, json_response, oauth_error
from gateway.emulator.state import Client
from gateway.emulator.tokens import find, issue, wildcard_match


def _audiences(form: dict[str, list[str]]) -> list[str]:
    values = form.get("audience") or []
    return values[0].split() if len(values) == 1 else [v for v in values if v]


def _check_request(client: Client, scopes: list[str], audience: list[str]) -> Response | None:
    """The client_credentials handler's checks, in fosite's order."""
    allowed = str(client.data.get("scope") or "").split()
    for scope in scopes:
        if not wildcard_match(allowed, scope):
            return oauth_error(
                400,
                "invalid_scope",
                err.INVALID_SCOPE,
                f"The OAuth 2.0 Client is not allowed to request scope '{scope}'.",
            )
    for aud in audience:
        if aud not in (client.data.get("audience") or []):
            return err.invalid_request(f"Requested audience '{aud}' has not been whitelisted by the OAuth 2.0 Client.")
    if client.data["token_endpoint_auth_method"] == "none":
        return oauth_error(
            400,
            "invalid_grant",
            err.INVALID_GRANT,
            "The OAuth 2.0 Client is marked as public and "
            "is thus not allowed to use authorization grant 'client_credentials'.",
        )
    if "client_credentials" not in (client.data.get("grant_types") or ["authorization_code"]):
        return oauth_error(
            400,
            "unauthorized_client",
            err.UNAUTHORIZED_CLIENT,
            "The OAuth 2.0 Client is not allowed to use authorization grant 'client_credentials'.",
        )
    return None


async def _form(ctx: Ctx) -> dict[str, list[str]] | Response:
    try:
        return await ctx.form_lists()
    except BodyError as exc:
        return err.invalid_request(str(exc))


async def token(ctx: Ctx) -> Response:
    form = await _form(ctx)
    if isinstance(form, Response):
        return form
    grant_type = (form.get("grant_type") or [""])[0]
    if not grant_type:
        return err.invalid_request("Request parameter 'grant_type' is missing")
    client = authenticate(ctx.project, ctx.request.headers.get("authorization", ""), form)
    if isinstance(client, Response):
        return client
    if grant_type != "client_credentials":
        return err.invalid_request()
    scopes = " ".join(form.get("scope") or []).split()
    audience = _audiences(form)
    problem = _check_request(client, scopes, audience)
    if problem is not None:
        return problem
    access_token, expires_in = issue(ctx.project, client, scopes, audience, ctx.now)
    body = {
        "access_token": access_token,
        "expires_in": expires_in,
        "scope": " ".join(scopes),
        "token_type": "bearer",
    }
    return json_response(body, headers=dict(OAUTH_HEADERS), media_type=OAUTH_JSON)


async def revoke(ctx: Ctx) -> Response:
    """RFC 7009: 200 with an empty body, also for unknown tokens or tokens of another client."""
    form = await _form(ctx)
    if isinstance(form, Response):
        return form
    if not form:
        return err.invalid_request("The POST body can not be empty.")
    client = authenticate(ctx.project, ctx.request.headers.get("authorization", ""), form)
    if isinstance(client, Response):
        return client
    record = find(ctx.project, (form.get("token") or [""])[0])
    if record is not None and record.client_id == client.data["client_id"]:
        record.active = False
    return Response(status_code=200, headers=dict(OAUTH_HEADERS))


async def jwks(ctx: Ctx) -> Response:
    return json_response(ctx.project.keys.jwks(), headers={"Cache-Control": "max-age=900"})


def discovery_document(base: str) -> dict[str, Any]:
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth2/auth",
        "device_authorization_endpoint": f"{base}/oauth2/device/auth",
        "token_endpoint": f"{base}/oauth2/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "subject_types_supported": ["public"],
        "response_types_supported": [
            "code",
            "code id_token",
            "id_token",
            "token id_token",
            "token",
            "token id_token code",
        ],
        "claims_supported": ["sub"],
        "grant_types_supported": [
            "authorization_code",
            "implicit",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "userinfo_endpoint": f"{base}/userinfo",
        "scopes_supported": ["offline_access", "offline", "openid"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "client_secret_basic",
            "private_key_jwt",
            "none",
        ],
        "userinfo_signing_alg_values_supported": ["none", "RS256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "id_token_signed_response_alg": ["RS256"],
        "userinfo_signed_response_alg": ["RS256"],
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "claims_parameter_supported": False,
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "end_session_endpoint": f"{base}/oauth2/sessions/logout",
        "registration_endpoint": f"{base}/oauth2/register",
        "request_object_signing_alg_values_supported": ["none", "RS256", "ES256"],
        "code_challenge_methods_supported": ["plain", "S256"],
    }


async def discovery(ctx: Ctx) -> Response:
    return json_response(discovery_document(ctx.project.base_url))
