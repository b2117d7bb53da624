"""Kratos sessions: issuing and activating, extending, the Session JSON, the opaque session
cookie (issued with the project's attributes) and the credential lookup whoami and the flows use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from gateway.emulator.identities import identity_json
from gateway.emulator.state import AuthMethod, Identity, Project, Session
from gateway.emulator.timeutil import rfc3339

_ALNUM = string.ascii_letters + string.digits


def new_session_token() -> str:
    return "ory_st_" + "".join(secrets.choice(_ALNUM) for _ in range(32))


def new_logout_token() -> str:
    return "ory_lo_" + "".join(secrets.choice(_ALNUM) for _ in range(32))


def issue_session(project: Project, identity: Identity, now: float, ip: str | None, user_agent: str | None) -> Session:
    """A new session signed in with the password (aal1)."""
    session = Session(
        id=str(uuid.uuid4()),
        token=new_session_token(),
        identity_id=identity.id,
        authenticated_at=now,
        expires_at=now + project.config.session_lifespan,
        issued_at=now,
        methods=[AuthMethod("password", "aal1", now)],
        ip_address=ip,
        user_agent=user_agent,
        device_id=str(uuid.uuid4()),
        logout_token=new_logout_token(),
    )
    project.sessions[session.id] = session
    return session


def complete_method(project: Project, session: Session, method: str, aal: str, now: float) -> None:
    """A further login on an existing session (refresh, second factor): Kratos appends the
    method and activates the session again (authenticated_at and issued_at now, a full
    lifespan); the id and token stay."""
    session.methods.append(AuthMethod(method, aal, now))
    session.authenticated_at = session.issued_at = now
    session.expires_at = now + project.config.session_lifespan
    session.active = True
    if session.credential_required == method:
        session.credential_required = None


def extend(project: Project, session: Session, now: float) -> None:
    """PATCH /admin/sessions/{id}/extend: a new lifespan from now, once the session is within
    `earliest_possible_extend` of its expiry (before that, nothing changes)."""
    window = project.config.earliest_possible_extend
    if window is None:
        window = project.config.session_lifespan
    if session.expires_at - window < now:
        session.expires_at = now + project.config.session_lifespan


def is_usable(project: Project, session: Session, now: float) -> bool:
    identity = project.identities.get(session.identity_id)
    return session.active and now < session.expires_at and identity is not None and identity.state == "active"


def session_json(
    project: Project, session: Session, now: float, *, with_identity: bool = True, with_devices: bool = True
) -> dict[str, Any]:
    methods = [{"method": m.method, "aal": m.aal, "completed_at": rfc3339(m.completed_at)} for m in session.methods]
    body: dict[str, Any] = {
        "id": session.id,
        "active": session.active and now < session.expires_at,
        "expires_at": rfc3339(session.expires_at),
        "authenticated_at": rfc3339(session.authenticated_at),
        "authenticator_assurance_level": session.aal,
        "authentication_methods": methods,
        "issued_at": rfc3339(session.issued_at),
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
    """Opaque cookie value: base64url(payload) + "." + HMAC. It names the session and, as Kratos'
    cookie does, records the session's expiry at issue; it never holds the session token."""
    payload = {"sid": session.id, "exp": session.expires_at, "n": secrets.token_hex(8)}
    encoded = _b64(json.dumps(payload).encode())
    mac = hmac.new(project.cookie_secret, encoded.encode(), hashlib.sha256).digest()
    return f"{encoded}.{_b64(mac)}"


def _decode(project: Project, value: str) -> dict[str, Any] | None:
    payload, _, mac = value.partition(".")
    expected = hmac.new(project.cookie_secret, payload.encode(), hashlib.sha256).digest()
    try:
        data = json.loads(_unb64(payload)) if hmac.compare_digest(_unb64(mac), expected) else None
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("sid"), str) else None


def set_session_cookie(response: Response, project: Project, session: Session, now: float) -> None:
    """Kratos' IssueCookie: the project's cookie name, path, domain and SameSite; HttpOnly;
    Secure on an https project; Max-Age and Expires up to the session's expiry (persistent)."""
    config = project.config
    max_age = max(0, int(session.expires_at - now)) if config.cookie_persistent else None
    response.set_cookie(
        config.cookie_name,
        encode_cookie(project, session),
        max_age=max_age,
        expires=max_age,
        path=config.cookie_path,
        domain=config.cookie_domain or None,
        secure=project.secure_cookies,
        httponly=True,
        samesite=config.cookie_same_site,  # type: ignore[arg-type]
    )


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


@dataclass(frozen=True)
class Lookup:
    """What a request's credentials found: the session (None if none or unknown), whether the
    request carried a credential at all, and the decoded session cookie (None if none)."""

    session: Session | None
    had_credential: bool
    cookie: dict[str, Any] | None


def lookup(project: Project, headers: dict[str, str]) -> Lookup:
    """Kratos' extractToken order: X-Session-Token, then a decodable session cookie, then Bearer."""
    raw = _cookie_value(headers.get("cookie", ""), project.config.cookie_name)
    cookie = _decode(project, raw) if raw is not None else None
    token = headers.get("x-session-token", "")
    if token:
        return Lookup(project.session_by_token(token), True, cookie)
    if cookie is not None:
        return Lookup(project.sessions.get(cookie["sid"]), True, cookie)
    bearer = _bearer(headers.get("authorization", ""))
    return Lookup(project.session_by_token(bearer) if bearer else None, bearer is not None, cookie)


def find_session(project: Project, headers: dict[str, str]) -> Session | None:
    return lookup(project, headers).session
