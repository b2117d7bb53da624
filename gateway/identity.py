"""The identity headers the upstream receives (INTERFACE.md), set after every client copy is gone."""

from __future__ import annotations

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
    if principal is None:
        return headers
    headers.append(("X-Principal-Kind", principal.kind))
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
    headers.append(("X-Identity-Assertion", signer.assertion(principal, audience)))
    return headers
