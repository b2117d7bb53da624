"""Emulator-only control API under /_emulator/: stats, faults, clock, projects, health."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.emulator.errors import herodot, json_response
from gateway.emulator.faults import FaultError
from gateway.emulator.state import Emulator
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
    return Response(status_code=204)


CONTROL_ROUTES: dict[tuple[str, str], ControlHandler] = {
    ("GET", "/_emulator/health"): health,
    ("GET", "/_emulator/projects"): projects,
    ("POST", "/_emulator/reset"): reset_all,
    ("GET", "/_emulator/stats"): stats,
    ("POST", "/_emulator/stats/reset"): reset_stats,
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
        return herodot(404, "Unable to locate the resource", reason="Unknown emulator control endpoint.")
    return await handler(emulator, request)
