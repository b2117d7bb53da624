"""The ASGI application: /_emulator/ control paths, then /<project>/<Ory path> with auth and faults."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.emulator import control, routes
from gateway.emulator.context import Ctx
from gateway.emulator.errors import herodot, hydra_error
from gateway.emulator.faults import Fault, fault_response
from gateway.emulator.state import Emulator, Project

KRATOS_CACHE_CONTROL = "private, no-cache, no-store, must-revalidate"
ADMIN_401_REASON = "Missing or invalid project API key: send 'Authorization: Bearer <project API key>'."


def _admin_key_ok(project: Project, request: Request) -> bool:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(key.strip().encode(), project.config.api_key.encode())


def _unauthorized(family: str) -> Response:
    if family == "hydra":
        return hydra_error(401, "The request could not be authorized", ADMIN_401_REASON)
    return herodot(401, "The request could not be authorized", reason=ADMIN_401_REASON)


async def _drop(send: Send) -> None:
    """Close the connection without any response (reaches uvicorn's transport through its send callable)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("emulator fault: drop")
    transport.close()
    for _ in range(3):
        await asyncio.sleep(0)


class EmulatorApp:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path: str = scope["path"]
        if path == "/_emulator" or path.startswith("/_emulator/"):
            response = await control.dispatch(self.emulator, request)
        else:
            result = await self._project_call(request, path, send)
            if result is None:
                return
            response = result
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _project_call(self, request: Request, path: str, send: Send) -> Response | None:
        name, _, rest = path.lstrip("/").partition("/")
        project = self.emulator.projects.get(name)
        if project is None:
            return herodot(404, "Unable to locate the resource", reason=f"No project named '{name}' is emulated here.")
        rest = "/" + rest
        route, params = routes.match(request.method, rest)
        operation = route.operation if route is not None else "unknown"
        self.emulator.count(name, operation)
        query = request.url.query
        self.emulator.record(name, operation, request.method, rest, query, request.headers.get("cookie"))
        fault = self.emulator.faults.take(name, operation, rest)
        if fault is not None:
            faulted = await self._apply_fault(fault, route.family if route else routes.family_of(rest), send)
            if fault.mode != "delay":
                return faulted
        response = await self._handle(request, project, rest, route, params)
        if request.method == "GET" and (route is None or route.family == "kratos"):
            response.headers["Cache-Control"] = KRATOS_CACHE_CONTROL
        return response

    async def _apply_fault(self, fault: Fault, family: str, send: Send) -> Response | None:
        if fault.mode == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.mode == "drop":
            await _drop(send)
            return None
        return fault_response(fault, family)

    async def _handle(
        self, request: Request, project: Project, rest: str, route: routes.Route | None, params: Any
    ) -> Response:
        family = route.family if route else routes.family_of(rest)
        needs_key = rest.startswith("/admin/") or family == "keto"  # Network: every Permissions path
        if needs_key and not _admin_key_ok(project, request):
            return _unauthorized(family)
        if route is None:
            if params:
                return herodot(
                    405,
                    "The requested method is not allowed for this resource",
                    reason=f"Method {request.method} is not allowed on {rest}.",
                )
            return herodot(404, "Unable to locate the resource", reason=f"No route for {rest}.")
        ctx = Ctx(request=request, emulator=self.emulator, project=project, params=params)
        return await route.handler(ctx)
