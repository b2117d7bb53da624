"""What an authenticator decides about one credential, and small claim-reading helpers.

A `Verdict` is either a principal (accepted) or a fixed reason id (rejected). Both are
cacheable; failures (outages, 429) and step-up demands are exceptions and are never cached.
What Ory said about this one answer rides along and never enters the cache: how long it may
be cached (`cache_until`, from `Ory-Session-Cache-For`) bounds the entry, and a refreshed
session cookie (`set_cookie`) goes to the browser of the request that asked
(`gateway.authn.TenantAuthenticator`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.principal import Principal


@dataclass(frozen=True, slots=True)
class Verdict:
    principal: Principal | None
    reason: str = ""
    description: str = ""
    #: epoch seconds past which this answer must not be reused (None: the principal's expiry decides)
    cache_until: float | None = None
    #: the `Set-Cookie` value of a refreshed session cookie ("" for none); stripped before caching
    set_cookie: str = ""

    @classmethod
    def reject(cls, reason: str, description: str) -> Verdict:
        return cls(None, reason, description)


_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


def parse_rfc3339(value: object) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp (Go writes nanoseconds), or None."""
    if not isinstance(value, str):
        return None
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    date, time_, frac, zone = m.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = datetime.fromisoformat(f"{date}T{time_}{zone}")
    except ValueError:
        return None
    return parsed.timestamp() + (float("0." + frac) if frac else 0.0)


def dig(doc: object, path: str) -> object:
    """The value at a dotted path (`metadata_public.organization_id`), or None."""
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def same_issuer(actual: object, expected: str) -> bool:
    """Exact issuer compare, tolerating only a trailing-slash difference."""
    if not isinstance(actual, str) or not actual:
        return False
    return actual.removesuffix("/") == expected.removesuffix("/")
