"""Kratos public API: login flows (native and browser), whoami and native logout.

Browser flows behave as Kratos v26.2.0's (`selfservice/flow/login/handler.go`, `error.go`):
a form post that fails goes back (303) to the login UI with the flow carrying the message;
an expired flow is replaced by a new one that says so; a CSRF failure goes to the error UI
(`gateway.emulator.self_service`). JSON clients (x.IsJSONRequest) get the JSON instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from gateway.emulator import flows
from gateway.emulator.context import BodyError, Ctx
from gateway.emulator.errors import herodot, json_response, kratos_bad_request, kratos_not_found
from gateway.emulator.identities import check_password, find_by_identifier
from gateway.emulator.self_service import forward_error, is_json_request
from gateway.emulator.sessions import encode_cookie, find_session, is_usable, issue_session, session_json
from gateway.emulator.state import LoginFlow, Session
from gateway.emulator.timeutil import rfc3339

WHOAMI_401_REASON = "No valid session credentials found in the request."
AAL_REASON = (
    "An active session was found but it does not fulfill the requested Authenticator Assurance Level. "
    "Please verify yourself with a second factor to resolve this issue."
)
CSRF_REASON = (
    "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from "
    "Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and "
    "other serious security issues."
)


GONE = "The requested resource is no longer available because it has expired or is otherwise invalid."


async def create_api_flow(ctx: Ctx) -> Response:
    flow = flows.new_flow(ctx.project, "api", ctx.now, str(ctx.request.url), None)
    return json_response(flows.flow_json(ctx.project, flow))


async def create_browser_flow(ctx: Ctx) -> Response:
    return_to = ctx.request.query_params.get("return_to")
    csrf = ctx.request.cookies.get(flows.csrf_cookie_name(ctx.project), "")
    flow = flows.new_flow(ctx.project, "browser", ctx.now, str(ctx.request.url), return_to, csrf)
    response: Response
    if is_json_request(ctx):
        response = json_response(flows.flow_json(ctx.project, flow))
    else:
        response = RedirectResponse(ui_url(ctx, flow), status_code=303)
    response.set_cookie(flows.csrf_cookie_name(ctx.project), flow.csrf_token, path="/", httponly=True, samesite="lax")
    return response


def ui_url(ctx: Ctx, flow: LoginFlow) -> str:
    """The login UI for `flow` (selfservice.flows.login.ui_url: the Account Experience)."""
    return f"{ctx.project.base_url}/ui/login?flow={flow.id}"


def init_url(ctx: Ctx, return_to: str | None) -> str:
    """Where a browser starts a new login flow (flow.GetFlowExpiredRedirectURL)."""
    query = f"?{urlencode({'return_to': return_to})}" if return_to else ""
    return f"{ctx.project.base_url}/self-service/login/browser{query}"


def csrf_ok(ctx: Ctx, flow: LoginFlow, sent: str | None = None) -> bool:
    """The browser's anti-CSRF cookie matches the flow (and the form's token, when one is sent)."""
    cookie = ctx.request.cookies.get(flows.csrf_cookie_name(ctx.project), "")
    return bool(flow.csrf_token) and cookie == flow.csrf_token and (sent is None or sent == flow.csrf_token)


def _csrf_violation(ctx: Ctx) -> Response:
    return herodot(
        403,
        "the request was rejected to protect you from Cross-Site-Request-Forgery",
        error_id="security_csrf_violation",
        reason=CSRF_REASON,
        request_id=ctx.request_id,
    )


async def get_flow(ctx: Ctx) -> Response:
    """`GET /self-service/login/flows?id=`: unknown 404, a browser flow without its anti-CSRF
    cookie 403, expired 410 with where to start again (getLoginFlow)."""
    flow_id = ctx.request.query_params.get("id")
    flow = ctx.project.flows.get(flow_id or "")
    if flow is None:
        return kratos_not_found(ctx.request_id)
    if flow.type == "browser" and not csrf_ok(ctx, flow):
        return _csrf_violation(ctx)
    if ctx.now >= flow.expires_at:
        if flow.type == "browser":
            reason = (
                "The login flow has expired. "
                "Redirect the user to the login flow init endpoint to initialize a new login flow."
            )
            details = {"redirect_to": init_url(ctx, flow.return_to), "return_to": flow.return_to or ""}
        else:
            reason = "The login flow has expired. Call the login flow init API endpoint to initialize a new login flow."
            details = {"api": f"{ctx.project.base_url}/self-service/login/api"}
        error_id = "self_service_flow_expired"
        return herodot(410, GONE, error_id=error_id, reason=reason, details=details, request_id=ctx.request_id)
    return json_response(flows.flow_json(ctx.project, flow))


def _expired(ctx: Ctx, flow: LoginFlow) -> Response:
    """A submission to an expired flow (login.ErrorHandler): a replacement flow telling so;
    a browser is sent to it, a JSON client gets 410 with `use_flow_id`."""
    fresh = flows.replace_expired(ctx.project, flow, ctx.now)
    if flow.type == "browser" and not is_json_request(ctx):
        return RedirectResponse(ui_url(ctx, fresh), status_code=303)
    minutes = (ctx.now - flow.expires_at) / 60
    error = {
        "id": "self_service_flow_expired",
        "code": 410,
        "status": "Gone",
        "reason": f"The self-service flow expired {minutes:.2f} minutes ago, initialize a new one.",
        "message": "self-service flow expired",
    }
    body = {
        "error": error,
        "expired_at": rfc3339(flow.expires_at),
        "since": int((ctx.now - flow.expires_at) * 1e9),
        "use_flow_id": fresh.id,
    }
    return json_response(body, 410, {"Ory-Error-Id": "self_service_flow_expired"}, media_type="application/json")


def _flow_failed(ctx: Ctx, flow: LoginFlow, message: dict[str, Any], identifier: str) -> Response:
    """A validation failure: the flow keeps the message and the identifier typed; a browser
    goes back to the form, a JSON client gets the flow with 400."""
    flow.messages, flow.identifier = [message], identifier
    if flow.type == "browser" and not is_json_request(ctx):
        return RedirectResponse(ui_url(ctx, flow), status_code=303)
    return json_response(flows.flow_json(ctx.project, flow), 400)


def _login_succeeded(ctx: Ctx, flow: LoginFlow, session: Session) -> Response:
    body = session_json(ctx.project, session, ctx.now)
    ctx.project.flows.pop(flow.id, None)
    if flow.type == "api":
        return json_response({"session_token": session.token, "session": body})
    response: Response = (
        json_response({"session": body})
        if is_json_request(ctx)
        else RedirectResponse(flow.return_to or f"{ctx.project.base_url}/ui/welcome", status_code=303)
    )
    max_age = int(session.expires_at - ctx.now)
    response.set_cookie(
        ctx.project.config.cookie_name,
        encode_cookie(ctx.project, session),
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
    )
    return response


async def submit_login(ctx: Ctx) -> Response:
    flow_id = ctx.request.query_params.get("flow")
    if not flow_id:
        return kratos_bad_request("The flow query parameter is missing or malformed.", ctx.request_id)
    flow = ctx.project.flows.get(flow_id)
    if flow is None:
        return kratos_not_found(ctx.request_id)
    if ctx.now >= flow.expires_at:
        return _expired(ctx, flow)
    try:
        fields = await ctx.fields()
    except BodyError as exc:
        return kratos_bad_request(str(exc), ctx.request_id)
    if flow.type == "browser" and not csrf_ok(ctx, flow, fields.get("csrf_token")):
        if is_json_request(ctx):
            return _csrf_violation(ctx)
        return forward_error(
            ctx,
            403,
            "the request was rejected to protect you from Cross-Site-Request-Forgery",
            CSRF_REASON,
            "security_csrf_violation",
        )
    identifier = fields.get("identifier") or fields.get("password_identifier") or ""
    if fields.get("method") != "password":
        return _flow_failed(ctx, flow, flows.NO_STRATEGY, identifier)
    identity = find_by_identifier(ctx.project, identifier)
    if (
        identity is None
        or identity.state != "active"
        or not check_password(fields.get("password", ""), identity.password_hash)
    ):
        return _flow_failed(ctx, flow, flows.INVALID_CREDENTIALS, identifier)
    session = issue_session(
        ctx.project,
        identity,
        ctx.now,
        ctx.request.client.host if ctx.request.client else None,
        ctx.request.headers.get("user-agent"),
    )
    return _login_succeeded(ctx, flow, session)


def unauthorized(ctx: Ctx) -> Response:
    return herodot(401, "The request could not be authorized", reason=WHOAMI_401_REASON, request_id=ctx.request_id)


def _aal_required(ctx: Ctx) -> Response:
    url = f"{ctx.project.base_url}/self-service/login/browser?aal=aal2"
    return herodot(
        403,
        "Session does not fulfill the requested Authenticator Assurance Level",
        error_id="session_aal2_required",
        reason=AAL_REASON,
        request_id=ctx.request_id,
        details={"redirect_browser_to": url},
        extra={"redirect_browser_to": url},
    )


async def whoami(ctx: Ctx) -> Response:
    session = find_session(ctx.project, {k.lower(): v for k, v in ctx.request.headers.items()})
    if session is None or not is_usable(ctx.project, session, ctx.now):
        return unauthorized(ctx)
    identity = ctx.project.identities[session.identity_id]
    if identity.second_factor and session.aal == "aal1":
        return _aal_required(ctx)
    template = ctx.request.query_params.get("tokenize_as")
    if template is not None:
        return kratos_bad_request(f'Unable to find tokenizer template "{template}".', ctx.request_id)
    headers = {"X-Kratos-Authenticated-Identity-Id": identity.id}
    return json_response(session_json(ctx.project, session, ctx.now), headers=headers)


async def logout_api(ctx: Ctx) -> Response:
    try:
        token = (await ctx.json_object()).get("session_token")
    except BodyError as exc:
        return kratos_bad_request(str(exc), ctx.request_id)
    if not isinstance(token, str) or not token:
        return kratos_bad_request("session_token is required.", ctx.request_id)
    session = ctx.project.session_by_token(token)
    if session is None or not session.active:
        return herodot(
            403,
            "The requested action was forbidden",
            request_id=ctx.request_id,
            reason="The provided Ory Session Token could not be found, is invalid, or otherwise malformed.",
        )
    session.active = False
    return Response(status_code=204)


async def identity_schema(ctx: Ctx) -> Response:
    """The emulator's one trait schema: email / username / phone are password identifiers."""
    identifier = {"ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}}
    traits = {name: {"type": "string", **identifier} for name in ("email", "username", "phone")}
    return json_response(
        {
            "$id": "default",
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Emulator identity",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": traits}},
        }
    )


async def health(ctx: Ctx) -> Response:
    return json_response({"status": "ok"})
