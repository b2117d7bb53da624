"""`X-Identity-Assertion`: a short-lived ES256 JWT proving a call came through the gateway.

One key per tenant (loaded from `GATEWAY_ASSERTION_KEYS_DIR/<tenant>.pem` when given,
so replicas share it; else generated at start-up). Public keys are served at
`/.well-known/jwks.json`. Signing costs more than the rest of a cached request
(docs/performance.md), so an assertion is reused for the same principal and audience until
half its lifetime has passed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
from cachetools import LRUCache
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.principal import Principal

LIFETIME = 60


class AssertionSigner:
    def __init__(
        self,
        issuer: str,
        tenants: Iterable[str],
        keys_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.clock = clock
        self.keys = {t: _load_or_generate(t, keys_dir) for t in tenants}
        self._cache: LRUCache[tuple[str, str, str, str | None, frozenset[str]], tuple[str, float]] = LRUCache(
            maxsize=50_000
        )

        self.jwks_body = orjson.dumps({"keys": [k.as_dict(private=False) for k in self.keys.values()]})

    def assertion(self, principal: Principal, audience: str) -> str:
        return self.signed(principal, audience)[0]

    def signed(self, principal: Principal, audience: str) -> tuple[str, float]:
        """The assertion and its expiry (epoch seconds), reused while more than half is left."""
        now = self.clock()
        # one credential may act for several organizations (gateway.orgs): each has its own assertion
        who = principal.credential_hash or principal.subject
        key = (principal.tenant, who, audience, principal.organization, principal.roles)
        hit = self._cache.get(key)
        if hit is not None and hit[1] - now > LIFETIME / 2:
            return hit
        exp = now + LIFETIME
        if principal.expires_at is not None:
            exp = min(exp, principal.expires_at)
        signed = (self._sign(principal, audience, int(now), int(exp)), exp)
        self._cache[key] = signed
        return signed

    def fresh(self, exp: float) -> bool:
        return exp - self.clock() > LIFETIME / 2

    def _sign(self, p: Principal, audience: str, now: int, exp: int) -> str:
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "sub": p.subject,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "tenant": p.tenant,
            "kind": p.kind,
            "org": p.organization,
            "roles": sorted(p.roles),
            "scopes": sorted(p.scopes),
        }
        if p.session_id:
            claims["sid"] = p.session_id
        key = self.keys[p.tenant]
        header = {"alg": "ES256", "typ": "JWT", "kid": key.kid or ""}
        return jwt.encode(header, claims, key, algorithms=["ES256"])


def _load_or_generate(tenant: str, keys_dir: Path | None) -> ECKey:
    if keys_dir is not None and (keys_dir / f"{tenant}.pem").is_file():
        pem = (keys_dir / f"{tenant}.pem").read_bytes()
        key = ECKey.import_key(pem)
    else:
        key = ECKey.generate_key("P-256", private=True)
    public = key.as_dict(private=False)
    kid = f"{tenant}-" + hashlib.sha256(orjson.dumps(public, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return ECKey.import_key(key.as_dict(private=True), {"kid": kid, "use": "sig", "alg": "ES256"})
