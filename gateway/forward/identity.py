"""The identity headers the upstream receives, set after every client copy is gone.

`identity_header_bytes` gives them as lower-case bytes, ready for an ASGI response or a raw
request. The principal's part (and its signed assertion) is built once per cached principal
and audience; only the request's own part is encoded per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.forward.assertion import AssertionSigner
from gateway.front.trusted_proxies import Origin
from gateway.principal import Principal

Headers = tuple[tuple[str, str], ...]
RawHeaders = tuple[tuple[bytes, bytes], ...]


def identity_header_bytes(
    principal: Principal | None, tenant: str, origin: Origin, audience: str, signer: AssertionSigner
) -> list[tuple[bytes, bytes]]:
    """The request's part (tenant, request id, forwarding) and the principal's, as latin-1 bytes."""
    headers = [
        (b"x-tenant", tenant.encode("latin-1")),
        (b"x-request-id", origin.request_id.encode("latin-1")),
        (b"x-forwarded-for", origin.forwarded_for.encode("latin-1")),
        (b"x-forwarded-proto", origin.scheme.encode("latin-1")),
    ]
    if origin.host:
        headers.append((b"x-forwarded-host", origin.host.encode("latin-1")))
    if principal is not None:
        headers.extend(_principal_block(principal, audience, signer).raw)
    return headers


@dataclass(frozen=True, slots=True)
class _Block:
    raw: RawHeaders
    #: the assertion's expiry (epoch seconds)
    expires: float


def _principal_block(principal: Principal, audience: str, signer: AssertionSigner) -> _Block:
    """The principal's headers for `audience`, kept on the principal (the decision cache hands
    out the same object until it refetches, and the block goes with it) while the assertion is fresh."""
    hit = principal.headers.get(audience)
    if isinstance(hit, _Block) and signer.fresh(hit.expires):
        return hit
    assertion, exp = signer.signed(principal, audience)
    text = principal_headers(principal, assertion)
    raw = tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in text)
    block = principal.headers[audience] = _Block(raw, exp)
    return block


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
