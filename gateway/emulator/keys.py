"""Per-project signing keys: Hydra's two JWK sets (id-token and access-token), JWT signing and checking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

ID_TOKEN_SET = "hydra.openid.id-token"
ACCESS_TOKEN_SET = "hydra.jwt.access-token"


def _new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": str(uuid.uuid4()), "alg": "RS256", "use": "sig"})


@dataclass
class KeySets:
    """One RS256 key per Hydra key set, generated at start like Hydra does on first use."""

    sets: dict[str, RSAKey] = field(default_factory=dict)

    @classmethod
    def generate(cls) -> KeySets:
        return cls({ID_TOKEN_SET: _new_key(), ACCESS_TOKEN_SET: _new_key()})

    def public_jwk(self, set_name: str) -> dict[str, Any]:
        jwk = dict(self.sets[set_name].as_dict(private=False))
        return {k: jwk[k] for k in ("alg", "e", "kid", "kty", "n", "use")}

    def jwks(self) -> dict[str, Any]:
        """Public keys of both sets, as served at /.well-known/jwks.json."""
        return {"keys": [self.public_jwk(name) for name in (ID_TOKEN_SET, ACCESS_TOKEN_SET)]}

    def sign_access_token(self, claims: dict[str, Any]) -> str:
        key = self.sets[ACCESS_TOKEN_SET]
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key)

    def verify_access_token(self, token: str) -> dict[str, Any] | None:
        """Claims of a JWT signed by this project's access-token key, or None if it is not one."""
        try:
            decoded = jwt.decode(token, self.sets[ACCESS_TOKEN_SET], algorithms=["RS256"])
        except (JoseError, ValueError, TypeError):
            return None
        return dict(decoded.claims)
