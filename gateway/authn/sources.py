"""Which authenticator sees which credential (Oathkeeper-style "not mine" vs "rejected").

Token shapes decide where a bearer token may go: `ory_st_` only to Kratos, `ory_at_` and
JWTs only to Hydra (introspection, or local JWT verification). A token of no known shape is
tried in the route's order, and each authenticator may say "not mine". A session token is
never sent to Hydra and a Hydra token never to Kratos. The tenant's transport governs only
human credentials; a cookie, when the transport reads cookies and the cookie is present,
decides the human attempt on its own (a failed cookie is final).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from gateway.authn.credentials import Credentials, token_shape
from gateway.config.load import TenantSettings
from gateway.errors import InvalidToken
from gateway.principal import Kind

AuthenticatorId = Literal["kratos-cookie", "kratos-token", "hydra", "jwt"]
AUTHENTICATORS: tuple[AuthenticatorId, ...] = ("kratos-cookie", "kratos-token", "hydra", "jwt")


# a NamedTuple, not a frozen dataclass: built per request, where the dataclass's __init__ costs ~3x
class Attempt(NamedTuple):
    authenticator: AuthenticatorId
    credential: str
    #: the credential is recognised as this authenticator's: a rejection stops the request
    final: bool
    #: the Cookie header to forward (kratos-cookie only)
    cookie_header: str = ""


def plan(creds: Credentials, kinds: Sequence[Kind], tenant: TenantSettings) -> list[Attempt]:
    attempts: list[Attempt] = []
    for kind in kinds:
        attempts.extend(_human(creds, tenant) if kind == "human" else _machine(creds, tenant))
    return attempts


def _human(creds: Credentials, tenant: TenantSettings) -> list[Attempt]:
    if tenant.transport != "bearer" and creds.cookie:
        return [Attempt("kratos-cookie", creds.cookie, True, creds.cookie_header or "")]
    if tenant.transport == "cookie":
        return []
    if creds.session_token:
        return [Attempt("kratos-token", creds.session_token, True)]
    shape = token_shape(creds.bearer) if creds.bearer else None
    if creds.bearer and shape in ("session", "unknown"):
        return [Attempt("kratos-token", creds.bearer, shape == "session")]
    return []


def _machine(creds: Credentials, tenant: TenantSettings) -> list[Attempt]:
    token = creds.bearer
    if token is None or not tenant.accepts_machines:
        return []
    shape = token_shape(token)
    if shape == "oauth2":
        if tenant.token_format == "jwt":
            raise InvalidToken(
                "opaque tokens are not accepted here", realm=tenant.name, reason="opaque_token_not_accepted"
            )
        return [Attempt("hydra", token, True)]
    if shape == "jwt":
        return [Attempt("hydra" if tenant.token_format == "introspect" else "jwt", token, True)]
    if shape == "unknown" and tenant.token_format != "jwt":
        return [Attempt("hydra", token, False)]
    return []
