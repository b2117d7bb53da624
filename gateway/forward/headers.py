"""What the upstream receives, and what comes back: the trust boundary for headers.

`UpstreamHeaders` is the one builder of an upstream request's headers, for HTTP
forwarding, WebSocket handshakes and `/decisions` alike. Everything the gateway owns
(identity headers, forwarding headers) and what it consumes (`X-Organization-Id`) is
deleted from what the client sent, in every spelling (`_` and `.` read as `-`, any case);
hop-by-hop headers and every header named in `Connection` are deleted; the consumed
credential goes; client framing is never forwarded (the gateway frames the upstream request
itself). Then the gateway's own identity headers (`gateway.forward.identity`), its W3C trace
context (`traceparent`, and the caller's `tracestate` when the caller's trace is continued:
`gateway.observe.tracing`) and the label profile's content type are added.
`downstream_response_headers` is the way back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from gateway.config.load import Settings
from gateway.decision import Decision
from gateway.forward.assertion import AssertionSigner
from gateway.forward.identity import identity_header_bytes
from gateway.front.exchange import Exchange
from gateway.observe import tracing

Header = tuple[bytes, bytes]

#: identity headers set by the gateway (INTERFACE.md), in normalised spelling
IDENTITY_HEADERS = frozenset(
    {
        "x-tenant",
        "x-principal-kind",
        "x-user-id",
        "x-client-id",
        "x-org-id",
        "x-roles",
        "x-scopes",
        "x-session-id",
        "x-request-id",
        "x-identity-assertion",
    }
)

#: headers only a trusted proxy may set; the gateway sets its own versions
FORWARDING_HEADERS = frozenset(
    {
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-forwarded-uri",
        "x-forwarded-path",
        "x-forwarded-server",
        "x-real-ip",
        "x-original-url",
        "x-original-uri",
        "x-rewrite-url",
        "x-original-host",
        "x-original-forwarded-for",
        "x-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "x-envoy-external-address",
        "x-envoy-original-path",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    }
)

#: W3C Trace Context: the gateway's span is the upstream's parent, never the client's (a valid
#: client context is continued through the gateway's own span: gateway.observe.tracing)
TRACE_HEADERS = frozenset({"traceparent", "tracestate"})

#: RFC 9110 section 7.6.1 plus the ones proxies traditionally treat as hop-by-hop
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "http2-settings",
    }
)

#: framing the gateway decides itself
FRAMING = frozenset({"content-length", "transfer-encoding", "host", "expect"})

#: what the caller says to the gateway alone: the organization it chooses (`gateway.orgs.choice`);
#: the upstream gets the verified one, `X-Org-Id`
CONSUMED = frozenset({"x-organization-id"})

OWNED = IDENTITY_HEADERS | FORWARDING_HEADERS | TRACE_HEADERS | CONSUMED
DROP_ALWAYS = OWNED | HOP_BY_HOP | FRAMING


class UpstreamHeaders:
    """The headers an upstream receives, built in one place (per-tenant parts at start-up).

    `identity` is the part the gateway sets: tenant, request id, forwarding, and for a
    principal its headers and signed assertion, then the trace context (what `/decisions`
    answers with, for the proxy in front to copy upstream). `request` is everything a
    forwarded request carries: the client's headers past the trust boundary, then the
    identity part, then the content type the label profile wrote the body in. The trace
    context is the active span's: the upstream call's when it is recorded, else the request's.
    """

    def __init__(self, settings: Settings, signer: AssertionSigner) -> None:
        self.signer = signer
        #: per tenant, the session cookie taken out of an authenticated request's `Cookie`
        self.cookies = {name: tenant.cookie_bytes for name, tenant in settings.tenants.items()}

    def identity(self, ex: Exchange, decision: Decision, audience: str) -> list[Header]:
        headers = identity_header_bytes(decision.principal, decision.tenant, ex.origin, audience, self.signer)
        headers += tracing.outgoing()
        return headers

    def request(
        self,
        ex: Exchange,
        decision: Decision,
        audience: str,
        drop: frozenset[str] = frozenset(),
        content_type: str | None = None,
    ) -> list[Header]:
        """`drop`: more client headers that must not reach the upstream (those that no longer
        describe a rewritten body, a WebSocket handshake's own)."""
        principal, tenant = decision.principal, decision.tenant
        cookie = None if principal is None else self.cookies[tenant]
        headers = upstream_request_headers(ex.request.headers, drop=drop, session_cookie=cookie)
        # then the identity part (what `identity` gives)
        headers += identity_header_bytes(principal, tenant, ex.origin, audience, self.signer)
        headers += tracing.outgoing()
        if content_type is not None:
            headers.append((b"content-type", content_type.encode("latin-1")))
        return headers


def normalise(name: bytes) -> str:
    """`X_Org.Id` and `x-org-id` are the same header to any upstream framework."""
    return name.decode("latin-1").lower().replace("_", "-").replace(".", "-")


def connection_listed(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[str]:
    listed: set[str] = set()
    for name, value in headers:
        if name == b"connection":
            listed.update(normalise(tok.strip()) for tok in value.split(b",") if tok.strip())
    return frozenset(listed)


#: the credential the gateway consumed; the upstream gets the signed assertion instead,
#: so it can never replay the caller's session or token on another route
CREDENTIALS = frozenset({"authorization", "x-session-token"})

#: header name -> (normalised name, always dropped); the hot path sees the same few names
#: again and again (bounded: names past the limit are worked out each time)
_NAMES: dict[bytes, tuple[str, bool]] = {}


def _kept(name: bytes, listed: frozenset[str]) -> bool:
    known = _NAMES.get(name)
    if known is None:
        normalised = normalise(name)
        known = (normalised, normalised in DROP_ALWAYS)
        if len(_NAMES) < 4096:
            _NAMES[name] = known
    return not known[1] and known[0] not in listed


def upstream_request_headers(
    headers: list[Header],
    *,
    drop: frozenset[str] = frozenset(),
    session_cookie: bytes | None = None,
) -> list[Header]:
    """The client's headers minus everything the upstream must not see from the client.

    With `session_cookie` (an authenticated request), the consumed credential goes too:
    `Authorization`, `X-Session-Token` and that cookie out of `Cookie`.
    """
    listed = connection_listed(headers) | drop
    if session_cookie is not None:
        listed |= CREDENTIALS
    kept = [(n, v) for n, v in headers if _kept(n, listed)]
    if session_cookie is None:
        return kept
    return [(n, v) for n, v in ((n, strip_cookie(v, session_cookie) if n == b"cookie" else v) for n, v in kept) if v]


def strip_cookie(value: bytes, name: bytes) -> bytes:
    """`Cookie` without every pair named `name` (empty when nothing else is left)."""
    if name not in value:
        return value
    pairs = [p.strip() for p in value.split(b";")]
    return b"; ".join(p for p in pairs if p and p.split(b"=", 1)[0].strip() != name)


#: the gateway owns CORS (gateway.front.cors): an upstream's own answer never reaches a browser
CORS_RESPONSE = frozenset(
    {
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-private-network",
        "access-control-expose-headers",
        "access-control-max-age",
    }
)
_DROPPED_BACK = HOP_BY_HOP | CORS_RESPONSE
_DROPPED_BACK_AND_LENGTH = _DROPPED_BACK | {"content-length"}


def downstream_response_headers(
    headers: Iterable[tuple[bytes, bytes]], *, keep_length: bool = True
) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers, names lower-case, minus hop-by-hop ones, those its
    `Connection` header lists (in whatever case it spells it), its `Access-Control-*` answer
    (the gateway's own replaces it), and the length if the body changes."""
    pairs = [(_lower(n), v) for n, v in headers]
    listed = connection_listed(pairs)
    drop = _DROPPED_BACK if keep_length else _DROPPED_BACK_AND_LENGTH
    return [(n, v) for n, v in pairs if n and (k := _text(n)) not in drop and k not in listed]


@functools.lru_cache(maxsize=4096)
def _lower(name: bytes) -> bytes:
    return name.lower()


@functools.lru_cache(maxsize=4096)
def _text(name: bytes) -> str:
    return name.decode("latin-1")
