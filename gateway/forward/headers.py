"""The trust boundary for headers: what the client sent that the upstream never sees.

One place decides it. Everything the gateway owns (identity headers, forwarding
headers) is deleted in every spelling (`_` and `.` read as `-`, any case), hop-by-hop
headers and every header named in `Connection` are deleted, and client framing is
never forwarded: the gateway frames the upstream request itself.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from gateway.errors import BadRequest, HeadersTooLarge

#: identity headers set by the gateway (INTERFACE.md), in normalised spelling
IDENTITY_HEADERS = frozenset(
    {
        "x-tenant", "x-principal-kind", "x-user-id", "x-client-id", "x-org-id", "x-roles",
        "x-scopes", "x-session-id", "x-request-id", "x-identity-assertion",
    }
)  # fmt: skip

#: headers only a trusted proxy may set; the gateway sets its own versions
FORWARDING_HEADERS = frozenset(
    {
        "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
        "x-forwarded-prefix", "x-forwarded-uri", "x-forwarded-path", "x-forwarded-server", "x-real-ip",
        "x-original-url", "x-original-uri", "x-rewrite-url", "x-original-host", "x-original-forwarded-for",
        "x-client-ip", "true-client-ip", "cf-connecting-ip", "x-envoy-external-address",
        "x-envoy-original-path", "x-http-method-override", "x-http-method", "x-method-override",
    }
)  # fmt: skip

#: RFC 9110 section 7.6.1 plus the ones proxies traditionally treat as hop-by-hop
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "http2-settings",
    }
)  # fmt: skip

#: framing the gateway decides itself
FRAMING = frozenset({"content-length", "transfer-encoding", "host", "expect"})

OWNED = IDENTITY_HEADERS | FORWARDING_HEADERS
DROP_ALWAYS = OWNED | HOP_BY_HOP | FRAMING


def normalise(name: bytes) -> str:
    """`X_Org.Id` and `x-org-id` are the same header to any upstream framework."""
    return name.decode("latin-1").lower().replace("_", "-").replace(".", "-")


def connection_listed(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[str]:
    listed: set[str] = set()
    for name, value in headers:
        if name == b"connection":
            listed.update(normalise(tok.strip()) for tok in value.split(b",") if tok.strip())
    return frozenset(listed)


def check_head(scope: dict[str, Any], max_bytes: int) -> None:
    """The request head, before any work, in one pass over its headers.

    431 past `max_bytes` (target plus every header line, as received). Then 400 for
    framing two parsers could read two ways (request smuggling): llhttp already refuses
    Content-Length with Transfer-Encoding, duplicate or malformed lengths and codings other
    than a final ``chunked``; on top, the only Transfer-Encoding accepted is exactly
    ``chunked`` (no ``gzip, chunked`` or the obsolete ``identity``: the gateway would
    forward a body whose coding it dropped), and none at all in HTTP/1.0 (RFC 9112 section
    6.1). An HTTP/1.1 request must carry a Host (RFC 9112 section 3.2): which tenant it is
    for must never be a guess.
    """
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    codings: list[bytes] = []
    has_host = False
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4
        if name == b"host":
            has_host = True
        elif name == b"transfer-encoding":
            codings.append(value)
    if size > max_bytes:
        raise HeadersTooLarge(f"request headers exceed {max_bytes} bytes", reason="headers_too_large")
    http_version = scope.get("http_version", "1.1")
    if codings and http_version == "1.0":
        raise BadRequest("Transfer-Encoding is not allowed in HTTP/1.0", reason="bad_framing")
    if codings and any(value.strip().lower() != b"chunked" for value in codings):
        raise BadRequest("the only transfer coding accepted is 'chunked'", reason="bad_framing")
    if not has_host and http_version == "1.1":
        raise BadRequest("an HTTP/1.1 request must carry a Host header", reason="missing_host")


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
    headers: list[tuple[bytes, bytes]],
    *,
    drop: frozenset[str] = frozenset(),
    session_cookie: bytes | None = None,
) -> list[tuple[bytes, bytes]]:
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


_HOP_BY_HOP_AND_LENGTH = HOP_BY_HOP | {"content-length"}


def downstream_response_headers(
    headers: Iterable[tuple[bytes, bytes]], *, keep_length: bool = True
) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers, names lower-case, minus hop-by-hop ones, those its
    `Connection` header lists (in whatever case it spells it), and the length if the body changes."""
    pairs = [(_lower(n), v) for n, v in headers]
    listed = connection_listed(pairs)
    drop = HOP_BY_HOP if keep_length else _HOP_BY_HOP_AND_LENGTH
    return [(n, v) for n, v in pairs if n and (k := _text(n)) not in drop and k not in listed]


@functools.lru_cache(maxsize=4096)
def _lower(name: bytes) -> bytes:
    return name.lower()


@functools.lru_cache(maxsize=4096)
def _text(name: bytes) -> str:
    return name.decode("latin-1")
