"""Kratos public API: login flows (native and browser), whoami and native logout."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from gateway.emulator import flows
from gateway.emulator.context import BodyError, Ctx
from gateway.emulator.errors import herodot, json_response, kratos_bad_request, kratos_not_found
from gateway.emulator.identities import check_password, find_by_identifier
from gateway.emulator.sessions import encode_cookie, find_session, is_usable, issue_session, session_json
from gateway.emulator.state import LoginFlow, Session

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


def _wants_json(ctx: Ctx) -> bool:
    headers = ctx.request.headers
    return "application/json" in headers.get("accept", "") or "json" in headers.get("content-type", "")


async def create_api_flow(ctx: Ctx) -> Response:
    flow = flows.new_flow(ctx.project, "api", ctx.now, str(ctx.request.url), None)
    return json_response(flows.flow_json(ctx.project, flow))


async def create_browser_flow(ctx: Ctx) -> Response:
    return_to = ctx.request.query_params.get("return_to")
    flow = flows.new_flow(ctx.project, "browser", ctx.now, str(ctx.request.url), return_to)
    response: Response
    if _wants_json(ctx):
        response = json_response(flows.flow_json(ctx.project, flow))
    else:
        response = RedirectResponse(f"{ctx.project.base_url}/ui/login?flow={flow.id}", status_code=303)
    response.set_cookie(flows.csrf_cookie_name(ctx.project), flow.csrf_token, path="/", httponly=True, samesite="lax")
    return response


def _lookup_flow(ctx: Ctx, flow_id: str | None) -> LoginFlow | Response:
    if not flow_id:
        return kratos_bad_request("The flow query parameter is missing or malformed.", ctx.request_id)
    flow = ctx.project.flows.get(flow_id)
    if flow is None:
        return kratos_not_found(ctx.request_id)
    if ctx.now >= flow.expires_at:
        return herodot(
            410,
            "self-service flow expired",
            error_id="self_service_flow_expired",
            reason="The self-service flow expired, initialize a new one.",
            request_id=ctx.request_id,
        )
    return flow


async def get_flow(ctx: Ctx) -> Response:
    found = _lookup_flow(ctx, ctx.request.query_params.get("id"))
    return found if isinstance(found, Response) else json_response(flows.flow_json(ctx.project, found))


def _csrf_ok(ctx: Ctx, flow: LoginFlow, fields: dict[str, str]) -> bool:
    cookie = ctx.request.cookies.get(flows.csrf_cookie_name(ctx.project), "")
    return bool(flow.csrf_token) and fields.get("csrf_token") == flow.csrf_token == cookie


def _login_failed(ctx: Ctx, flow: LoginFlow, identifier: str) -> Response:
    if flow.type == "browser" and not _wants_json(ctx):
        return RedirectResponse(f"{ctx.project.base_url}/ui/login?flow={flow.id}", status_code=303)
    body = flows.flow_json(ctx.project, flow, identifier=identifier, messages=[flows.INVALID_CREDENTIALS])
    return json_response(body, 400)


def _login_succeeded(ctx: Ctx, flow: LoginFlow, session: Session) -> Response:
    body = session_json(ctx.project, session, ctx.now)
    ctx.project.flows.pop(flow.id, None)
    if flow.type == "api":
        return json_response({"session_token": session.token, "session": body})
    response: Response = (
        json_response({"session": body})
        if _wants_json(ctx)
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
    found = _lookup_flow(ctx, ctx.request.query_params.get("flow"))
    if isinstance(found, Response):
        return found
    try:
        fields = await ctx.fields()
    except BodyError as exc:
        return kratos_bad_request(str(exc), ctx.request_id)
    if found.type == "browser" and not _csrf_ok(ctx, found, fields):
        return herodot(
            403,
            "the request was rejected to protect you from Cross-Site-Request-Forgery",
            error_id="security_csrf_violation",
            reason=CSRF_REASON,
            request_id=ctx.request_id,
        )
    if fields.get("method") != "password":
        return kratos_bad_request(
            "Could not find a strategy to log you in with. Did you fill out the form correctly?",
            ctx.request_id,
        )
    identifier = fields.get("identifier") or fields.get("password_identifier") or ""
    identity = find_by_identifier(ctx.project, identifier)
    if (
        identity is None
        or identity.state != "active"
        or not check_password(fields.get("password", ""), identity.password_hash)
    ):
        return _login_failed(ctx, found, identifier)
    session = issue_session(
        ctx.project,
        identity,
        ctx.now,
        ctx.request.client.host if ctx.request.client else None,
        ctx.request.headers.get("user-agent"),
    )
    return _login_succeeded(ctx, found, session)


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
