"""Hydra OAuth2 clients: validation and defaults of create bodies, the client JSON, client authentication."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import string
import uuid
from typing import Any
from urllib.parse import unquote_plus

from starlette.responses import Response

from gateway.emulator.errors import invalid_client, invalid_request
from gateway.emulator.state import Client, Project
from gateway.emulator.timeutil import rfc3339

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none")
LIFESPANS = tuple(
    f"{grant}_{kind}_lifespan"
    for grant, kinds in (
        ("authorization_code_grant", ("access_token", "id_token", "refresh_token")),
        ("client_credentials_grant", ("access_token",)),
        ("device_authorization_grant", ("access_token", "id_token", "refresh_token")),
        ("implicit_grant", ("access_token", "id_token")),
        ("jwt_bearer_grant", ("access_token",)),
        ("refresh_token_grant", ("access_token", "id_token", "refresh_token")),
    )
    for kind in kinds
)
LIST_FIELDS = (
    "grant_types",
    "response_types",
    "redirect_uris",
    "audience",
    "allowed_cors_origins",
    "post_logout_redirect_uris",
    "request_uris",
    "contacts",
)
STRING_FIELDS = (
    "client_name",
    "client_uri",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "owner",
    "jwks_uri",
    "backchannel_logout_uri",
    "frontchannel_logout_uri",
    "request_object_signing_alg",
    "sector_identifier_uri",
    "token_endpoint_auth_signing_alg",
    "userinfo_signed_response_alg",
)
_DURATION = re.compile(r"^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_SECRET_ALPHABET = string.ascii_letters + string.digits + "-_.~"
METADATA_ERROR = (
    "The value of one of the Client Metadata fields is invalid and the server has rejected this request. "
    "Note that an Authorization Server MAY choose to substitute a valid value for any requested parameter "
    "of a Client's Metadata."
)


class ClientError(ValueError):
    """A client body Hydra would reject."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _metadata_error(field_hint: str) -> ClientError:
    return ClientError(400, "invalid_client_metadata", f"{METADATA_ERROR} {field_hint}")


def _check_types(body: dict[str, Any]) -> None:
    for name in LIST_FIELDS:
        value = body.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _metadata_error(f"Field {name} must be a list of strings.")
    for name in (*STRING_FIELDS, "scope", "client_id", "client_secret"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _metadata_error(f"Field {name} must be a string.")
    for name in LIFESPANS:
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and _DURATION.match(value)):
            raise _metadata_error(f"Field {name} must be a duration such as 1h or 30m.")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise _metadata_error("Field metadata must be a JSON object.")
    if body.get("token_endpoint_auth_method", "client_secret_basic") not in AUTH_METHODS:
        raise _metadata_error("Field token_endpoint_auth_method is not supported.")
    if body.get("access_token_strategy") not in (None, "", "jwt", "opaque"):
        raise _metadata_error("Field access_token_strategy must be 'jwt' or 'opaque'.")


def _secret(body: dict[str, Any], method: str) -> str | None:
    given = body.get("client_secret")
    if method == "none":
        return None
    if given:
        if len(given) < 6:
            raise _metadata_error("Field client_secret must contain a secret that is at least 6 characters long.")
        return str(given)
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(26))


def _public_fields(project: Project, body: dict[str, Any], client_id: str, now: float) -> dict[str, Any]:
    data: dict[str, Any] = {name: body.get(name) or [] for name in LIST_FIELDS}
    data.update({name: body.get(name) or "" for name in STRING_FIELDS})
    data.update({name: body.get(name) for name in LIFESPANS})
    data.update(
        {
            "client_id": client_id,
            "scope": body.get("scope") or "offline_access offline openid",
            "metadata": body.get("metadata") or {},
            "contacts": body.get("contacts") or [],
            "token_endpoint_auth_method": body.get("token_endpoint_auth_method") or "client_secret_basic",
            "userinfo_signed_response_alg": body.get("userinfo_signed_response_alg") or "none",
            "subject_type": body.get("subject_type") or "public",
            "client_secret_expires_at": 0,
            "response_types": body.get("response_types") or ["code"],
            "jwks": body.get("jwks") or {},
            "skip_consent": bool(body.get("skip_consent")),
            "skip_logout_consent": bool(body.get("skip_logout_consent")),
            "backchannel_logout_session_required": bool(body.get("backchannel_logout_session_required")),
            "frontchannel_logout_session_required": bool(body.get("frontchannel_logout_session_required")),
            "created_at": rfc3339(now),
            "updated_at": rfc3339(now),
            "registration_client_uri": f"{project.base_url}/oauth2/register/{client_id}",
        }
    )
    if body.get("access_token_strategy"):
        data["access_token_strategy"] = body["access_token_strategy"]
    return data


def build_client(project: Project, body: dict[str, Any], now: float) -> Client:
    """Validate a createOAuth2Client body and store the client. Raises ClientError."""
    _check_types(body)
    client_id = body.get("client_id") or str(uuid.uuid4())
    if client_id in project.clients:
        raise ClientError(
            409, "Unable to insert or update resource because a resource with that value exists already", ""
        )
    data = _public_fields(project, body, client_id, now)
    client = Client(data=data, secret=_secret(body, data["token_endpoint_auth_method"]))
    project.clients[client_id] = client
    return client


def client_json(client: Client, *, with_secret: bool = False) -> dict[str, Any]:
    body = dict(client.data)
    if with_secret:
        if client.secret is not None:
            body["client_secret"] = client.secret
        body["registration_access_token"] = "ory_at_" + secrets.token_urlsafe(32) + "." + secrets.token_urlsafe(32)
    return dict(sorted(body.items()))


def _basic(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (unquote_plus(user), unquote_plus(password)) if sep and user else None


def _method_hint(registered: str, used: str) -> str:
    return (
        f"The OAuth 2.0 Client supports client authentication method '{registered}', but method '{used}' was "
        f"requested. You must configure the OAuth 2.0 client's 'token_endpoint_auth_method' value to accept "
        f"'{used}'."
    )


def authenticate(project: Project, authorization: str, form: dict[str, list[str]]) -> Client | Response:
    """fosite's client authentication for the token and revocation endpoints."""
    basic = _basic(authorization)
    form_id, form_secret = (form.get("client_id") or [""])[0], (form.get("client_secret") or [""])[0]
    if basic is not None:
        (client_id, secret), method = basic, "client_secret_basic"
    elif form_id:
        client_id, secret = form_id, form_secret
        method = "client_secret_post" if form_secret else "none"
    else:
        return invalid_request(
            "Client credentials missing or malformed in both HTTP Authorization header and HTTP POST body."
        )
    client = project.clients.get(client_id)
    if client is None:
        return invalid_client()
    registered = client.data["token_endpoint_auth_method"]
    if registered == "none":
        return client
    if method != registered:
        return invalid_client(_method_hint(registered, method))
    if client.secret is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
        return invalid_client()
    return client
