"""The gateway's error tree. Every error knows its own HTTP shape.

    GatewayError                      status  code
    ├── BadRequest                    400     bad_request
    ├── Unauthenticated               401     unauthenticated      (no credential)
    │   └── InvalidToken              401     invalid_token        (credential presented, rejected)
    ├── Forbidden                     403     forbidden
    │   ├── CrossOriginRequest        403     cross_origin_request (cookie request from a foreign page)
    │   └── StepUpRequired            403     aal2_required | reauthentication_required (redirect_browser_to)
    ├── NotFound                      404     not_found
    ├── MethodNotAllowed              405     method_not_allowed
    ├── RequestTimeout                408     request_timeout
    ├── PayloadTooLarge               413     payload_too_large
    ├── UnsupportedMediaType          415     unsupported_media_type
    ├── TooManyRequests               429     rate_limited         (Retry-After; a route's limit: RateLimit fields)
    │   ├── TooManyAttempts           429     too_many_attempts    (unknown credentials of one address, over budget)
    │   └── StreamShareUsed           429     too_many_streams     (the principal's own share of open streams)
    ├── HeadersTooLarge               431     headers_too_large
    ├── BadGateway                    502     bad_gateway          (upstream unreachable)
    ├── ServiceUnavailable            503     ory_unavailable      (Retry-After; Ory down, never 401)
    │   ├── TooManyStreams            503     too_many_streams     (the process's or the tenant's streams all open)
    │   ├── OrySaturated              503     ory_saturated        (no free slot in the tenant's own Ory pool in time)
    │   └── RedisUnavailable          503     redis_unavailable    (a revocation not fanned out)
    ├── GatewayTimeout                504     upstream_timeout
    ├── LabelError                    400 403 415 502, the rule's code (a label rule refused it)
    └── NotVisible                    the upstream's own "missing" answer (another organization's run)

Foreign exceptions (aiohttp, httpx, json) are translated into these once, at the
boundary where they happen (`raise ... from exc`); the ASGI app renders them.

Not answers to a request, so not in this tree: `gateway.config.problems.ConfigError`
(start-up and `gateway check`, one line per problem; in `config`, which imports nothing
of the rest), `gateway.ory.client_credentials.TokenError` (the gateway's own tokens),
and the value errors the loaders turn into `ConfigError` lines (route patterns,
permission templates, label profiles).
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


class StepUpRequired(Forbidden):
    """The session is not strong or not recent enough: a second factor is wanted (`aal2`, or
    `enroll` one first) or the password again (`refresh`). Kratos' whoami 403s and a route's
    `aal` / `max_age` raise it; never cached. Its JSON carries `redirect_browser_to` once
    `located` (the tenant's login, `gateway.front.login.step_up`); a browser navigation is
    sent there instead (303, with `return_to` the page)."""

    def __init__(self, description: str, *, need: str, reason: str, redirect_browser_to: str = "") -> None:
        super().__init__(description, reason=reason)
        self.need = need
        self.code = "reauthentication_required" if need == "refresh" else "aal2_required"
        self.redirect_browser_to = redirect_browser_to
        self.extra = {"reason": reason, **({"redirect_browser_to": redirect_browser_to} if redirect_browser_to else {})}

    def located(self, redirect_browser_to: str) -> StepUpRequired:
        """The same demand, naming where a browser goes to meet it."""
        return StepUpRequired(
            self.description, need=self.need, reason=self.reason, redirect_browser_to=redirect_browser_to
        )


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
    def __init__(
        self,
        description: str,
        *,
        retry_after: int = 1,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description, reason=reason, headers=headers)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {**self._headers, "retry-after": str(self.retry_after)}


class TooManyRequests(_RetryAfter):
    status, code = 429, "rate_limited"


class TooManyAttempts(TooManyRequests):
    """This address sent more unknown credentials for the tenant than GATEWAY_AUTH_FAILURES_PER_MINUTE
    allows: refused without asking Ory."""

    code = "too_many_attempts"


class StreamShareUsed(TooManyRequests):
    """The caller holds GATEWAY_MAX_STREAMS_PER_PRINCIPAL open streams already."""

    code = "too_many_streams"


class HeadersTooLarge(GatewayError):
    status, code = 431, "headers_too_large"


class BadGateway(GatewayError):
    status, code = 502, "bad_gateway"


class ServiceUnavailable(_RetryAfter):
    status, code = 503, "ory_unavailable"


class TooManyStreams(ServiceUnavailable):
    """GATEWAY_MAX_STREAMS long-lived responses are open already, or the tenant's
    GATEWAY_MAX_STREAMS_PER_TENANT (503, Retry-After)."""

    code = "too_many_streams"


class OrySaturated(ServiceUnavailable):
    """Every slot of the tenant's own Ory pool stayed busy past its short wait: the gateway's
    own bound, never a sign that Ory is down (nor is it counted as one)."""

    code = "ory_saturated"


class RedisUnavailable(ServiceUnavailable):
    """A revocation was applied on this replica only: Redis could not tell the others."""

    code = "redis_unavailable"


class GatewayTimeout(GatewayError):
    status, code = 504, "upstream_timeout"


class LabelError(GatewayError):
    """A request (or upstream answer) the label rules refuse (`gateway.labels`).

    ``status`` is the HTTP status to answer with, ``code`` a stable machine id (e.g.
    ``duplicate_key``, also the reason), ``description`` one human sentence that never
    echoes another organization's data.
    """

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description, reason=code)
        self.status, self.code = status, code

    def __repr__(self) -> str:
        return f"LabelError({self.status!r}, {self.code!r}, {self.description!r})"


class NotVisible(GatewayError):
    """Another organization's resource: answered exactly as the upstream answers a missing
    one (its status, body and content type), so that the answer is no existence oracle."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__("not found", reason="run_not_visible")
        self.status, self.code, self._body, self.content_type = status, "not_found", body, content_type

    def body(self, request_id: str = "") -> bytes:
        return self._body
