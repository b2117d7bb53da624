"""Hand-made JWTs for tests that attack verification: built without a library's checks.

unsigned({"alg": "none"}, claims)       # header.claims.
hs256(header, claims, secret)           # an HMAC the gateway must refuse
rs256(header, claims, key)              # signed with `key`, whatever the header says
parts(token)                            # its header and claims, unverified
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from joserfc.jwk import RSAKey


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(header)}.{b64(claims)}."


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing = f"{b64(header)}.{b64(claims)}"
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def rs256(header: dict[str, Any], claims: dict[str, Any], key: RSAKey) -> str:
    """Sign without any library checks (joserfc refuses some hostile headers when encoding)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing = f"{b64(header)}.{b64(claims)}"
    private = key.private_key
    assert private is not None
    signature = private.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing + "." + b64(signature)


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWT's header and claims, decoded without any check."""

    def decode(segment: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))

    head, body, _ = token.split(".")
    return decode(head), decode(body)
