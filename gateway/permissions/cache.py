"""What the cache keeps for Ory Permissions, per tenant: Keto's answers, and the
organizations listed for a subject (each a `gateway.cache.Cache`).

- Key of an answer: (tenant, principal kind, namespace, object, relation, subject) - a Python
  tuple, never a joined string, so no choice of ids can make two keys collide; the tenant and
  the kind are part of it (a client id equal to an identity id, or the same ids in two
  tenants, never share an answer).
- Allows live min(GATEWAY_CACHE_MAX_TTL, the session's or token's time left); denies
  GATEWAY_CACHE_NEGATIVE_TTL (also bounded by that time left). A membership's roles, asked
  in one batch, are kept as one answer: as an allow when any role is held. Failures
  (outages, 429, garbage) raise and are never cached: there is no stale answer, allow or deny.
- Indexes: the subject, and the organization an answer is about (an `Organization` tuple)
  or was given for (the organization the request acted for).
- Listings: the organizations listed for a subject (`Organization` tuples, for a Keto-backed
  default organization), with the same bounds, local to the replica, evicted by the subject
  and by any organization listed.
"""

from __future__ import annotations

from typing import NamedTuple

from gateway.cache import Cache, Clock, Index, Shared
from gateway.config.settings import CacheSettings

#: (tenant, kind, namespace, object, relation, subject)
Key = tuple[str, str, str, str, str, str]
#: (tenant, subject) -> the organizations listed
ListingKey = tuple[str, str]
ORGANIZATION_NAMESPACE = "Organization"


class Answer(NamedTuple):
    allowed: bool
    #: the organization the request acted for when Keto was asked (eviction by organization)
    organization: str | None


def answer_cache(settings: CacheSettings, clock: Clock, shared: Shared[Key, Answer] | None) -> Cache[Key, Answer]:
    return Cache(settings, clock, lambda answer: (answer.allowed, None), answer_indexes, shared=shared)


def answer_indexes(key: Key, answer: Answer) -> list[Index]:
    tenant = key[0]
    return [
        Index("subject", tenant, key[5]),
        *(Index("organization", tenant, o) for o in organizations_of(key, answer)),
    ]


def organizations_of(key: Key, answer: Answer) -> set[str]:
    """The organizations an answer is about, or was given for."""
    found = {answer.organization} if answer.organization else set()
    if key[2] == ORGANIZATION_NAMESPACE:
        found.add(key[3])
    return found


def listing_cache(settings: CacheSettings, clock: Clock) -> Cache[ListingKey, tuple[str, ...]]:
    return Cache(settings, clock, lambda organizations: (bool(organizations), None), listing_indexes)


def listing_indexes(key: ListingKey, organizations: tuple[str, ...]) -> list[Index]:
    tenant, subject = key
    return [Index("subject", tenant, subject), *(Index("organization", tenant, o) for o in organizations)]
