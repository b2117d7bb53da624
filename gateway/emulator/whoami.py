"""`/sessions/whoami` (toSession) as Kratos v26.2.0's `session/handler.go` answers it, in its order:

1. the session from the request's credentials, else 401 (with `Ory-Session-Cache-For: 60` when
   the project caches sessions and the request carried no credential at all);
2. whether the session may be used (`gateway.emulator.aal`), else 403 with `redirect_browser_to`;
3. `tokenize_as`: the session JWT in `tokenized`, or 400;
4. `X-Kratos-Authenticated-Identity-Id`; `Ory-Session-Cache-For` (seconds until expiry, capped by
   `cacheable_sessions_max_age`) when the project caches sessions and nothing was tokenized;
5. RefreshCookie: a request carrying the session cookie whose recorded expiry is before the
   session's (the session was extended since) gets a fresh cookie in `Set-Cookie`.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from gateway.emulator.aal import whoami_refusal
from gateway.emulator.context import Ctx
from gateway.emulator.errors import herodot, json_response, kratos_bad_request
from gateway.emulator.sessions import Lookup, is_usable, lookup, session_json, set_session_cookie
from gateway.emulator.state import Session
from gateway.emulator.tokenizer import TokenizeError, tokenize

WHOAMI_401_REASON = "No valid session credentials found in the request."
CACHE_FOR = "Ory-Session-Cache-For"


def unauthorized(ctx: Ctx, found: Lookup) -> Response:
    response = herodot(401, "The request could not be authorized", reason=WHOAMI_401_REASON, request_id=ctx.request_id)
    if ctx.project.config.cacheable_sessions and not found.had_credential:
        response.headers[CACHE_FOR] = "60"
    return response


def _tokenized(ctx: Ctx, body: dict[str, Any], template_name: str) -> Response | None:
    """Put the session JWT into `body`; the 400 when the template cannot make one."""
    template = ctx.project.config.tokenizer_templates.get(template_name)
    if template is None:
        return kratos_bad_request(f'Unable to find tokenizer template "{template_name}".', ctx.request_id)
    try:
        body["tokenized"] = tokenize(template, body, ctx.project.base_url, ctx.now)
    except TokenizeError as exc:
        return kratos_bad_request(str(exc), ctx.request_id)
    return None


def _cache_for(ctx: Ctx, session: Session) -> str:
    seconds = session.expires_at - ctx.now
    cap = ctx.project.config.cacheable_sessions_max_age
    return f"{min(seconds, cap) if cap > 0 else seconds:.0f}"


def _cookie_outdated(found: Lookup, session: Session) -> bool:
    """RefreshCookie's test: the cookie records no expiry, or one before the session's."""
    if found.cookie is None:
        return False
    recorded = found.cookie.get("exp")
    return not isinstance(recorded, int | float) or recorded < session.expires_at


async def whoami(ctx: Ctx) -> Response:
    found = lookup(ctx.project, {k.lower(): v for k, v in ctx.request.headers.items()})
    session = found.session
    if session is None or not is_usable(ctx.project, session, ctx.now):
        return unauthorized(ctx, found)
    identity = ctx.project.identities[session.identity_id]
    refusal = whoami_refusal(ctx.project, session, identity)
    if refusal is not None:
        return refusal.response(ctx.request_id)
    body = session_json(ctx.project, session, ctx.now)
    template = ctx.request.query_params.get("tokenize_as")
    if template:
        failed = _tokenized(ctx, body, template)
        if failed is not None:
            return failed
    response = json_response(body, headers={"X-Kratos-Authenticated-Identity-Id": identity.id})
    if ctx.project.config.cacheable_sessions and not template:
        response.headers[CACHE_FOR] = _cache_for(ctx, session)
    if _cookie_outdated(found, session):
        set_session_cookie(response, ctx.project, session, ctx.now)
    return response
