"""The identity headers the upstream receives (INTERFACE.md), set after every client copy is gone."""

from __future__ import annotations

from cachetools import LRUCache

from gateway.assertion import AssertionSigner
from gateway.forwarded import Origin
from gateway.principal import Principal


def identity_headers(
    principal: Principal | None, tenant: str, origin: Origin, audience: str, signer: AssertionSigner
) -> list[tuple[str, str]]:
    headers = [
        ("X-Tenant", tenant),
        ("X-Request-Id", origin.request_id),
        ("X-Forwarded-For", origin.forwarded_for),
        ("X-Forwarded-Proto", origin.scheme),
    ]
    if origin.host:
        headers.append(("X-Forwarded-Host", origin.host))
    if principal is not None:
        headers.extend(_principal_headers(principal, audience, signer))
    return headers


Headers = tuple[tuple[str, str], ...]
#: (id(principal), audience) -> (principal, headers, assertion expiry). The decision cache hands
#: out the same Principal object until it refetches; the entry holds it, so the id stays unique.
_CACHE: LRUCache[tuple[int, str], tuple[Principal, Headers, float]] = LRUCache(maxsize=50_000)


def _principal_headers(principal: Principal, audience: str, signer: AssertionSigner) -> Headers:
    key = (id(principal), audience)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is principal and signer.fresh(hit[2]):
        return hit[1]
    assertion, exp = signer.signed(principal, audience)
    headers = principal_headers(principal, assertion)
    _CACHE[key] = (principal, headers, exp)
    return headers


def principal_headers(principal: Principal, assertion: str) -> Headers:
    headers: list[tuple[str, str]] = [("X-Principal-Kind", principal.kind)]
    if principal.kind == "human":
        headers.append(("X-User-Id", principal.subject))
    if principal.client_id:
        headers.append(("X-Client-Id", principal.client_id))
    if principal.organization:
        headers.append(("X-Org-Id", principal.organization))
    if principal.roles:
        headers.append(("X-Roles", ",".join(sorted(principal.roles))))
    if principal.scopes:
        headers.append(("X-Scopes", " ".join(sorted(principal.scopes))))
    if principal.session_id:
        headers.append(("X-Session-Id", principal.session_id))
    headers.append(("X-Identity-Assertion", assertion))
    return tuple(headers)
