"""The gateway's error tree. Every error knows its own HTTP shape.

    GatewayError                      status  code
    ├── BadRequest                    400     bad_request
    ├── Unauthenticated               401     unauthenticated      (no credential)
    │   └── InvalidToken              401     invalid_token        (credential presented, rejected)
    ├── Forbidden                     403     forbidden
    │   └── CrossOriginRequest        403     cross_origin_request (cookie request from a foreign page)
    ├── NotFound                      404     not_found
    ├── MethodNotAllowed              405     method_not_allowed
    ├── RequestTimeout                408     request_timeout
    ├── PayloadTooLarge               413     payload_too_large
    ├── UnsupportedMediaType          415     unsupported_media_type
    ├── TooManyRequests               429     rate_limited         (Retry-After)
    ├── HeadersTooLarge               431     headers_too_large
    ├── BadGateway                    502     bad_gateway          (upstream unreachable)
    ├── ServiceUnavailable            503     ory_unavailable      (Retry-After; Ory down, never 401)
    └── GatewayTimeout                504     upstream_timeout

Foreign exceptions (aiohttp, httpx, json) are translated into these once, at the
boundary where they happen (`raise ... from exc`); the ASGI app renders them.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson


class GatewayError(Exception):
    status: int = 500
    code: str = "internal_error"
    #: a fixed, loggable reason id (Oathkeeper-style); defaults to `code`
    reason: str = ""

    def __init__(
        self,
        description: str,
        *,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.reason = reason or self.reason or self.code
        self._headers = dict(headers or {})
        self.extra = dict(extra or {})

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def body(self, request_id: str = "") -> bytes:
        doc: dict[str, object] = {"error": self.code, "error_description": self.description}
        doc.update(self.extra)
        if request_id:
            doc["request_id"] = request_id
        return orjson.dumps(doc)


class BadRequest(GatewayError):
    status, code = 400, "bad_request"


class Unauthenticated(GatewayError):
    """No usable credential was presented (RFC 6750 section 3: no error code)."""

    status, code = 401, "unauthenticated"

    def __init__(self, description: str, *, realm: str, reason: str | None = None) -> None:
        super().__init__(description, reason=reason)
        self.realm = realm

    def headers(self) -> dict[str, str]:
        return {"www-authenticate": f'Bearer realm="{self.realm}"'}


class InvalidToken(Unauthenticated):
    """A credential was presented and rejected."""

    code = "invalid_token"

    def headers(self) -> dict[str, str]:
        desc = self.description.replace('"', "'")
        return {"www-authenticate": f'Bearer realm="{self.realm}", error="invalid_token", error_description="{desc}"'}


class Forbidden(GatewayError):
    status, code = 403, "forbidden"


class CrossOriginRequest(Forbidden):
    """A request authenticated by the session cookie that changes state (or a WebSocket
    handshake) from a page that is neither this site nor a trusted origin (CSRF, CSWSH)."""

    code = "cross_origin_request"


class NotFound(GatewayError):
    status, code = 404, "not_found"


class MethodNotAllowed(GatewayError):
    status, code = 405, "method_not_allowed"

    def __init__(self, description: str, *, allowed: frozenset[str]) -> None:
        super().__init__(description)
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"allow": ", ".join(sorted(self.allowed))}


class RequestTimeout(GatewayError):
    status, code = 408, "request_timeout"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status, code = 415, "unsupported_media_type"


class _RetryAfter(GatewayError):
    def __init__(self, description: str, *, retry_after: int = 1, reason: str | None = None) -> None:
        super().__init__(description, reason=reason)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {**self._headers, "retry-after": str(self.retry_after)}


class TooManyRequests(_RetryAfter):
    status, code = 429, "rate_limited"


class HeadersTooLarge(GatewayError):
    status, code = 431, "headers_too_large"


class BadGateway(GatewayError):
    status, code = 502, "bad_gateway"


class ServiceUnavailable(_RetryAfter):
    status, code = 503, "ory_unavailable"


class GatewayTimeout(GatewayError):
    status, code = 504, "upstream_timeout"


class ConfigError(Exception):
    """Start-up configuration problems; one line per problem, all of them at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
