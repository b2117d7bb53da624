"""Kratos identities: validation of create bodies, password hashing and the Identity JSON."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from typing import Any

from gateway.emulator import second_factor
from gateway.emulator.state import Identity, Project
from gateway.emulator.timeutil import rfc3339

IDENTIFIER_TRAITS = ("email", "username", "phone")
CREDENTIAL_TYPES = (
    "password",
    "oidc",
    "totp",
    "lookup_secret",
    "webauthn",
    "code",
    "passkey",
    "profile",
    "saml",
    "link_recovery",
    "code_recovery",
)
_ITERATIONS = 1000


class IdentityError(ValueError):
    """A create body Kratos would reject; status is 400 or 409."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS)
    enc = base64.b64encode
    return f"$pbkdf2-sha256$i={_ITERATIONS},l=32${enc(salt).decode()}${enc(digest).decode()}"


def check_password(password: str, encoded: str | None) -> bool:
    if not encoded:
        return False
    _, _, params, salt, digest = encoded.split("$")
    iterations = int(params.split(",")[0].removeprefix("i="))
    actual = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), iterations)
    return hmac.compare_digest(actual, base64.b64decode(digest))


def derive_identifiers(traits: Any) -> list[str]:
    """Password identifiers: the email/username/phone traits (the emulator's stand-in for the schema)."""
    if not isinstance(traits, dict):
        return []
    return [str(traits[k]).lower() for k in IDENTIFIER_TRAITS if isinstance(traits.get(k), str) and traits[k]]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_body(body: dict[str, Any]) -> None:
    if not isinstance(body.get("traits"), dict):
        raise IdentityError("traits must be a JSON object")
    if not isinstance(body.get("schema_id", "default"), str):
        raise IdentityError("schema_id must be a string")
    for key in ("metadata_public", "metadata_admin"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise IdentityError(f"{key} must be a JSON object or null")
    org = body.get("organization_id")
    if org is not None and (not isinstance(org, str) or not _is_uuid(org)):
        raise IdentityError("organization_id must be a UUID or null")
    if body.get("state", "active") not in ("active", "inactive"):
        raise IdentityError("state must be 'active' or 'inactive'")


def _password_of(body: dict[str, Any]) -> str | None:
    creds = body.get("credentials") or {}
    password = ((creds.get("password") or {}).get("config") or {}).get("password")
    if password is not None and not isinstance(password, str):
        raise IdentityError("credentials.password.config.password must be a string")
    return password


def build_identity(project: Project, body: dict[str, Any], now: float, identity_id: str | None = None) -> Identity:
    """Validate a createIdentity body and store the new identity. Raises IdentityError."""
    _check_body(body)
    password = _password_of(body)
    identifiers = derive_identifiers(body["traits"])
    taken = {i for other in project.identities.values() for i in other.identifiers}
    if password is not None and not identifiers:
        raise IdentityError("a password needs an email, username or phone trait to log in with")
    if any(i in taken for i in identifiers):
        raise IdentityError("This identity conflicts with another identity that already exists.", 409)
    identity = Identity(
        id=identity_id or str(uuid.uuid4()),
        schema_id=body.get("schema_id") or "default",
        traits=body["traits"],
        created_at=now,
        updated_at=now,
        state_changed_at=now,
        state=body.get("state") or "active",
        metadata_public=body.get("metadata_public"),
        metadata_admin=body.get("metadata_admin"),
        organization_id=body.get("organization_id"),
        external_id=body.get("external_id"),
        identifiers=identifiers,
        password_hash=hash_password(password) if password is not None else None,
    )
    project.identities[identity.id] = identity
    return identity


def update_existing(project: Project, identity: Identity, body: dict[str, Any], now: float) -> None:
    """Apply an updateIdentity body (everything but credentials replaced). Raises IdentityError."""
    for key in ("schema_id", "traits", "state"):
        if key not in body:
            raise IdentityError(f"{key} is required")
    _check_body(body)
    identifiers = derive_identifiers(body["traits"])
    taken = {i for other in project.identities.values() if other.id != identity.id for i in other.identifiers}
    if any(i in taken for i in identifiers):
        raise IdentityError("This identity conflicts with another identity that already exists.", 409)
    if body["state"] != identity.state:
        identity.state_changed_at = now
    identity.schema_id = body["schema_id"] or "default"
    identity.traits, identity.state, identity.identifiers = body["traits"], body["state"], identifiers
    identity.metadata_public, identity.metadata_admin = body.get("metadata_public"), body.get("metadata_admin")
    identity.organization_id, identity.external_id = body.get("organization_id"), body.get("external_id")
    identity.updated_at = now


def schema_url(project: Project, schema_id: str) -> str:
    encoded = base64.urlsafe_b64encode(schema_id.encode()).decode().rstrip("=")
    return f"{project.base_url}/schemas/{encoded}"


def _credentials(project: Project, identity: Identity, include: list[str]) -> dict[str, Any]:
    creds: dict[str, Any] = {}
    stamp = rfc3339(identity.created_at)
    if identity.password_hash:
        config = {"hashed_password": identity.password_hash} if "password" in include else {}
        creds["password"] = {
            "type": "password",
            "identifiers": identity.identifiers,
            "config": config,
            "version": 0,
            "created_at": stamp,
            "updated_at": stamp,
        }
    return creds | second_factor.credentials(project, identity, include)


def identity_json(
    project: Project, identity: Identity, *, admin: bool, include: list[str] | None = None
) -> dict[str, Any]:
    """The Identity as Kratos serialises it; admin adds metadata_admin and credentials."""
    body: dict[str, Any] = {
        "id": identity.id,
        "schema_id": identity.schema_id,
        "schema_url": schema_url(project, identity.schema_id),
        "state": identity.state,
        "state_changed_at": rfc3339(identity.state_changed_at),
        "traits": identity.traits,
        "metadata_public": identity.metadata_public,
        "created_at": rfc3339(identity.created_at),
        "updated_at": rfc3339(identity.updated_at),
        "organization_id": identity.organization_id,
    }
    if identity.external_id:
        body["external_id"] = identity.external_id
    if admin:
        body["credentials"] = _credentials(project, identity, include or [])
        body["metadata_admin"] = identity.metadata_admin
    return body


def find_by_identifier(project: Project, identifier: str) -> Identity | None:
    wanted = identifier.strip().lower()
    return next((i for i in project.identities.values() if wanted in i.identifiers), None)
