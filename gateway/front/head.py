"""The request head as it arrives, checked before any work: size, framing, Host.

`check_head` runs first for every HTTP request (from `gateway.app`), before the tenant,
the route or any credential is looked at.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from gateway.errors import BadRequest, HeadersTooLarge
from gateway.front.request import RequestView


def check_head(scope: dict[str, Any], request: RequestView, max_bytes: int) -> None:
    """The request head, before any work, from the request's header index (`RequestView`).

    431 past `max_bytes` (target plus every header line, as received). Then 400 for
    framing two parsers could read two ways (request smuggling): llhttp already refuses
    Content-Length with Transfer-Encoding, duplicate or malformed lengths and codings other
    than a final ``chunked``; on top, the only Transfer-Encoding accepted is exactly
    ``chunked`` (no ``gzip, chunked`` or the obsolete ``identity``: the gateway would
    forward a body whose coding it dropped), and none at all in HTTP/1.0 (RFC 9112 section
    6.1). An HTTP/1.1 request must carry a Host (RFC 9112 section 3.2): which tenant it is
    for must never be a guess.
    """
    headers = request.headers
    # every name and value, joined in C: their length plus ": " and CRLF per line
    size = len(b"".join(chain.from_iterable(headers))) + 4 * len(headers)
    size += len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    if size > max_bytes:
        raise HeadersTooLarge(f"request headers exceed {max_bytes} bytes", reason="headers_too_large")
    http_version = scope.get("http_version", "1.1")
    if b"transfer-encoding" in request.first:
        if http_version == "1.0":
            raise BadRequest("Transfer-Encoding is not allowed in HTTP/1.0", reason="bad_framing")
        if any(value.strip().lower() != b"chunked" for value in request.header_values(b"transfer-encoding")):
            raise BadRequest("the only transfer coding accepted is 'chunked'", reason="bad_framing")
    if b"host" not in request.first and http_version == "1.1":
        raise BadRequest("an HTTP/1.1 request must carry a Host header", reason="missing_host")
