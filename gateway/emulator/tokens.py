"""Hydra access tokens: scope matching, issuing (opaque or JWT), lookup for introspection and revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from typing import Any

from gateway.emulator.state import AccessToken, Client, Project
from gateway.emulator.timeutil import parse_duration

OPAQUE_PREFIX = "ory_at_"


def wildcard_match(matchers: list[str], needle: str) -> bool:
    """Hydra's default (wildcard) scope strategy: exact match, or `*` standing for one or more `.` parts."""
    needle_parts = needle.split(".")
    for matcher in matchers:
        parts = matcher.split(".")
        if len(parts) > len(needle_parts):
            continue
        if _parts_match(parts, needle_parts):
            return True
    return False


def _parts_match(parts: list[str], needle_parts: list[str]) -> bool:
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if last and len(parts) != len(needle_parts) and part != "*":
            return False
        if part == "*" and needle_parts[index]:
            continue
        if part != needle_parts[index]:
            return False
    return True


def strategy_of(project: Project, client: Client) -> str:
    return str(client.data.get("access_token_strategy") or project.config.access_token_strategy)


def lifespan_of(project: Project, client: Client) -> float:
    own = client.data.get("client_credentials_grant_access_token_lifespan")
    return parse_duration(own) if own else project.config.access_token_lifespan


def token_ext(client: Client) -> dict[str, Any]:
    """Session extra claims: the client's metadata.token_ext (real Hydra needs a token hook)."""
    ext = (client.data.get("metadata") or {}).get("token_ext")
    return dict(ext) if isinstance(ext, dict) else {}


def _signature(project: Project, key: str) -> str:
    mac = hmac.new(project.token_secret, key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _jwt_claims(project: Project, record: AccessToken) -> dict[str, Any]:
    return {
        "aud": record.audience,
        "client_id": record.client_id,
        "exp": record.expires_at,
        "ext": record.ext,
        "iat": record.issued_at,
        "iss": project.base_url,
        "jti": record.jti,
        "nbf": record.issued_at,
        "scp": record.scopes,
        "sub": record.client_id,
    }


def issue(project: Project, client: Client, scopes: list[str], audience: list[str], now: float) -> tuple[str, int]:
    """A new access token and its expires_in (seconds left)."""
    issued = int(now)
    record = AccessToken(
        key="",
        client_id=client.data["client_id"],
        scopes=scopes,
        audience=audience,
        ext=token_ext(client),
        issued_at=issued,
        expires_at=issued + int(lifespan_of(project, client)),
        jti=str(uuid.uuid4()),
    )
    if strategy_of(project, client) == "jwt":
        record.key = "jwt:" + record.jti
        token = project.keys.sign_access_token(_jwt_claims(project, record))
    else:
        key = secrets.token_urlsafe(32)
        record.key = _signature(project, key)
        token = f"{OPAQUE_PREFIX}{key}.{record.key}"
    project.tokens[record.key] = record
    return token, max(0, int(record.expires_at - now))


def find(project: Project, token: str) -> AccessToken | None:
    """The stored record behind a token string, whatever its state; None if the token is not ours."""
    if token.startswith(OPAQUE_PREFIX):
        key, _, sig = token[len(OPAQUE_PREFIX) :].partition(".")
        if not key or not hmac.compare_digest(_signature(project, key), sig):
            return None
        return project.tokens.get(sig)
    claims = project.keys.verify_access_token(token) if token.count(".") == 2 else None
    return project.tokens.get("jwt:" + str(claims.get("jti"))) if claims else None


def is_active(record: AccessToken, now: float) -> bool:
    return record.active and now < record.expires_at


def introspection_json(project: Project, record: AccessToken) -> dict[str, Any]:
    body: dict[str, Any] = {"active": True}
    if record.scopes:
        body["scope"] = " ".join(record.scopes)
    body.update(
        {
            "client_id": record.client_id,
            "sub": record.client_id,
            "exp": record.expires_at,
            "iat": record.issued_at,
            "nbf": record.issued_at,
            "aud": record.audience,
            "iss": project.base_url,
            "token_type": "Bearer",
            "token_use": "access_token",
        }
    )
    if record.ext:
        body["ext"] = record.ext
    return body
