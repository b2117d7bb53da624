"""An in-process fake Ory (httpx.MockTransport) and helpers for the authn unit tests."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, RSAKey

from gateway.authn import TenantAuthenticator
from gateway.config.settings import CacheSettings, TenantSettings
from gateway.front.request import RequestView
from gateway.ory.pool import OryPool
from tests.support.clock import START, FakeClock

NOW = START
KRATOS = "http://kratos.a.test"
KRATOS_ADMIN = "http://kratos-admin.a.test"
SESSION_JWKS = KRATOS + "/.well-known/ory/tokenizer/jwt/jwks.json"
HYDRA_PUBLIC = "http://hydra.a.test"
HYDRA_ADMIN = "http://hydra-admin.a.test"
ADMIN_TOKEN = "ory_pat_a"


def rfc3339(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def tenant(**overrides: Any) -> TenantSettings:
    base = TenantSettings(
        name="a",
        mode="self-hosted",
        project_slug=None,
        kratos_public_url=KRATOS,
        kratos_admin_url=None,
        kratos_admin_token=None,
        hydra_public_url=HYDRA_PUBLIC,
        hydra_admin_url=HYDRA_ADMIN,
        hydra_admin_token=ADMIN_TOKEN,
        transport="cookie-or-bearer",
        session_cookie_name="ory_kratos_session",
        hosts=(),
        client_id=None,
        client_secret=None,
        timeout=0.5,
        hydra_issuer=HYDRA_PUBLIC + "/",
    )
    return replace(base, **overrides)


def request(*headers: tuple[str, str]) -> RequestView:
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]
    return RequestView(method="GET", path="/x", raw_query=b"", headers=raw, client_ip="127.0.0.1")


def session(identity_id: str = "", *, expires: float = NOW + 3600, **identity: Any) -> dict[str, Any]:
    ident = {"id": identity_id or str(uuid.uuid4()), "schema_id": "default", "traits": {}, "state": "active"}
    ident.update(identity)
    return {
        "id": str(uuid.uuid4()),
        "active": True,
        "expires_at": rfc3339(expires),
        "authenticator_assurance_level": "aal1",
        "identity": ident,
    }


def active_token(client: str = "svc", *, exp: float = NOW + 3600, **extra: Any) -> dict[str, Any]:
    doc = {
        "active": True,
        "client_id": client,
        "sub": client,
        "scope": "jobs:read jobs:write",
        "exp": int(exp),
        "iat": int(NOW),
        "nbf": int(NOW),
        "aud": [],
        "iss": HYDRA_PUBLIC + "/",
        "token_type": "Bearer",
        "token_use": "access_token",
    }
    doc.update(extra)
    return doc


@functools.cache
def shared_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@functools.cache
def session_key() -> ECKey:
    """The tokenizer template's key (ES256, as Kratos' templates are usually made)."""
    return ECKey.generate_key("P-256", parameters={"kid": "s1", "alg": "ES256"})


Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeOry:
    """Knows sessions (by cookie value or token), tokens, clients and a JWKS; records calls."""

    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: identities the Kratos admin API knows, by id
    identities: dict[str, dict[str, Any]] = field(default_factory=dict)
    key: RSAKey = field(default_factory=lambda: shared_key())
    fault: Reply | None = None
    calls: Counter[str] = field(default_factory=Counter)
    seen: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport())

    def handle(self, req: httpx.Request) -> httpx.Response:
        self.seen.append(req)
        route = f"{req.url.host}{req.url.raw_path.decode().split('?')[0]}"
        self.calls[route] += 1
        if self.fault is not None:
            return self.fault(req) if callable(self.fault) else self.fault
        if route == "kratos.a.test/sessions/whoami":
            return self._whoami(req)
        if route == "hydra-admin.a.test/admin/oauth2/introspect":
            return self._introspect(req)
        if route.startswith("hydra-admin.a.test/admin/clients/"):
            return self._client(req)
        if route == "hydra.a.test/.well-known/jwks.json":
            jwk = self.key.as_dict(private=False)
            return httpx.Response(200, json={"keys": [{**jwk, "alg": "RS256", "use": "sig"}]})
        if route == "kratos.a.test/.well-known/ory/tokenizer/jwt/jwks.json":
            return httpx.Response(200, json={"keys": [{**session_key().as_dict(private=False), "use": "sig"}]})
        if route.startswith("kratos-admin.a.test/admin/identities/"):
            found = self.identities.get(route.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else httpx.Response(404, json={"error": {"code": 404}})
        return httpx.Response(404, json={"error": "not found"})

    def _whoami(self, req: httpx.Request) -> httpx.Response:
        token = req.headers.get("x-session-token")
        if token is None:
            cookies = dict(p.strip().split("=", 1) for p in req.headers.get("cookie", "").split(";") if "=" in p)
            token = cookies.get("ory_kratos_session")
        found = self.sessions.get(token or "")
        if found is None:
            return httpx.Response(401, json={"error": {"code": 401, "status": "Unauthorized"}})
        return httpx.Response(200, json=found)

    def _introspect(self, req: httpx.Request) -> httpx.Response:
        if req.headers.get("authorization") != f"Bearer {ADMIN_TOKEN}":
            return httpx.Response(401, json={"error": "unauthorized"})
        token = parse_qs(req.content.decode())["token"][0]
        return httpx.Response(200, json=self.tokens.get(token, {"active": False}))

    def _client(self, req: httpx.Request) -> httpx.Response:
        client_id = unquote(req.url.raw_path.decode().rsplit("/", 1)[1])
        found = self.clients.get(client_id)
        if found is None:
            return httpx.Response(404, json={"error": "Unable to locate the resource", "error_description": ""})
        return httpx.Response(200, json=found)

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jose_jwt.encode({"alg": "RS256", "kid": "k1", "typ": "JWT", **header}, claims, self.key)

    def sign_session(self, claims: dict[str, Any], **header: Any) -> str:
        """A session JWT as Kratos' tokenizer signs it (`tokenize_as`)."""
        return jose_jwt.encode({"alg": "ES256", "kid": "s1", "typ": "JWT", **header}, claims, session_key())


def session_claims(identity_id: str = "", *, exp: float = NOW + 60, **mapped: Any) -> dict[str, Any]:
    """A tokenized session's claims: Kratos' defaults, then what the template maps."""
    return {
        "jti": str(uuid.uuid4()),
        "iss": KRATOS,
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(exp),
        "sid": str(uuid.uuid4()),
        "sub": identity_id or str(uuid.uuid4()),
        **mapped,
    }


def jwt_claims(client: str = "svc", *, exp: float = NOW + 600, **extra: Any) -> dict[str, Any]:
    claims = {
        "iss": HYDRA_PUBLIC + "/",
        "sub": client,
        "client_id": client,
        "aud": [],
        "exp": int(exp),
        "iat": int(NOW),
        "nbf": int(NOW),
        "jti": str(uuid.uuid4()),
        "scp": ["jobs:read"],
        "ext": {},
    }
    claims.update(extra)
    return claims


def authenticator(
    ory: FakeOry, clock: FakeClock, cache: CacheSettings | None = None, **overrides: Any
) -> TenantAuthenticator:
    return TenantAuthenticator(
        t := tenant(**overrides), cache or CacheSettings(), OryPool.over(t.name, ory.client()), clock
    )
