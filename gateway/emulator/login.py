"""`POST /self-service/login?flow=` (updateLoginFlow) as Kratos v26.2.0 handles it
(`selfservice/flow/login/handler.go`, `hook.go`, the password, totp and lookup_secret strategies).

- A signed-in caller may only submit a refresh flow or one asking for more than its session
  has; otherwise `session_already_available` (a browser goes to the default return URL). An
  aal2 flow without a session is `session_aal1_required`.
- The flow's `method` picks the strategy: `password` for aal1 flows, `totp` / `lookup_secret`
  for aal2 flows; a failure stays on the flow (a browser goes back to the form with the
  message, a JSON client gets the flow with 400).
- Success (PostLoginHook): a password login of someone else makes a new session; otherwise the
  caller's session gains the method and is activated again (same id and token, a new
  `authenticated_at` and lifespan). Browsers get the cookie and go to `return_to`, unless the
  session still needs its second factor (`required_aal: highest_available`): then to
  `/self-service/login/browser?aal=aal2` with the same `return_to` (a JSON client: 422
  `browser_location_change_required`; a native client gets the session without its identity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import RedirectResponse, Response

from gateway.emulator import aal, flows, second_factor
from gateway.emulator.context import BodyError, Ctx
from gateway.emulator.errors import herodot, json_response, kratos_bad_request, kratos_not_found
from gateway.emulator.identities import check_password, find_by_identifier
from gateway.emulator.kratos_public import (
    AAL1_REQUIRED,
    ALREADY,
    CSRF_REASON,
    csrf_ok,
    csrf_violation,
    ui_url,
    usable_session,
)
from gateway.emulator.self_service import forward_error, is_json_request
from gateway.emulator.sessions import complete_method, issue_session, session_json, set_session_cookie
from gateway.emulator.state import Identity, LoginFlow, Session
from gateway.emulator.timeutil import rfc3339

#: a strategy's outcome: the session signed in, or the message the flow keeps
Outcome = Session | dict[str, Any]
Strategy = Callable[[Ctx, dict[str, str], Session | None], Outcome]


def _password(ctx: Ctx, fields: dict[str, str], session: Session | None) -> Outcome:
    identifier = fields.get("identifier") or fields.get("password_identifier") or ""
    identity = find_by_identifier(ctx.project, identifier)
    if (
        identity is None
        or identity.state != "active"
        or not check_password(fields.get("password", ""), identity.password_hash)
    ):
        return flows.INVALID_CREDENTIALS
    if session is not None and session.identity_id == identity.id:
        complete_method(ctx.project, session, "password", "aal1", ctx.now)
        return session
    client = ctx.request.client.host if ctx.request.client else None
    return issue_session(ctx.project, identity, ctx.now, client, ctx.request.headers.get("user-agent"))


def _second_factor(check: Callable[[Ctx, Identity, dict[str, str]], dict[str, Any] | None], method: str) -> Strategy:
    def strategy(ctx: Ctx, fields: dict[str, str], session: Session | None) -> Outcome:
        assert session is not None  # an aal2 flow is only submitted with a session
        problem = check(ctx, ctx.project.identities[session.identity_id], fields)
        if problem is not None:
            return problem
        complete_method(ctx.project, session, method, "aal2", ctx.now)
        return session

    return strategy


def _check_totp(ctx: Ctx, identity: Identity, fields: dict[str, str]) -> dict[str, Any] | None:
    if identity.totp_secret is None:
        return flows.NO_TOTP
    ok = second_factor.verify_totp(identity, fields.get("totp_code", ""), ctx.now)
    return None if ok else second_factor.TOTP_WRONG


def _check_lookup(ctx: Ctx, identity: Identity, fields: dict[str, str]) -> dict[str, Any] | None:
    if not identity.lookup_codes:
        return flows.NO_LOOKUP
    return second_factor.use_lookup_code(identity, fields.get("lookup_secret", ""), ctx.now)


#: (requested AAL, method) -> strategy
STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("aal1", "password"): _password,
    ("aal2", "totp"): _second_factor(_check_totp, "totp"),
    ("aal2", "lookup_secret"): _second_factor(_check_lookup, "lookup_secret"),
}


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
    flow.messages = [message]
    flow.identifier = identifier or flow.identifier
    if flow.type == "browser" and not is_json_request(ctx):
        return RedirectResponse(ui_url(ctx, flow), status_code=303)
    return json_response(flows.flow_json(ctx.project, flow), 400)


def _flow_error(ctx: Ctx, flow: LoginFlow, error: tuple[int, str, str, str]) -> Response:
    """A flow error that is not a message on the flow (WriteFlowError with a herodot error)."""
    status, message, reason, error_id = error
    if flow.type == "api" or is_json_request(ctx):
        return herodot(status, message, reason=reason, error_id=error_id, request_id=ctx.request_id)
    if error == ALREADY:
        return RedirectResponse(f"{ctx.project.base_url}/ui/welcome", status_code=303)
    return forward_error(ctx, status, message, reason, error_id)


def _succeeded(ctx: Ctx, flow: LoginFlow, session: Session) -> Response:
    identity = ctx.project.identities[session.identity_id]
    satisfied = aal.satisfies_aal(ctx.project, session, identity)
    body = session_json(ctx.project, session, ctx.now)
    ctx.project.flows.pop(flow.id, None)
    if flow.type == "api":
        if not satisfied:  # Kratos leaves the identity out until the second factor is done
            del body["identity"]
        return json_response({"session_token": session.token, "session": body})
    step_up = aal.aal2_required(ctx.project, flow.return_to).redirect_to
    response: Response
    if is_json_request(ctx):
        response = json_response({"session": body}) if satisfied else _location_change(ctx, step_up)
    else:
        target = flow.return_to or f"{ctx.project.base_url}/ui/welcome"
        response = RedirectResponse(target if satisfied else step_up, status_code=303)
    set_session_cookie(response, ctx.project, session, ctx.now)
    return response


def _location_change(ctx: Ctx, url: str) -> Response:
    reason = f"In order to complete this flow please redirect the browser to: {url}"
    error_id = "browser_location_change_required"
    message = "browser location change required"
    extra = {"redirect_browser_to": url}
    return herodot(422, message, error_id=error_id, reason=reason, request_id=ctx.request_id, extra=extra)


def _session_gate(ctx: Ctx, flow: LoginFlow) -> tuple[Session | None, Response | None]:
    """The caller's session, or why this flow may not be submitted by this caller."""
    session = usable_session(ctx)
    if session is not None and not flow.refresh and (flow.requested_aal == "aal1" or session.aal == "aal2"):
        return session, _flow_error(ctx, flow, ALREADY)
    if session is None and flow.requested_aal == "aal2":
        return None, _flow_error(ctx, flow, AAL1_REQUIRED)
    return session, None


