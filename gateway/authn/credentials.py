"""Which credentials a request carries, what shape a bearer token has, and which shapes no
Ory could have issued.

Only the tenant's own session cookie counts as a cookie credential (other cookies, such as
another tenant's, are not credentials here). Ambiguity is rejected rather than resolved:
the same session cookie twice with different values, two different Authorization headers, or
an X-Session-Token that disagrees with the bearer token.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal, NamedTuple

import orjson

from gateway.config.settings import TenantSettings
from gateway.errors import InvalidToken
from gateway.front.request import RequestView

Shape = Literal["session", "oauth2", "jwt", "unknown"]

SESSION_PREFIX = "ory_st_"
OAUTH2_PREFIXES = ("ory_at_", "ory_rt_", "ory_ac_")
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
#: RFC 6750 b64token, also covering the JWT and Ory shapes
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

# -- the shapes Ory issues: anything else never reaches Ory (`impossible`) ----------------------
#: a Kratos session token: `ory_st_` + 32 alphanumerics (Kratos' own generator)
_SESSION_TOKEN = re.compile(r"ory_st_[A-Za-z0-9]{32}")
#: what self-hosted Kratos issued before the prefix (sessions may outlive an upgrade)
_LEGACY_SESSION_TOKEN = re.compile(r"[A-Za-z0-9]{32}")
#: Hydra's opaque tokens, `<key>.<signature>` in base64url, prefixed on Ory Network and
#: by default since Hydra v2 (self-hosted Hydra may issue them without the prefix)
_OPAQUE = re.compile(r"(?:ory_(?:at|rt|ac)_)?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_PREFIXED_OPAQUE = re.compile(r"ory_(?:at|rt|ac)_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: a JWS in compact form: three base64url parts, none empty (Hydra signs what it issues)
_SIGNED_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: a session cookie value: RFC 6265 cookie-octets, no longer than a browser keeps a cookie
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]{1,4096}")
MAX_TOKEN = 8192


# a NamedTuple, not a frozen dataclass: built per request (docs/performance.md)
class Credentials(NamedTuple):
    #: value of the tenant's session cookie (the only cookie its Kratos is sent)
    cookie: str | None = None
    #: X-Session-Token header
    session_token: str | None = None
    #: the token of `Authorization: Bearer <token>`
    bearer: str | None = None


def token_shape(token: str) -> Shape:
    if token.startswith(SESSION_PREFIX):
        return "session"
    if token.startswith(OAUTH2_PREFIXES):
        return "oauth2"
    if _JWT.fullmatch(token):
        return "jwt"
    return "unknown"


def impossible(authenticator: str, credential: str, tenant: TenantSettings) -> str | None:
    """Why no Ory of this tenant could have issued `credential` for `authenticator`, or None.

    Asked on a cache miss only, before a call to Ory: a cookie value must be cookie-octets no
    longer than a browser keeps; a session token `ory_st_` + 32 alphanumerics (self-hosted Kratos: also
    the unprefixed 32 of older versions); a token for Hydra a signed JWT (three non-empty
    base64url parts) or Hydra's opaque `<key>.<signature>`, with its `ory_at_` prefix on Ory
    Network (which issues no other kind).
    """
    if authenticator == "kratos-cookie":
        return None if _COOKIE_VALUE.fullmatch(credential) else "not a session cookie Kratos issues"
    if len(credential) > MAX_TOKEN:
        return "token too long"
    cloud = tenant.mode == "cloud"
    if authenticator == "kratos-token":
        if _SESSION_TOKEN.fullmatch(credential) or (not cloud and _LEGACY_SESSION_TOKEN.fullmatch(credential)):
            return None
        return "not a session token Kratos issues"
    if _SIGNED_JWT.fullmatch(credential):
        return None
    opaque = _PREFIXED_OPAQUE if cloud else _OPAQUE
    return None if opaque.fullmatch(credential) else "not a token Hydra issues"


def extract(request: RequestView, tenant: TenantSettings) -> Credentials:
    has_cookie = tenant.transport != "bearer" and b"cookie" in request.first
    cookie_header = request.cookie_header() if has_cookie else None
    cookie = session_cookie(cookie_header, tenant) if cookie_header else None
    bearer = _bearer(request, tenant.name)
    session_token = _session_token(request, tenant.name) if tenant.transport != "cookie" else None
    if session_token and bearer and session_token != bearer:
        raise _ambiguous(tenant.name, "X-Session-Token and Authorization carry different tokens")
    return Credentials(cookie, session_token, bearer)


def is_session_jwt(token: str) -> bool:
    """Whether a JWT's (unverified) claims are a tokenized Kratos session's: a `sid` and no
    `client_id` (Hydra's access tokens carry one). Only routes the token: its verifier decides."""
    segments = token.split(".")
    if len(segments) != 3:
        return False
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(segments[1] + "=" * (-len(segments[1]) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(claims, dict) and isinstance(claims.get("sid"), str) and "client_id" not in claims


def session_cookie(cookie_header: str, tenant: TenantSettings) -> str | None:
    """The tenant's session cookie value; two different values for it are rejected."""
    found: str | None = None
    for pair in cookie_header.split(";"):
        name, eq, value = pair.strip().partition("=")
        if not eq or name != tenant.session_cookie_name:
            continue
        value = value.strip().strip('"')
        if found is not None and value != found:
            raise _ambiguous(tenant.name, "the session cookie is present twice with different values")
        found = value
    return found or None


def _bearer(request: RequestView, realm: str) -> str | None:
    value = _single(request, b"authorization", realm, "several Authorization headers")
    if value is None:
        return None
    scheme, _, token = value.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return None  # another scheme (Basic, ...) is not a credential for us
    token = token.strip()
    if not _TOKEN.fullmatch(token):
        raise InvalidToken("malformed bearer token", realm=realm, reason="malformed_token")
    return token


def _session_token(request: RequestView, realm: str) -> str | None:
    value = _single(request, b"x-session-token", realm, "several X-Session-Token headers")
    if not value:
        return None
    token = value.decode("latin-1")
    if not _TOKEN.fullmatch(token):
        raise InvalidToken("malformed session token", realm=realm, reason="malformed_token")
    return token


def _single(request: RequestView, name: bytes, realm: str, several: str) -> bytes | None:
    """The stripped value of header `name` sent once (or several times alike), None if absent;
    copies that differ are ambiguous."""
    if request.repeated is None:  # no header is repeated: the index has its only value
        value = request.first.get(name)
        return None if value is None else value.strip()
    values = request.header_values(name)
    if not values:
        return None
    first = values[0].strip()
    if len(values) > 1 and any(v.strip() != first for v in values[1:]):
        raise _ambiguous(realm, several)
    return first


def _ambiguous(realm: str, what: str) -> InvalidToken:
    reason = "ambiguous_cookie" if "cookie" in what else "ambiguous_credentials"
    return InvalidToken(f"ambiguous credentials: {what}", realm=realm, reason=reason)
