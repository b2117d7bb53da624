"""Second factors as Kratos' totp and lookup_secret strategies check them (Kratos v26.2.0
`selfservice/strategy/totp/login.go`, `selfservice/strategy/lookup/login.go`).

- TOTP: RFC 6238 with Kratos' parameters (pquerna/otp `totp.Validate`: SHA-1, 6 digits,
  30-second steps, one step of skew either way), at the emulator's clock. A code may be used
  again within its window: Kratos keeps no record of used TOTP codes.
- Lookup secrets: one-time recovery codes; a used code is refused with its own message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pyotp

from gateway.emulator.state import Identity, LookupCode, Project
from gateway.emulator.timeutil import rfc3339

TOTP_WRONG = {"id": 4000008, "type": "error", "text": "The provided authentication code is invalid, please try again."}
LOOKUP_USED = {"id": 4000012, "type": "error", "text": "This backup recovery code has already been used."}
LOOKUP_INVALID = {"id": 4000016, "type": "error", "text": "The backup recovery code is not valid."}


def check_secret(secret: str) -> str | None:
    """Why `secret` is not a usable base32 TOTP secret, or None."""
    try:
        raw = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        return "must be a base32 secret (A-Z, 2-7)"
    return None if len(raw) >= 10 else "must hold at least 80 bits (16 base32 characters)"


def totp_code(secret: str, at: float) -> str:
    return pyotp.TOTP(secret).at(int(at))


def verify_totp(identity: Identity, code: str, now: float) -> bool:
    secret = identity.totp_secret
    return bool(secret) and pyotp.TOTP(secret or "").verify(code.strip(), for_time=int(now), valid_window=1)


def use_lookup_code(identity: Identity, code: str, now: float) -> dict[str, Any] | None:
    """Mark `code` used; the flow message when it cannot be used, else None."""
    for stored in identity.lookup_codes:
        if stored.code == code:
            if stored.used_at is not None:
                return LOOKUP_USED
            stored.used_at = float(round(now))
            return None
    return LOOKUP_INVALID


def totp_url(project: Project, identity: Identity) -> str:
    """The `otpauth://` URL Kratos stores in the credential (issuer: the project)."""
    traits = identity.traits if isinstance(identity.traits, dict) else {}
    account = str(traits.get("email") or traits.get("username") or identity.id)
    query = urlencode({"algorithm": "SHA1", "digits": 6, "issuer": project.name, "period": 30})
    return f"otpauth://totp/{quote(project.name)}:{quote(account)}?{query}&secret={identity.totp_secret}"


def _code_json(code: LookupCode) -> dict[str, Any]:
    return {"code": code.code} | ({"used_at": rfc3339(code.used_at)} if code.used_at is not None else {})


def credentials(project: Project, identity: Identity, include: list[str]) -> dict[str, Any]:
    """The `totp` and `lookup_secret` entries of the admin Identity's `credentials`
    (config emptied unless `include_credential` names the type)."""
    stamp = rfc3339(identity.created_at)
    configs: dict[str, Callable[[], dict[str, Any]]] = {
        "totp": lambda: {"totp_url": totp_url(project, identity)},
        "lookup_secret": lambda: {"recovery_codes": [_code_json(c) for c in identity.lookup_codes]},
    }
    return {
        kind: {
            "type": kind,
            "identifiers": [identity.id],
            "config": configs[kind]() if kind in include else {},
            "version": 0,
            "created_at": stamp,
            "updated_at": stamp,
        }
        for kind in identity.second_factors
    }
