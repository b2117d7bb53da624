"""Kratos sessions: issuing, the Session JSON, the opaque session cookie and whoami credential lookup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import uuid
from typing import Any

from gateway.emulator.identities import identity_json
from gateway.emulator.state import Identity, Project, Session
from gateway.emulator.timeutil import rfc3339

_ALNUM = string.ascii_letters + string.digits


def new_session_token() -> str:
    return "ory_st_" + "".join(secrets.choice(_ALNUM) for _ in range(32))


def new_logout_token() -> str:
    return "ory_lo_" + "".join(secrets.choice(_ALNUM) for _ in range(32))


def issue_session(project: Project, identity: Identity, now: float, ip: str | None, user_agent: str | None) -> Session:
    session = Session(
        id=str(uuid.uuid4()),
        token=new_session_token(),
        identity_id=identity.id,
        authenticated_at=now,
        expires_at=now + project.config.session_lifespan,
        ip_address=ip,
        user_agent=user_agent,
        device_id=str(uuid.uuid4()),
        logout_token=new_logout_token(),
    )
    project.sessions[session.id] = session
    return session


def is_usable(project: Project, session: Session, now: float) -> bool:
    identity = project.identities.get(session.identity_id)
    return session.active and now < session.expires_at and identity is not None and identity.state == "active"


def session_json(
    project: Project, session: Session, now: float, *, with_identity: bool = True, with_devices: bool = True
) -> dict[str, Any]:
    stamp = rfc3339(session.authenticated_at)
    body: dict[str, Any] = {
        "id": session.id,
        "active": session.active and now < session.expires_at,
        "expires_at": rfc3339(session.expires_at),
        "authenticated_at": stamp,
        "authenticator_assurance_level": session.aal,
        "authentication_methods": [{"method": "password", "aal": "aal1", "completed_at": stamp}],
        "issued_at": stamp,
    }
    identity = project.identities.get(session.identity_id)
    if with_identity and identity is not None:
        body["identity"] = identity_json(project, identity, admin=False)
    if with_devices:
        body["devices"] = [_device(session)]
    return body


def _device(session: Session) -> dict[str, Any]:
    """Kratos sends null for unknown device strings, but the specs declare them non-nullable: omit them."""
    device: dict[str, Any] = {"id": session.device_id}
    for key, value in (("ip_address", session.ip_address), ("user_agent", session.user_agent)):
        if value is not None:
            device[key] = value
    return device


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cookie(project: Project, session: Session) -> str:
    """Opaque cookie value: base64url(payload) + "." + HMAC; it names the session, never holds its token."""
    payload = _b64(json.dumps({"sid": session.id, "n": secrets.token_hex(8)}).encode())
    mac = hmac.new(project.cookie_secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def decode_cookie(project: Project, value: str) -> Session | bool | None:
    """The cookie's session; None if it decodes but names no session; False if it cannot be decoded."""
    payload, _, mac = value.partition(".")
    expected = hmac.new(project.cookie_secret, payload.encode(), hashlib.sha256).digest()
    try:
        ok = hmac.compare_digest(_unb64(mac), expected)
        sid = json.loads(_unb64(payload))["sid"] if ok else None
    except (ValueError, KeyError, TypeError):
        return False
    if not ok or not isinstance(sid, str):
        return False
    return project.sessions.get(sid)


def _cookie_value(cookie_header: str, name: str) -> str | None:
    """Lenient Cookie header parsing (like Go's): other, malformed cookies are ignored."""
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def _bearer(authorization: str) -> str | None:
    parts = authorization.split(" ")
    if len(parts) == 2 and parts[0].lower() == "bearer" and parts[1]:
        return parts[1]
    return None


def find_session(project: Project, headers: dict[str, str]) -> Session | None:
    """Kratos' extractToken order: X-Session-Token, then a decodable session cookie, then Bearer."""
    token = headers.get("x-session-token", "")
    if token:
        return project.session_by_token(token)
    raw = _cookie_value(headers.get("cookie", ""), project.config.cookie_name)
    if raw is not None:
        found = decode_cookie(project, raw)
        if found is not False:
            return found if isinstance(found, Session) else None
    bearer = _bearer(headers.get("authorization", ""))
    return project.session_by_token(bearer) if bearer else None
