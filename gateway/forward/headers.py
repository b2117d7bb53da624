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

from collections.abc import Iterable
from operator import itemgetter

from gateway.config.settings import Settings
from gateway.decision import Decision
from gateway.forward.assertion import AssertionSigner
from gateway.forward.identity import identity_header_bytes
from gateway.front.exchange import Exchange
from gateway.front.request import Spellings
from gateway.observe import tracing

Header = tuple[bytes, bytes]

#: identity headers set by the gateway (README, "What the upstream receives"), in normalised spelling
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
#: what `UpstreamHeaders.identity` (a `/decisions` answer) always carries
ANSWERED = tuple(
    name.encode("latin-1")
    for name in (
        *sorted(IDENTITY_HEADERS),
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        *sorted(TRACE_HEADERS),
    )
)
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
        """Every one of `ANSWERED`, empty where it does not apply: a front proxy that copies a
        fixed list upstream then overwrites each client copy, and never writes a placeholder."""
        headers = identity_header_bytes(decision.principal, decision.tenant, ex.origin, audience, self.signer)
        headers += tracing.outgoing()
        headers += _unanswered(tuple(map(_NAME, headers)))
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
        request = ex.request
        headers = upstream_request_headers(
            request.headers, request.header_values(b"connection"), drop=drop, session_cookie=cookie
        )
        # then the identity part (what `identity` gives)
        headers += identity_header_bytes(principal, tenant, ex.origin, audience, self.signer)
        headers += tracing.outgoing()
        if content_type is not None:
            headers.append((b"content-type", content_type.encode("latin-1")))
        return headers


_NAME = itemgetter(0)
#: the names an answer carries -> the `ANSWERED` ones it lacks, as empty headers (a few shapes:
#: anonymous, human, machine, with or without a host or tracestate)
_UNANSWERED: dict[tuple[bytes, ...], list[Header]] = {}


def _unanswered(names: tuple[bytes, ...]) -> list[Header]:
    found = _UNANSWERED.get(names)
    if found is None:
        if len(_UNANSWERED) >= 256:
            _UNANSWERED.clear()
        found = _UNANSWERED[names] = [(name, b"") for name in ANSWERED if name not in names]
    return found


def normalise(name: bytes) -> str:
    """`X_Org.Id` and `x-org-id` are the same header to any upstream framework."""
    return name.decode("latin-1").lower().replace("_", "-").replace(".", "-")


#: the credential the gateway consumed; the upstream gets the signed assertion instead,
#: so it can never replay the caller's session or token on another route
CREDENTIALS = frozenset({"authorization", "x-session-token"})


def _kept_as(name: bytes) -> str | None:
    """The normalised name of a client header that may pass, None if it is always dropped."""
    normalised = normalise(name)
    return None if normalised in DROP_ALWAYS else normalised


#: header name as sent -> normalised name, or None when always dropped; the hot path sees
#: the same few names again and again
_NAMES: Spellings[str | None] = Spellings(_kept_as)


def upstream_request_headers(
    headers: list[Header],
    connection: list[bytes],
    *,
    drop: frozenset[str] = frozenset(),
    session_cookie: bytes | None = None,
) -> list[Header]:
    """The client's headers minus everything the upstream must not see from the client.

    With `session_cookie` (an authenticated request), the consumed credential goes too:
    `Authorization`, `X-Session-Token` and that cookie out of `Cookie`. `connection`: the
    request's `Connection` values (every header they name goes too).
    """
    listed = _connection_tokens(connection) | drop if connection else drop
    if session_cookie is None:
        return [h for h in headers if (k := _NAMES[h[0]]) is not None and k not in listed]
    listed |= CREDENTIALS
    # an authenticated request: empty values go too (a Cookie that held only the session)
    kept = [h for h in headers if h[1] and (k := _NAMES[h[0]]) is not None and k not in listed]
    if b"cookie" in dict(kept):
        kept = [(n, strip_cookie(v, session_cookie) if n == b"cookie" else v) for n, v in kept]
        return [h for h in kept if h[1]]
    return kept


def _listed(values: Iterable[bytes]) -> frozenset[str]:
    """The header names a `Connection` header's values list, normalised."""
    return frozenset(normalise(tok.strip()) for value in values for tok in value.split(b",") if tok.strip())


#: one `Connection` value -> the names it lists (most messages carry one, and the same one)
_CONNECTION: Spellings[frozenset[str]] = Spellings(lambda value: _listed((value,)), limit=256)


def _connection_tokens(values: list[bytes]) -> frozenset[str]:
    return _CONNECTION[values[0]] if len(values) == 1 else _listed(values)


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
_DROPPED_BACK = frozenset(n.encode("latin-1") for n in HOP_BY_HOP | CORS_RESPONSE)
_DROPPED_BACK_AND_LENGTH = _DROPPED_BACK | {b"content-length"}
#: the same, as the lower-case names of a response
_CONNECTION_BACK: Spellings[frozenset[bytes]] = Spellings(lambda value: _as_bytes(_listed((value,))), limit=256)
#: response header name as sent -> lower-case
_LOWER: Spellings[bytes] = Spellings(bytes.lower)


def _as_bytes(names: frozenset[str]) -> frozenset[bytes]:
    return frozenset(name.encode("latin-1") for name in names)


def downstream_response_headers(
    headers: Iterable[tuple[bytes, bytes]], *, keep_length: bool = True
) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers, names lower-case, minus hop-by-hop ones, those its
    `Connection` header lists (in whatever case it spells it), its `Access-Control-*` answer
    (the gateway's own replaces it), and the length if the body changes."""
    pairs = [(_LOWER[n], v) for n, v in headers]
    drop = _DROPPED_BACK if keep_length else _DROPPED_BACK_AND_LENGTH
    connection = [v for n, v in pairs if n == b"connection"]
    if connection:
        drop = drop | (_CONNECTION_BACK[connection[0]] if len(connection) == 1 else _as_bytes(_listed(connection)))
    return [h for h in pairs if h[0] and h[0] not in drop]
