"""What the cache keeps for authentication: one `gateway.cache.Cache[str, Verdict]` per tenant.

- Key: sha256 of (tenant, authenticator, credential). The raw credential is never stored;
  the key is also the principal's `credential_hash`, its revocation handle.
- Positive (a principal): GATEWAY_CACHE_MAX_TTL, never past the session's `expires_at` or
  the token's `exp`, nor past what Kratos' `Ory-Session-Cache-For` allows. Negative (a
  rejected credential): GATEWAY_CACHE_NEGATIVE_TTL. Failures (outages, 429) and step-up
  demands (whoami's 403) raise and are never cached; nor is a refreshed session cookie.
- Indexes: the principal's session, its subject, and every organization it speaks for.
- Hits, misses, joins and shared reads are noted on the `authenticate` span
  (`gateway.authn.cache`).
"""

from __future__ import annotations

import dataclasses
import hashlib

from gateway.authn.verdict import Verdict
from gateway.cache import Cache, Clock, Shared
from gateway.config.settings import CacheSettings
from gateway.observe import tracing


def credential_key(tenant: str, authenticator: str, credential: str) -> str:
    """The cache key and revocation handle of a credential: never the credential itself."""
    raw = f"{tenant}\x00{authenticator}\x00{credential}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(raw).hexdigest()


def decision_cache(
    settings: CacheSettings, clock: Clock, tenant: str, shared: Shared[str, Verdict] | None
) -> Cache[str, Verdict]:
    return Cache(settings, clock, tenant, lifetime, LISTED, shared=shared, note=_traced)


def _traced(what: str) -> None:
    tracing.note("gateway.authn.cache", what)  # on the `authenticate` span: join, or shared


def lifetime(decision: Verdict) -> tuple[bool, float | None]:
    principal = decision.principal
    if principal is None:
        return False, None
    ends, bound = principal.expires_at, decision.cache_until
    return True, bound if ends is None else ends if bound is None else min(ends, bound)


def _session(key: str, decision: Verdict) -> tuple[str, ...]:
    p = decision.principal
    return (p.session_id,) if p is not None and p.session_id else ()


def _subject(key: str, decision: Verdict) -> tuple[str, ...]:
    p = decision.principal
    return (p.subject,) if p is not None else ()


def _organizations(key: str, decision: Verdict) -> set[str]:
    """Every organization a cached principal speaks for: its own and its memberships'."""
    p = decision.principal
    if p is None:
        return set()
    found = {m.organization for m in p.memberships or ()}
    if p.organization:
        found.add(p.organization)
    return found


#: what a cached decision is listed under: its principal's session, subject and organizations
LISTED = {"session_id": _session, "subject": _subject, "organization": _organizations}


def stamped(key: str, decision: Verdict) -> Verdict:
    """`decision` with its principal carrying the credential hash it is cached under."""
    p = decision.principal
    if p is None or p.credential_hash == key:
        return decision
    return dataclasses.replace(decision, principal=dataclasses.replace(p, credential_hash=key))
