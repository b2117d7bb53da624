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

from gateway.cache import Cache, Clock, Shared
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


def answer_cache(
    settings: CacheSettings, clock: Clock, tenant: str, shared: Shared[Key, Answer] | None
) -> Cache[Key, Answer]:
    return Cache(settings, clock, tenant, lambda answer: (answer.allowed, None), ANSWERS_LISTED, shared=shared)


def organizations_of(key: Key, answer: Answer) -> set[str]:
    """The organizations an answer is about, or was given for."""
    found = {answer.organization} if answer.organization else set()
    if key[2] == ORGANIZATION_NAMESPACE:
        found.add(key[3])
    return found


def _subject(key: Key, answer: Answer) -> tuple[str]:
    return (key[5],)


#: what an answer is listed under: its subject, and the organizations it is about
ANSWERS_LISTED = {"subject": _subject, "organization": organizations_of}


def listing_cache(settings: CacheSettings, clock: Clock, tenant: str) -> Cache[ListingKey, tuple[str, ...]]:
    return Cache(settings, clock, tenant, lambda organizations: (bool(organizations), None), LISTINGS_LISTED)


def _listed_subject(key: ListingKey, organizations: tuple[str, ...]) -> tuple[str]:
    return (key[1],)


def _listed_organizations(key: ListingKey, organizations: tuple[str, ...]) -> tuple[str, ...]:
    return organizations


#: what a listing is listed under: its subject, and every organization in it
LISTINGS_LISTED = {"subject": _listed_subject, "organization": _listed_organizations}
