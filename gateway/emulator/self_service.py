"""Kratos' browser self-service beyond login: content negotiation, errors forwarded to the
error UI, and the browser logout flow (Kratos v26.2.0 `selfservice/errorx`,
`selfservice/flow/logout`, `x/isjsonrequest.go`).

- A browser request that fails is not answered with JSON: the error is stored in an error
  container and the browser is sent (303) to ``<base>/ui/error?id=<container>``; the UI
  reads it from ``GET /self-service/errors?id=`` (`flowError`). A JSON request gets the
  herodot error itself.
- ``GET /self-service/logout/browser`` (`createBrowserLogoutFlow`): for the session in the
  request, ``{logout_url, logout_token}``; ``GET /self-service/logout?token=``
  (`updateLogoutFlow`): the token must be the session's; the session is revoked, the cookie
  cleared, and the browser sent to ``return_to`` or the default return URL
  (``<base>/ui/welcome``); 204 for a JSON request.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from gateway.emulator.context import Ctx
from gateway.emulator.errors import herodot, json_response, kratos_not_found
from gateway.emulator.sessions import find_session, is_usable
from gateway.emulator.state import FlowError, Session
from gateway.emulator.timeutil import rfc3339

#: gddo's httputil.NegotiateContentType offers as Kratos' IsJSONRequest uses them
OFFERS = ("text/html", "text/*", "*/*", "application/json")
NO_SESSION = (
    401,
    "request does not have a valid authentication session",
    "No active session was found in this request.",
    "session_inactive",
)
STUB_500 = {
    "code": 500,
    "status": "Internal Server Error",
    "reason": "This is a stub error.",
    "message": "An internal server error occurred, please contact the system administrator",
}


def negotiate(accept: str | None, offers: tuple[str, ...] = OFFERS, default: str = "text/html") -> str:
    """The offer an `Accept` header prefers, as gddo's NegotiateContentType picks it."""
    best, best_q, best_wild = default, -1.0, 3
    specs = _accept_specs(accept or "")
    for offer in offers:
        for value, q in specs:
            if q == 0.0 or q < best_q:
                continue
            if value == "*/*":
                wild = 2
            elif value.endswith("/*"):
                if not offer.startswith(value[:-1]):
                    continue
                wild = 1
            elif value == offer:
                wild = 0
            else:
                continue
            if q > best_q or best_wild > wild:
                best, best_q, best_wild = offer, q, wild
    return best


def _accept_specs(accept: str) -> list[tuple[str, float]]:
    specs: list[tuple[str, float]] = []
    for part in accept.split(","):
        value, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        if value:
            specs.append((value.lower(), q))
    return specs


def is_json_request(ctx: Ctx) -> bool:
    """Kratos' x.IsJSONRequest: JSON preferred by `Accept`, or a body that is exactly JSON."""
    headers = ctx.request.headers
    return negotiate(headers.get("accept")) == "application/json" or headers.get("content-type") == "application/json"


def forward_error(ctx: Ctx, status: int, message: str, reason: str = "", error_id: str = "") -> Response:
    """errorx.Manager.Forward: the herodot error for JSON requests, else a container and a
    303 to the error UI."""
    if is_json_request(ctx):
        return herodot(status, message, reason=reason, error_id=error_id, request_id=ctx.request_id)
    error: dict[str, object] = {"id": error_id} if error_id else {}  # herodot's key order
    error |= {"code": status, "status": HTTPStatus(status).phrase}
    error |= {"reason": reason} if reason else {}
    error["message"] = message
    container = FlowError(str(uuid.uuid4()), error, ctx.now)
    ctx.project.errors[container.id] = container
    return RedirectResponse(f"{ctx.project.base_url}/ui/error?id={container.id}", status_code=303)


async def get_flow_error(ctx: Ctx) -> Response:
    """`GET /self-service/errors?id=` (also `?error=`): the stored error, or `stub:500`."""
    query = ctx.request.query_params
    error_id = query.get("error") or query.get("id") or ""
    if error_id == "stub:500":
        return json_response({"id": str(uuid.uuid4()), "error": STUB_500})
    found = ctx.project.errors.get(error_id)
    if found is None:
        return kratos_not_found(ctx.request_id)
    stamp = rfc3339(found.created_at)
    return json_response({"id": found.id, "error": found.error, "created_at": stamp, "updated_at": stamp})


def _session(ctx: Ctx) -> Session | None:
    session = find_session(ctx.project, {k.lower(): v for k, v in ctx.request.headers.items()})
    return session if session is not None and is_usable(ctx.project, session, ctx.now) else None


async def create_logout_flow(ctx: Ctx) -> Response:
    session = _session(ctx)
    if session is None:
        return forward_error(ctx, *NO_SESSION)
    params = {"token": session.logout_token}
    return_to = ctx.request.query_params.get("return_to")
    if return_to:
        params["return_to"] = return_to
    url = f"{ctx.project.base_url}/self-service/logout?{urlencode(params)}"
    return json_response({"logout_url": url, "logout_token": session.logout_token})


async def logout(ctx: Ctx) -> Response:
    token = ctx.request.query_params.get("token", "")
    if not token:
        bad = "The request was malformed or contained invalid parameters"
        return forward_error(ctx, 400, bad, "Please include a token in the URL query.")
    session = _session(ctx)
    if session is None:
        return forward_error(ctx, *NO_SESSION)
    if session.logout_token != token:
        reason = "Unable to log out because the logout token in the URL query does not match the session cookie."
        return forward_error(ctx, 403, "The requested action was forbidden", reason)
    session.active = False
    response: Response
    if is_json_request(ctx):
        response = Response(status_code=204)
    else:
        target = ctx.request.query_params.get("return_to") or f"{ctx.project.base_url}/ui/welcome"
        response = RedirectResponse(target, status_code=303)
    response.delete_cookie(ctx.project.config.cookie_name, path="/", httponly=True, samesite="lax")
    return response
