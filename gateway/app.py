"""The ASGI application: gateway endpoints first, then the pipeline for everything else.

Plain ASGI on the hot path (Starlette's per-response task groups cost ~125 us);
the lifespan owns every client, cache and background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway import accesslog
from gateway.assertion import AssertionSigner
from gateway.authn import build_authenticators
from gateway.builtins import build_builtins
from gateway.config import Settings
from gateway.context import Gateway
from gateway.decisions import decisions
from gateway.errors import GatewayError
from gateway.exchange import Exchange, Receive, Scope, Send
from gateway.forwarded import TrustedProxies
from gateway.health import readiness
from gateway.orgscope import OrgScope
from gateway.pipeline import handle
from gateway.policy import PolicyStore
from gateway.proxy import Upstreams
from gateway.request import RequestView
from gateway.targets import Targets

log = logging.getLogger("gateway")

Endpoint = Callable[[Gateway, Exchange], Awaitable[None]]
DECISIONS_PREFIX = "/decisions/"


class GatewayApp:
    def __init__(self, settings: Settings, policies: PolicyStore) -> None:
        self.settings = settings
        self.proxies = TrustedProxies(settings.trusted_proxies)
        upstreams = Upstreams(settings.upstreams)
        signer = AssertionSigner(settings.public_url, settings.tenants, settings.assertion_keys_dir)
        self.gw = Gateway(
            settings=settings,
            policies=policies,
            authn={},
            upstreams=upstreams,
            signer=signer,
            targets=Targets(settings, upstreams, signer, OrgScope(upstreams, settings.limits.max_body_bytes), {}),
            ory=httpx.AsyncClient(follow_redirects=False, cookies=NoCookies()),
            proxies=self.proxies,
        )
        self.endpoints: dict[str, Endpoint] = {
            "/healthz": _healthz,
            "/readyz": readiness,
            "/.well-known/jwks.json": _jwks,
            "/decisions": decisions,
        }
        self._tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        client = scope.get("client")
        origin = self.proxies.origin(client[0] if client else "", scope.get("scheme", "http"), headers)
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        request = RequestView(
            method=scope["method"], path="", raw_query=scope.get("query_string", b""), headers=headers,
            client_ip=origin.client_ip, request_id=origin.request_id, host=origin.host, scheme=origin.scheme,
        )  # fmt: skip
        ex = Exchange(scope, receive, send, request, origin, raw_path)
        try:
            path: str = scope["path"]
            endpoint = self.endpoints.get(path) or (decisions if path.startswith(DECISIONS_PREFIX) else None)
            await (endpoint(self.gw, ex) if endpoint else handle(self.gw, ex))
        except GatewayError as error:
            await self._fail(ex, error)
        except Exception:
            log.exception("unhandled error", extra={"request_id": origin.request_id})
            await self._fail(ex, GatewayError("internal error", reason="internal_error"))
        finally:
            accesslog.emit(ex)

    async def _fail(self, ex: Exchange, error: GatewayError) -> None:
        if ex.status:  # headers already sent: all that is left is to end the stream
            return
        await ex.respond_error(error)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await self.startup()
            except Exception as exc:  # fail start-up loudly rather than serve half a gateway
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        if message["type"] == "lifespan.shutdown":
            await self.shutdown()
            await send({"type": "lifespan.shutdown.complete"})

    async def startup(self) -> None:
        gw = self.gw
        gw.authn.update(build_authenticators(self.settings, gw.ory))
        gw.targets.builtins = build_builtins(gw)
        self._tasks.append(asyncio.create_task(gw.policies.watch()))
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, gw.policies.reload)

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.gw.upstreams.close()
        await self.gw.ory.aclose()


class NoCookies(httpx.Cookies):
    """The shared Ory client must never keep one caller's Set-Cookie for the next call."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


async def _healthz(gw: Gateway, ex: Exchange) -> None:
    await ex.respond_json(200, {"status": "ok"})


async def _jwks(gw: Gateway, ex: Exchange) -> None:
    await ex.respond(200, gw.signer.jwks_body, [(b"cache-control", b"public, max-age=300")])


def create_app(settings: Settings, policies: PolicyStore) -> Any:
    return GatewayApp(settings, policies)