async def _checked_fields(ctx: Ctx, flow: LoginFlow) -> dict[str, str] | Response:
    try:
        fields = await ctx.fields()
    except BodyError as exc:
        return kratos_bad_request(str(exc), ctx.request_id)
    if flow.type == "browser" and not csrf_ok(ctx, flow, fields.get("csrf_token")):
        if is_json_request(ctx):
            return csrf_violation(ctx)
        message = "the request was rejected to protect you from Cross-Site-Request-Forgery"
        return forward_error(ctx, 403, message, CSRF_REASON, "security_csrf_violation")
    return fields


async def submit_login(ctx: Ctx) -> Response:
    flow_id = ctx.request.query_params.get("flow")
    if not flow_id:
        return kratos_bad_request("The flow query parameter is missing or malformed.", ctx.request_id)
    flow = ctx.project.flows.get(flow_id)
    if flow is None:
        return kratos_not_found(ctx.request_id)
    if ctx.now >= flow.expires_at:
        return _expired(ctx, flow)
    fields = await _checked_fields(ctx, flow)
    if isinstance(fields, Response):
        return fields
    session, refused = _session_gate(ctx, flow)
    if refused is not None:
        return refused
    identifier = fields.get("identifier") or fields.get("password_identifier") or ""
    strategy = STRATEGIES.get((flow.requested_aal, fields.get("method", "")))
    if strategy is None:
        return _flow_failed(ctx, flow, flows.NO_STRATEGY, identifier)
    outcome = strategy(ctx, fields, session)
    if isinstance(outcome, dict):
        return _flow_failed(ctx, flow, outcome, identifier)
    return _succeeded(ctx, flow, outcome)
