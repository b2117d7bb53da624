"""The credential sources, one registry, and which one sees which credential.

`REGISTRY` has an entry per source: its id (also its part of the decision-cache key), the
principal kind it authenticates, `validate(tenant)` (why the tenant's settings leave it
unusable, read by the policy loader: a route allowing a kind no usable source serves is a
``file:line`` problem at load) and its one verb, `bind`, the tenant's verifier of an
`Attempt`. Adding a source is an entry here, its routing in `plan`, and its verifier.

`plan` says who sees which credential (Oathkeeper-style "not mine" vs "rejected").
Token shapes decide where a bearer token may go: `ory_st_` only to Kratos, `ory_at_` and
JWTs only to Hydra (introspection, or local JWT verification), except a JWT whose claims are
a tokenized session's (`sid`, no `client_id`) on a tenant with `SESSION_JWKS_URL`: that one
only to `session_jwt` (local verification with the tokenizer's keys). A token of no known shape is
tried in the route's order, and each authenticator may say "not mine". A session token is
never sent to Hydra and a Hydra token never to Kratos. The tenant's transport governs only
human credentials; a cookie, when the transport reads cookies and the cookie is present,
decides the human attempt on its own (a failed cookie is final).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from gateway.authn.credentials import Credentials, extract, is_session_jwt, token_shape
from gateway.authn.verdict import Verdict
from gateway.config.settings import TenantSettings
from gateway.errors import InvalidToken
from gateway.front.request import RequestView
from gateway.principal import Kind

if TYPE_CHECKING:
    from gateway.authn import TenantAuthenticator

AuthenticatorId = Literal["kratos-cookie", "kratos-token", "session_jwt", "hydra", "jwt"]


# a NamedTuple, not a frozen dataclass: built per request (docs/performance.md)
class Attempt(NamedTuple):
    authenticator: AuthenticatorId
    credential: str
    #: the credential is recognised as this authenticator's: a rejection stops the request
    final: bool


#: a source's verb for one tenant: the verdict on one attempt
Verify = Callable[["Attempt"], Awaitable[Verdict]]


@dataclass(frozen=True, slots=True)
class SourceKind:
    id: AuthenticatorId
    #: the principal kind it authenticates
    kind: Kind
    #: the tenant's verifier (the verb), from the tenant authenticator's Ory clients
    bind: Callable[[TenantAuthenticator], Verify]
    #: why `tenant`'s settings leave this source unusable, or None when they do not
    validate: Callable[[TenantSettings], str | None]
    #: a credential it does not know costs an Ory call (`gateway.quotas.attempts` bounds them)
    asks_ory: bool = True


def _no_hydra(tenant: TenantSettings) -> str | None:
    return None if tenant.accepts_machines else "has no Hydra configured"


def _cookie(tenant: TenantSettings) -> str | None:
    return "reads no cookies (TRANSPORT=bearer)" if tenant.transport == "bearer" else None


def _session_token(tenant: TenantSettings) -> str | None:
    return "reads only cookies (TRANSPORT=cookie)" if tenant.transport == "cookie" else None


def _session_jwt(tenant: TenantSettings) -> str | None:
    return _session_token(tenant) or (None if tenant.session_jwks_url else "has no SESSION_JWKS_URL")


def _introspection(tenant: TenantSettings) -> str | None:
    return _no_hydra(tenant) or ("takes only JWTs (TOKEN_FORMAT=jwt)" if tenant.token_format == "jwt" else None)


def _jwt(tenant: TenantSettings) -> str | None:
    return _no_hydra(tenant) or ("introspects every token" if tenant.token_format == "introspect" else None)


REGISTRY: Mapping[AuthenticatorId, SourceKind] = {
    kind.id: kind
    for kind in (
        SourceKind("kratos-cookie", "human", lambda a: lambda t: a.kratos.with_cookie(t.credential), _cookie),
        SourceKind("kratos-token", "human", lambda a: lambda t: a.kratos.with_token(t.credential), _session_token),
        SourceKind(
            "session_jwt", "human", lambda a: lambda t: a.session_jwt.verify(t.credential), _session_jwt, asks_ory=False
        ),
        SourceKind("hydra", "machine", lambda a: lambda t: a.hydra.introspect(t.credential), _introspection),
        SourceKind("jwt", "machine", lambda a: lambda t: a.jwt.verify(t.credential), _jwt, asks_ory=False),
    )
}
AUTHENTICATORS: tuple[AuthenticatorId, ...] = tuple(REGISTRY)


def unusable(kind: Kind, tenant: TenantSettings) -> str | None:
    """Why no source can authenticate `kind` for `tenant` (None when one can)."""
    reasons = [source.validate(tenant) for source in REGISTRY.values() if source.kind == kind]
    return reasons[0] if all(reasons) else None


def plan(creds: Credentials, kinds: Sequence[Kind], tenant: TenantSettings) -> list[Attempt]:
    attempts: list[Attempt] = []
    session_jwt = _is_session_jwt(creds, tenant)
    for kind in kinds:
        attempts.extend(_human(creds, tenant, session_jwt) if kind == "human" else _machine(creds, tenant, session_jwt))
    return attempts


def _is_session_jwt(creds: Credentials, tenant: TenantSettings) -> bool:
    """A bearer JWT that is a tokenized session, on a tenant that takes them."""
    token = creds.bearer
    return (
        token is not None
        and tenant.session_jwks_url is not None
        and token_shape(token) == "jwt"
        and is_session_jwt(token)
    )


def cookie_decides(request: RequestView, kinds: Sequence[Kind], tenant: TenantSettings) -> bool:
    """Whether the tenant's session cookie is the credential this request would be judged by.

    Exactly when `plan` puts a ``kratos-cookie`` attempt before any final one: the tenant
    reads cookies (TRANSPORT is not ``bearer``), the route accepts humans, the tenant's own
    session cookie is present (another tenant's is not a credential here), and no machine
    attempt the route tries first claims the request (a bearer token shaped as a Hydra token
    or a JWT decides on its own, accepted or not). The cookie wins over X-Session-Token and
    over an unrecognised bearer token on the human side, as in `plan`. Ambiguous credentials
    raise `InvalidToken`, as authentication would. Pure: no Ory call
    (`gateway.front.cross_origin` asks this before authentication).
    """
    if tenant.transport == "bearer" or "human" not in kinds or request.header(b"cookie") is None:
        return False
    for attempt in plan(extract(request, tenant), kinds, tenant):
        if attempt.authenticator == "kratos-cookie":
            return True
        if attempt.final:
            return False
    return False


def _human(creds: Credentials, tenant: TenantSettings, session_jwt: bool) -> list[Attempt]:
    if tenant.transport != "bearer" and creds.cookie:
        return [Attempt("kratos-cookie", creds.cookie, True)]
    if tenant.transport == "cookie":
        return []
    if creds.session_token:
        return [Attempt("kratos-token", creds.session_token, True)]
    if session_jwt:
        assert creds.bearer is not None
        return [Attempt("session_jwt", creds.bearer, True)]
    shape = token_shape(creds.bearer) if creds.bearer else None
    if creds.bearer and shape in ("session", "unknown"):
        return [Attempt("kratos-token", creds.bearer, shape == "session")]
    return []


def _machine(creds: Credentials, tenant: TenantSettings, session_jwt: bool) -> list[Attempt]:
    token = creds.bearer
    if token is None or not tenant.accepts_machines or session_jwt:  # a session is never Hydra's
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
