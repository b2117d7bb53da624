"""Emulator-only control API under /_emulator/: stats, the calls received, faults, clock,
projects, health, and per-project hooks for tests: move a session in time or mark it as needing a sign-in with a
given method, and read the current TOTP code of a seeded identity."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.emulator.errors import herodot, json_response
from gateway.emulator.faults import FaultError
from gateway.emulator.identities import find_by_identifier
from gateway.emulator.second_factor import totp_code
from gateway.emulator.sessions import session_json
from gateway.emulator.state import Emulator, Project, Session
from gateway.emulator.timeutil import rfc3339

ControlHandler = Callable[[Emulator, Request], Awaitable[Response]]


def _bad(message: str) -> Response:
    return herodot(400, "The request was malformed or contained invalid parameters", reason=message)


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def health(emulator: Emulator, request: Request) -> Response:
    return json_response({"status": "ok"})


async def projects(emulator: Emulator, request: Request) -> Response:
    return json_response(
        {
            name: {
                "base_url": p.base_url,
                "session_cookie_name": p.config.cookie_name,
                "access_token_strategy": p.config.access_token_strategy,
                "tokenizer_jwks": {
                    name: f"{p.base_url}/.well-known/ory/tokenizer/{name}/jwks.json"
                    for name in p.config.tokenizer_templates
                },
            }
            for name, p in emulator.projects.items()
        }
    )


async def stats(emulator: Emulator, request: Request) -> Response:
    per_project = {name: dict(sorted(counter.items())) for name, counter in emulator.stats.items()}
    return json_response({"projects": per_project, "total": sum(sum(c.values()) for c in emulator.stats.values())})


async def reset_stats(emulator: Emulator, request: Request) -> Response:
    for counter in emulator.stats.values():
        counter.clear()
    return Response(status_code=204)


async def requests(emulator: Emulator, request: Request) -> Response:
    """The calls remembered, oldest first; `?project=` and `?operation=` narrow them."""
    wanted = {k: v for k, v in request.query_params.items() if k in ("project", "operation")}
    found = [r for r in emulator.requests if all(r[k] == v for k, v in wanted.items())]
    return json_response(found)


async def forget_requests(emulator: Emulator, request: Request) -> Response:
    emulator.requests.clear()
    return Response(status_code=204)


async def list_faults(emulator: Emulator, request: Request) -> Response:
    return json_response([f.as_json() for f in emulator.faults.faults])


async def add_fault(emulator: Emulator, request: Request) -> Response:
    body = await _json(request)
    if body is None:
        return _bad("body must be a JSON object")
    try:
        fault = emulator.faults.add(body, list(emulator.projects))
    except FaultError as exc:
        return _bad(str(exc))
    return json_response(fault.as_json(), 201)


async def clear_faults(emulator: Emulator, request: Request) -> Response:
    emulator.faults.clear()
    return Response(status_code=204)


def _clock_json(emulator: Emulator) -> Response:
    now = emulator.clock.now()
    return json_response({"offset": emulator.clock.offset, "now": rfc3339(now), "now_unix": now})


async def get_clock(emulator: Emulator, request: Request) -> Response:
    return _clock_json(emulator)


async def advance_clock(emulator: Emulator, request: Request) -> Response:
    body = await _json(request)
    advance = (body or {}).get("advance")
    if isinstance(advance, bool) or not isinstance(advance, int | float):
        return _bad("'advance' must be a number of seconds")
    emulator.clock.advance(float(advance))
    return _clock_json(emulator)


async def reset_clock(emulator: Emulator, request: Request) -> Response:
    emulator.clock.reset()
    return _clock_json(emulator)


async def reset_all(emulator: Emulator, request: Request) -> Response:
    """Faults cleared, clock offset zero, statistics zero (state such as identities is kept)."""
    emulator.faults.clear()
    emulator.clock.reset()
    await reset_stats(emulator, request)
    emulator.requests.clear()
    return Response(status_code=204)


def _number(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{name}' must be a number of seconds")
    return float(value)


def _move(session: Session, body: dict[str, Any], now: float) -> None:
    """Apply a session hook body; raises ValueError (nothing is changed then)."""
    expires_in = _number(body, "expires_in") if "expires_in" in body else None
    ago = _number(body, "authenticated_ago") if "authenticated_ago" in body else None
    required = body.get("credential_required", session.credential_required)
    if required is not None and required not in ("password", "totp", "lookup_secret"):
        raise ValueError("'credential_required' must be password, totp, lookup_secret or null")
    if expires_in is not None:
        session.expires_at = now + expires_in
    if ago is not None:
        shift = now - ago - session.authenticated_at
        session.authenticated_at += shift
        session.issued_at += shift
        for method in session.methods:
            method.completed_at += shift
    session.credential_required = required


async def patch_session(emulator: Emulator, request: Request, project: Project, key: str) -> Response:
    """`PATCH /_emulator/projects/<p>/sessions/<id>` with `expires_in` (seconds from now),
    `authenticated_ago` (seconds: authenticated_at, issued_at and every method's completed_at
    move by the same amount) and/or `credential_required` (a method, or null)."""
    session = project.sessions.get(key)
    body = await _json(request)
    if session is None:
        return herodot(404, "Unable to locate the resource", reason=f"No session {key} in project {project.name}.")
    if body is None:
        return _bad("body must be a JSON object")
    try:
        _move(session, body, emulator.clock.now())
    except ValueError as exc:
        return _bad(str(exc))
    return json_response(session_json(project, session, emulator.clock.now()))


async def get_totp(emulator: Emulator, request: Request, project: Project, key: str) -> Response:
    """`GET /_emulator/projects/<p>/identities/<id or identifier>/totp`: the code valid now
    (at the emulator's clock), as an authenticator app would show it."""
    identity = project.identities.get(key) or find_by_identifier(project, key)
    if identity is None or identity.totp_secret is None:
        return herodot(404, "Unable to locate the resource", reason=f"No identity {key} with a TOTP secret.")
    now = emulator.clock.now()
    return json_response({"code": totp_code(identity.totp_secret, now), "at": now})


ProjectHandler = Callable[[Emulator, Request, Project, str], Awaitable[Response]]
PROJECT_ROUTES: dict[tuple[str, str], ProjectHandler] = {
    ("PATCH", "sessions"): patch_session,
    ("GET", "identities"): get_totp,
}
PROJECT_PATH = re.compile(
    r"^/_emulator/projects/(?P<project>[^/]+)/(?P<kind>sessions|identities)/(?P<key>[^/]+)(?P<totp>/totp)?$"
)


async def _project_hook(emulator: Emulator, request: Request) -> Response | None:
    found = PROJECT_PATH.match(request.url.path.rstrip("/"))
    if found is None or (found["kind"] == "identities") != bool(found["totp"]):
        return None
    handler = PROJECT_ROUTES.get((request.method, found["kind"]))
    project = emulator.projects.get(found["project"])
    if handler is None or project is None:
        return None
    return await handler(emulator, request, project, found["key"])


CONTROL_ROUTES: dict[tuple[str, str], ControlHandler] = {
    ("GET", "/_emulator/health"): health,
    ("GET", "/_emulator/projects"): projects,
    ("POST", "/_emulator/reset"): reset_all,
    ("GET", "/_emulator/stats"): stats,
    ("POST", "/_emulator/stats/reset"): reset_stats,
    ("GET", "/_emulator/requests"): requests,
    ("DELETE", "/_emulator/requests"): forget_requests,
    ("GET", "/_emulator/faults"): list_faults,
    ("POST", "/_emulator/faults"): add_fault,
    ("DELETE", "/_emulator/faults"): clear_faults,
    ("GET", "/_emulator/clock"): get_clock,
    ("POST", "/_emulator/clock"): advance_clock,
    ("DELETE", "/_emulator/clock"): reset_clock,
}


async def dispatch(emulator: Emulator, request: Request) -> Response:
    handler = CONTROL_ROUTES.get((request.method, request.url.path.rstrip("/")))
    if handler is None:
        hooked = await _project_hook(emulator, request)
        if hooked is not None:
            return hooked
        return herodot(404, "Unable to locate the resource", reason="Unknown emulator control endpoint.")
    return await handler(emulator, request)
