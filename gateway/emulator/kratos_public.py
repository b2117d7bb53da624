"""Kratos public API: login flow creation and lookup (native and browser), native logout,
the identity schema and health. Submissions are `gateway.emulator.login`, whoami is
`gateway.emulator.whoami`.

Flows behave as Kratos v26.2.0's (`selfservice/flow/login/handler.go` NewLoginFlow):
`?aal=aal2` asks an existing session for its second factor (without a session: 401
`session_aal1_required`; an identity without a second factor: 403
`session_aal2_enrollment_required`, as Ory Network documents it); `?refresh=true` asks a
signed-in person for the password again; any other request of a signed-in caller is
`session_already_available` (a browser is sent on to `return_to`). JSON clients
(x.IsJSONRequest) get the JSON; browsers are redirected.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from gateway.emulator import aal, flows
from gateway.emulator.context import BodyError, Ctx
from gateway.emulator.errors import herodot, json_response, kratos_bad_request, kratos_not_found
from gateway.emulator.self_service import forward_error, is_json_request
from gateway.emulator.sessions import find_session, is_usable
from gateway.emulator.state import LoginFlow, Session

CSRF_REASON = (
    "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from "
    "Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and "
    "other serious security issues."
)
GONE = "The requested resource is no longer available because it has expired or is otherwise invalid."
ALREADY = (
    400,
    "you are already logged in",
    "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?",
    "session_already_available",
)
AAL1_REQUIRED = (
    401,
    "aal2 and aal3 can only be requested if a session exists already",
    "You can not requested a higher AAL (AAL2/AAL3) without an active session.",
    "session_aal1_required",
)
TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool


class FlowRefused(Exception):
    """NewLoginFlow's errors: (status, message, reason, error id), or a Refusal to redirect."""

    def __init__(self, error: tuple[int, str, str, str] | aal.Refusal) -> None:
        super().__init__(error)
        self.error = error


def usable_session(ctx: Ctx) -> Session | None:
    session = find_session(ctx.project, {k.lower(): v for k, v in ctx.request.headers.items()})
    return session if session is not None and is_usable(ctx.project, session, ctx.now) else None


def _new_flow(ctx: Ctx, flow_type: str, return_to: str | None, csrf: str = "") -> LoginFlow:
    """NewLoginFlow: the flow the query (`aal`, `refresh`) and the caller's session call for;
    raises FlowRefused."""
    query = ctx.request.query_params
    requested, refresh = query.get("aal") or "aal1", query.get("refresh", "") in TRUE
    if requested not in ("aal1", "aal2"):
        reason = f"Unable to parse AuthenticationMethod Assurance Level (AAL): unknown value {requested!r}"
        raise FlowRefused((400, "The request was malformed or contained invalid parameters", reason, ""))
    session = usable_session(ctx)
    if session is None and requested == "aal2":
        raise FlowRefused(AAL1_REQUIRED)
    if session is not None and not refresh and (requested == "aal1" or session.aal == "aal2"):
        raise FlowRefused(ALREADY)
    identity = ctx.project.identities[session.identity_id] if session is not None else None
    if identity is not None and requested == "aal2" and not identity.second_factors:
        raise FlowRefused(aal.enrollment_required(ctx.project))
    flow = flows.new_flow(ctx.project, flow_type, ctx.now, str(ctx.request.url), return_to, csrf)
    flow.requested_aal, flow.refresh = requested, refresh and session is not None
    if identity is not None and flow.refresh:
        flow.messages.append(flows.REAUTHENTICATE)
        flow.identifier = identity.identifiers[0] if identity.identifiers else ""
    if identity is not None and requested == "aal2":
        flow.second_factors = identity.second_factors
        flow.messages += [flows.SECOND_FACTOR] if session is not None and session.aal != "aal2" else []
    return flow


def _refused_json(ctx: Ctx, refused: FlowRefused) -> Response:
    if isinstance(refused.error, aal.Refusal):
        return refused.error.response(ctx.request_id)
    status, message, reason, error_id = refused.error
    return herodot(status, message, reason=reason, error_id=error_id, request_id=ctx.request_id)


async def create_api_flow(ctx: Ctx) -> Response:
    try:
        flow = _new_flow(ctx, "api", None)
    except FlowRefused as refused:
        return _refused_json(ctx, refused)
    return json_response(flows.flow_json(ctx.project, flow))


def _browser_refused(ctx: Ctx, refused: FlowRefused, return_to: str | None) -> Response:
    """createBrowserLoginFlow's answers to NewLoginFlow's errors: a signed-in browser is sent on
    (to `return_to`, else the default return URL); the others go to the error UI."""
    if is_json_request(ctx):
        return _refused_json(ctx, refused)
    if refused.error == ALREADY:
        return RedirectResponse(return_to or f"{ctx.project.base_url}/ui/welcome", status_code=303)
    if isinstance(refused.error, aal.Refusal):
        error = refused.error
        return forward_error(ctx, 403, error.message, error.reason, error.error_id)
    return forward_error(ctx, *refused.error)


async def create_browser_flow(ctx: Ctx) -> Response:
    return_to = ctx.request.query_params.get("return_to")
    csrf = ctx.request.cookies.get(flows.csrf_cookie_name(ctx.project), "")
    try:
        flow = _new_flow(ctx, "browser", return_to, csrf)
    except FlowRefused as refused:
        return _browser_refused(ctx, refused, return_to)
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


def csrf_violation(ctx: Ctx) -> Response:
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
        return csrf_violation(ctx)
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


async def tokenizer_jwks(ctx: Ctx) -> Response:
    """The public key of a tokenizer template (not an Ory path: the emulator publishes what a
    self-hosted operator or Ory Network's console would hand out for verifying session JWTs)."""
    template = ctx.project.config.tokenizer_templates.get(ctx.params["template"])
    if template is None:
        return kratos_not_found(ctx.request_id)
    return json_response(template.public_jwks())


async def health(ctx: Ctx) -> Response:
    return json_response({"status": "ok"})
