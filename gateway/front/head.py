"""The request head as it arrives, checked before any work: size, framing, Host.

`check_head` runs first for every HTTP request (from `gateway.app`), before the tenant,
the route or any credential is looked at.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import BadRequest, HeadersTooLarge


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
