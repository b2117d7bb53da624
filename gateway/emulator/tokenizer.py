"""Kratos' session tokenizer (`tokenize_as`, Kratos v26.2.0 `session/tokenizer.go`).

A template signs a JWT for a session with its asymmetric key (the algorithm is the key's
`alg`; the header carries `kid` and `typ: JWT`). Claims: `jti` (uuid4), `iss` (the project's
public URL), `iat`, `nbf`, `exp` (now + ttl), `sid` (session id), `sub` (identity id or
`external_id`). Kratos runs a Jsonnet claims mapper; the emulator takes a static mapping of
claim names to paths in the session instead (`{"memberships": "identity.metadata_public.memberships"}`),
merged over the default claims before `sub` is set again, as Kratos does.

Keys come from `jwks_url` (`file://` or `base64://` holding a private JWK set: its first key is
used, as Kratos resolves it) or are generated per template (`algorithm`, default ES256). The
public half is served at `/<project>/.well-known/ory/tokenizer/<template>/jwks.json`.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, KeyParameters, RSAKey

#: asymmetric JWS algorithms a template key may carry, with what generates a key for them
ALGORITHMS: dict[str, tuple[str, Any]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "RS256": ("RSA", 2048),
    "RS384": ("RSA", 2048),
    "RS512": ("RSA", 2048),
    "PS256": ("RSA", 2048),
    "PS384": ("RSA", 2048),
    "PS512": ("RSA", 2048),
}
SUBJECT_SOURCES = ("id", "external_id")
MAPPER_ROOTS = ("session", "identity")
NO_EXTERNAL_ID = "The session's identity does not have an external ID set, but it is required for the subject claim."
Key = ECKey | RSAKey


class TemplateError(ValueError):
    """A template the emulator cannot use (reported at start-up)."""


class TokenizeError(ValueError):
    """What Kratos answers with 400 at tokenization time (the message is its `reason`)."""


@dataclass(frozen=True)
class Template:
    name: str
    key: Key
    ttl: float = 60.0
    subject_source: str = "id"
    #: claim name -> dotted path rooted at `session` or `identity`
    claims_mapper: dict[str, str] = field(default_factory=dict)

    @property
    def algorithm(self) -> str:
        return str(self.key.alg)

    def public_jwks(self) -> dict[str, Any]:
        public = dict(self.key.as_dict(private=False))
        return {"keys": [{**public, "use": "sig"}]}


def generate_key(algorithm: str) -> Key:
    if algorithm not in ALGORITHMS:
        raise TemplateError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    kind, size = ALGORITHMS[algorithm]
    parameters: KeyParameters = {"kid": str(uuid.uuid4()), "alg": algorithm, "use": "sig"}
    generated: Key = JWKRegistry.generate_key(kind, size, parameters, private=True)  # type: ignore[assignment]
    return generated


def _jwks_text(url: str) -> str:
    parts = urlsplit(url)
    try:
        if parts.scheme == "base64":
            return base64.b64decode(url.removeprefix("base64://") + "==").decode()
        if parts.scheme == "file":
            return Path(unquote(parts.path)).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise TemplateError(f"jwks_url: cannot read it ({exc})") from exc
    raise TemplateError("jwks_url must be a file:// or base64:// URL holding a private JWK set")


def load_key(url: str) -> Key:
    """The first key of the private JWK set at `url`; raises TemplateError."""
    text = _jwks_text(url)
    try:
        keys = json.loads(text).get("keys")
        first: dict[str, Any] = keys[0] if isinstance(keys, list) and keys else {}
        key: Key = JWKRegistry.import_key(first)  # type: ignore[assignment]
    except (ValueError, TypeError, KeyError, AttributeError, JoseError) as exc:
        raise TemplateError(f"jwks_url: no usable JSON Web Key in a JWK set ({exc})") from exc
    if first.get("alg") not in ALGORITHMS:
        raise TemplateError(f"jwks_url: the key's alg must be one of {', '.join(ALGORITHMS)}")
    if not key.is_private:
        raise TemplateError("jwks_url: the key must be private (it signs the tokens)")
    if not key.kid:
        raise TemplateError("jwks_url: the key must have a kid")
    return key


def _lookup(document: dict[str, Any], path: str) -> Any:
    root, _, rest = path.partition(".")
    value: Any = document if root == "session" else document.get("identity")
    for part in rest.split(".") if rest else []:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def tokenize(template: Template, session: dict[str, Any], issuer: str, now: float) -> str:
    """The session JWT; `session` is the whoami Session JSON. Raises TokenizeError."""
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "exp": int(now + template.ttl),
        "sid": session["id"],
        "nbf": int(now),
        "iat": int(now),
    }
    for claim, path in template.claims_mapper.items():
        value = _lookup(session, path)
        if value is not None:
            claims[claim] = value
    identity = session.get("identity") or {}
    if template.subject_source == "external_id":
        if not identity.get("external_id"):
            raise TokenizeError(NO_EXTERNAL_ID)
        claims["sub"] = identity["external_id"]
    else:
        claims["sub"] = identity.get("id")
    header = {"alg": template.algorithm, "kid": template.key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, template.key, algorithms=[template.algorithm])
