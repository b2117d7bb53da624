"""The ASGI application: the gateway's own endpoints first, then the pipeline for everything else.

Plain ASGI on the hot path (Starlette's per-response task groups cost more than the rest of
a cached request: docs/performance.md). Everything is built whole when the app is
(`gateway.build.assemble`); the lifespan starts what runs in the background and closes every
client at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from gateway.build import assemble
from gateway.config.settings import Settings
from gateway.endpoints.tenants import PATH as TENANTS_PATH
from gateway.endpoints.tenants import tenants_body
from gateway.errors import GatewayError, RequestTimeout, StepUpRequired, Unauthenticated
from gateway.forward.websocket import serve_websocket
from gateway.front.exchange import Exchange, Receive, Scope, Send
from gateway.front.head import check_head
from gateway.front.login import redirect_to_login, step_up
from gateway.front.request import RequestView
from gateway.observe import access_log as accesslog
from gateway.observe.metrics import CURRENT, RequestTimes
from gateway.pipeline import handle
from gateway.policy.reload import PolicyStore
from gateway.server import heap
from gateway.server.lifecycle import Tracker
from gateway.server.response_cycle import body_late, body_timed_out

log = logging.getLogger("gateway")


class GatewayApp:
    def __init__(self, settings: Settings, policies: PolicyStore) -> None:
        self.settings = settings
        self.parts = parts = assemble(settings, policies)
        self.gw = gw = parts.gw
        self.proxies, self.tracing = gw.proxies, gw.tracing
        self.metrics, self.drain = parts.metrics, parts.drain
        #: the gateway's own endpoints (`gateway.endpoints.registry`), answered before tenant routing
        self.endpoints = parts.endpoints
        self._tasks: list[asyncio.Task[None]] = []
        self._closers: list[Callable[[], Awaitable[None] | None]] = []

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The ASGI entry: returns the handler's own coroutine (no frame of its own to resume
        at every await of a request)."""
        kind = scope["type"]
        if kind == "http":
            return self.http(scope, receive, send)
        if kind == "websocket":
            return serve_websocket(self.gw, scope, receive, send)
        if kind == "lifespan":
            return self.lifespan(receive, send)
        return _nothing()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        peer = client[0] if client else ""
        # the header index every stage reads (one pass, in C), then who is calling
        request = RequestView(scope["method"], "", scope.get("query_string", b""), scope["headers"], "")
        origin = self.proxies.origin_of(peer, scope.get("scheme", "http"), request)
        request.client_ip, request.scheme, request.host, request.request_id = origin[:4]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        fields: dict[str, object] = {}
        times = RequestTimes(fields)
        CURRENT.set(times)  # each ASGI request runs in its own context
        tracker = Tracker(send, receive, origin.request_id, times, self.drain)
        trace = self.tracing.begin(request, peer)
        ex = Exchange(scope, tracker.receive, tracker.send, request, origin, raw_path, trace, log=fields)
        tracker.exchange = ex
        try:
            check_head(scope, request, self.settings.limits.max_header_bytes)  # 431 / smuggling / Host, before any work
            path: str = scope["path"]
            endpoints = self.endpoints
            endpoint = endpoints.exact.get(path)
            if endpoint is None and path.startswith(endpoints.prefixes):  # `/decisions/<path>`
                endpoint = endpoints.under(path)
            await (endpoint(ex) if endpoint is not None else handle(self.gw, ex))
        except GatewayError as error:
            await self._fail(ex, error)
        except asyncio.CancelledError as cancel:
            if not body_timed_out(cancel):  # shutting down: not ours to answer
                raise
            await self._body_timeout(ex)
        except Exception:
            log.exception("unhandled error", extra={"request_id": origin.request_id})
            await self._fail(ex, GatewayError("internal error", reason="internal_error"))
        finally:
            self._done(ex, tracker, times)
            # the exchange sends through the tracker, which knows the exchange: undone, that
            # cycle would hold the request's objects until the cycle collector came by
            tracker.exchange = None

    def _done(self, ex: Exchange, tracker: Tracker, times: RequestTimes) -> None:
        duration = time.perf_counter() - ex.started
        ex.status = tracker.status or ex.status
        fields = ex.log
        tenant, rule = str(fields.get("tenant", "")), str(fields.get("rule", ""))
        decision = str(fields.get("decision", "deny" if ex.status >= 400 else "allow"))
        self.metrics.request(tenant, rule, decision, ex.status, None if tracker.stream else duration)
        if times.upstream:
            self.metrics.upstream(str(fields.get("upstream", "")), times.upstream)
        if ex.trace.span is not None:  # recorded (export on): end the request's span
            self.tracing.finish(ex.trace, fields, ex.status)
        accesslog.emit(ex, times, duration)

    async def _body_timeout(self, ex: Exchange) -> None:
        """The server cancelled this request: its body missed GATEWAY_BODY_TIMEOUT (408, unless
        the response head is out already: then the server has closed the connection)."""
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        ex.log["reason"] = "body_timeout"
        await self._fail(ex, RequestTimeout(body_late(self.settings.limits.body_timeout), reason="body_timeout"))

    async def _fail(self, ex: Exchange, error: GatewayError) -> None:
        if ex.status:  # headers already sent: all that is left is to end the stream
            return
        if isinstance(error, Unauthenticated) and (login := redirect_to_login(self.settings, ex, error)):
            ex.log.update(decision="deny", reason="login_redirect")
            await ex.respond(303, b"", [(b"location", login.encode()), (b"cache-control", b"no-store")])
            return
        if isinstance(error, StepUpRequired):  # a second factor or the password again, then back
            location, error = step_up(self.settings, ex, error)
            if location is not None:
                ex.log.update(decision="deny", reason=error.reason)
                await ex.respond(303, b"", [(b"location", location.encode()), (b"cache-control", b"no-store")])
                return
        self.gw.cors.decorate_unrouted(ex)  # a 404/405 for a trusted page still carries CORS headers
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
        """What runs in the background: span export, the revocation listener, the policy
        watcher, the tenant probe, metrics on their own port; then the heap is settled."""
        gw, settings = self.gw, self.settings
        self.tracing.start()  # OTLP export, when configured: a background thread sends the spans
        if self.parts.shared is not None:
            self._closers.append(self.parts.shared.client.aclose)
            self._tasks.append(asyncio.create_task(self.parts.revocations.listen()))
        if settings.metrics_listen is not None:
            pages = {TENANTS_PATH: functools.partial(tenants_body, gw.ory)}
            try:
                self._closers.append(self.metrics.serve(*settings.metrics_listen, pages))
            except OSError as exc:  # `serve --workers N`: the first worker has the port
                log.warning(f"metrics not served on {settings.metrics_listen}: {exc}")
        self.drain.install()
        self._tasks.append(asyncio.create_task(gw.policies.watch()))
        self._tasks.append(asyncio.create_task(self.parts.probe.run()))  # each tenant's Ory, between real calls
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, gw.policies.reload_in_background)
        heap.settle()  # everything alive now lives as long as the process

    async def shutdown(self) -> None:
        accesslog.SINK.flush()
        for task in self._tasks:
            task.cancel()
        await self.gw.upstreams.close()
        for pool in self.gw.ory.values():
            await pool.aclose()
        for close in self._closers:
            with contextlib.suppress(Exception):
                result = close()
                if result is not None:
                    await result
        self.tracing.shutdown()  # the spans still queued, sent within a bounded wait


async def _nothing() -> None:
    return None
