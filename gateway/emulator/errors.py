"""Ory error bodies: Kratos' herodot envelope and Hydra's OAuth2-shaped errors."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

OAUTH_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
OAUTH_JSON = "application/json;charset=UTF-8"

INVALID_REQUEST = (
    "The request is missing a required parameter, includes an invalid parameter value, includes a parameter "
    "more than once, or is otherwise malformed."
)
INVALID_CLIENT = (
    "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported "
    "authentication method)."
)
INVALID_SCOPE = "The requested scope is invalid, unknown, or malformed."
UNAUTHORIZED_CLIENT = "The client is not authorized to request a token using this method."
INVALID_GRANT = (
    "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh "
    "token is invalid, expired, revoked, does not match the redirection URI used in the authorization "
    "request, or was issued to another client."
)
NOT_FOUND_MESSAGE = "Unable to locate the resource"


def json_response(
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json; charset=utf-8",
) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, headers, media_type)


def herodot(
    status: int,
    message: str,
    *,
    reason: str = "",
    error_id: str = "",
    request_id: str = "",
    details: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Kratos error envelope with herodot's key order: id, code, status, request, reason, details, message."""
    error: dict[str, Any] = {}
    if error_id:
        error["id"] = error_id
    error["code"] = status
    error["status"] = HTTPStatus(status).phrase
    if request_id:
        error["request"] = request_id
    if reason:
        error["reason"] = reason
    if details:
        error["details"] = details
    error["message"] = message
    body: dict[str, Any] = {"error": error, **(extra or {})}
    out_headers = {"Ory-Error-Id": error_id, **(headers or {})}
    return json_response(body, status, out_headers, media_type="application/json")


def kratos_not_found(request_id: str = "") -> Response:
    return herodot(404, NOT_FOUND_MESSAGE, request_id=request_id)


def kratos_bad_request(reason: str, request_id: str = "") -> Response:
    return herodot(
        400, "The request was malformed or contained invalid parameters", reason=reason, request_id=request_id
    )


def hydra_error(status: int, error: str, description: str = "") -> Response:
    """Hydra admin error shape: {"error": <message>, "error_description": <reason>}, both always present."""
    return json_response({"error": error, "error_description": description}, status, media_type="application/json")


def hydra_not_found() -> Response:
    return hydra_error(404, NOT_FOUND_MESSAGE, "")


def oauth_error(status: int, code: str, description: str, hint: str = "") -> Response:
    """RFC 6749 error as fosite writes it: description and hint joined, double quotes turned into '."""
    text = f"{description} {hint}" if hint else description
    body = {"error": code, "error_description": text.replace('"', "'")}
    return json_response(body, status, dict(OAUTH_HEADERS), media_type=OAUTH_JSON)


def invalid_request(hint: str = "") -> Response:
    return oauth_error(400, "invalid_request", INVALID_REQUEST, hint)


def invalid_client(hint: str = "") -> Response:
    return oauth_error(401, "invalid_client", INVALID_CLIENT, hint)
