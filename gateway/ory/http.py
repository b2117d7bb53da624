"""The Ory boundary: every call the gateway makes to Kratos, Hydra or Keto while serving a
request goes through here (authenticators, the client-organization lookup, JWKS, identity
lookups, Keto checks, the OAuth2 relay), and here, once, httpx errors and Ory's failure
statuses become ours. The tenant health probe calls through `ory_request` too; `gateway
token`'s OAuth2 client is authlib's, which reports to `check_status` and `transport_error`
(`gateway.ory.client_credentials`).

Every call goes through its tenant's `OryPool` (`gateway.ory.pool`): a slot first (503
`ory_saturated` when none frees up in time), then the call on the tenant's own connections;
its outcome is recorded in the tenant's health (`gateway.ory.health`).

Outages fail closed: a timeout, a connection error, a 5xx, an unexpected status or a body
that is not a JSON object becomes `ServiceUnavailable` (503, Retry-After); Ory's 429 becomes
`TooManyRequests` with Ory's Retry-After. Never 401 for an outage.

Requests never follow redirects and never carry the shared client's cookie jar: the only
Cookie header sent is the one the caller passes (the browser's, to the tenant's Kratos).

Every call carries the gateway's W3C `traceparent` (a caller's `traceparent` header is
replaced) and, when spans are exported, is a client span `<service> <operation>`
(`kratos whoami`, `hydra introspect`, `keto permission_check`, ...; `operation` names it)
under the active span: calls added later are traced by going through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from gateway.errors import ServiceUnavailable, TooManyRequests
from gateway.observe import tracing
from gateway.ory.pool import OryPool

#: Retry-After (seconds) sent with a 503 when Ory is unreachable or misbehaves
OUTAGE_RETRY_AFTER = 2
#: Retry-After when Ory answers 429 without a usable Retry-After header
DEFAULT_RATE_RETRY_AFTER = 1


async def ory_request(
    pool: OryPool,
    method: str,
    url: str,
    *,
    service: str,
    timeout: float,
    headers: Mapping[str, str],
    form: Mapping[str, str] | None = None,
    content: bytes | None = None,
    params: Mapping[str, str | int] | None = None,
    relay_rate_limit: bool = False,
) -> httpx.Response:
    """Send one request to Ory; 429 and 5xx are raised, every other status is returned.

    With `relay_rate_limit`, Ory's 429 is returned too (the OAuth2 relay passes it back
    as Hydra sent it, Retry-After included)."""
    http = pool.http
    request = http.build_request(
        method, url, headers=dict(headers), data=form, content=content, params=params, timeout=timeout
    )
    if "cookie" not in {k.lower() for k in headers}:
        request.headers.pop("cookie", None)  # never the client's jar
    await pool.acquire()  # the tenant's own slots: `ory_saturated` after a short wait, not blamed on Ory
    try:
        with tracing.ory_span(service, operation(request.url.path), method) as call:
            request.headers.update(tracing.outgoing_text())  # this call's span is the parent Ory sees
            try:
                response = await http.send(request, follow_redirects=False)
            except httpx.HTTPError as exc:
                error = transport_error(exc, service)
                pool.health.record(service, error.description)
                raise error from exc
            call.response(response.status_code)
            pool.health.record(service, failure(response))
            check_status(response, service, relay_rate_limit=relay_rate_limit)
    finally:
        pool.release()
    return response


def failure(response: httpx.Response) -> str:
    """Why an answer means the service is not serving ("" when it is)."""
    status = response.status_code
    if status == 429:
        return "rate limiting (429)"
    return f"answered {status}" if status >= 500 else ""


def operation(path: str) -> str:
    """A bounded name for an Ory call (metrics label, span name)."""
    for part, name in _OPERATIONS:
        if part in path:
            return name
    return "other"


_OPERATIONS = (
    ("/sessions/whoami", "whoami"),
    ("/oauth2/introspect", "introspect"),
    ("/oauth2/token", "token"),
    ("/jwks.json", "jwks"),
    ("/openid-configuration", "discovery"),
    ("/admin/clients", "client"),
    ("/admin/identities", "identity"),
    ("/relation-tuples/check", "permission_check"),  # Keto (Ory Permissions)
    ("/relation-tuples/batch/check", "permission_check"),
    ("/relation-tuples/expand", "permission_expand"),
    ("/relation-tuples", "relationships"),
    ("/health/alive", "health"),  # the tenant probe (`gateway.ory.probe`)
)


def transport_error(exc: httpx.HTTPError, service: str) -> ServiceUnavailable:
    """A call that got no answer: timed out or could not connect."""
    if isinstance(exc, httpx.TimeoutException):
        return outage(service, "timed out", "ory_timeout")
    return outage(service, "is unreachable", "ory_unreachable")


def check_status(response: httpx.Response, service: str, *, relay_rate_limit: bool = False) -> None:
    """Raise for Ory's 429 (`TooManyRequests` with its Retry-After) and 5xx (503)."""
    if response.status_code == 429 and not relay_rate_limit:
        raise TooManyRequests(
            f"{service} is rate limiting, retry later",
            retry_after=retry_after(response, DEFAULT_RATE_RETRY_AFTER),
            reason="ory_rate_limited",
        )
    if response.status_code >= 500:
        raise outage(service, f"answered {response.status_code}", "ory_error")


def json_value(response: httpx.Response, service: str) -> Any:
    """The response body as JSON, or 503: garbage from Ory is an outage."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise outage(service, "sent a body that is not JSON", "ory_garbage") from exc


def json_object(response: httpx.Response, service: str) -> dict[str, Any]:
    """The response body as a JSON object, or 503."""
    doc = json_value(response, service)
    if not isinstance(doc, dict):
        raise outage(service, "sent a body of the wrong shape", "ory_garbage")
    return doc


def wrong_shape(service: str, what: str) -> ServiceUnavailable:
    return outage(service, f"sent {what} of the wrong shape", "ory_garbage")


def unexpected(response: httpx.Response, service: str) -> ServiceUnavailable:
    return outage(service, f"answered an unexpected {response.status_code}", "ory_unexpected_status")


def outage(service: str, what: str, reason: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"the identity service ({service}) {what}", retry_after=OUTAGE_RETRY_AFTER, reason=reason)


def retry_after(response: httpx.Response, default: int) -> int:
    """Ory's Retry-After in whole seconds (1 to a day); `default` when absent or not a number."""
    raw = response.headers.get("retry-after", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 86_400 else default
