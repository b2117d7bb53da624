"""The ASGI application: gateway endpoints first, then the pipeline for everything else.

Plain ASGI on the hot path (Starlette's per-response task groups cost more than the rest of
a cached request: docs/performance.md, "Measurements behind the code");
the lifespan owns every client, cache and background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway import endpoints as paths
from gateway.authn import build_authenticators
from gateway.config.load import Settings
from gateway.context import Gateway
from gateway.endpoints import rate_limit as ratelimit
from gateway.endpoints.builtins import bind_builtins
from gateway.endpoints.forward_auth import decisions
from gateway.endpoints.health import readiness
from gateway.errors import GatewayError, RequestTimeout, Unauthenticated
from gateway.forward.assertion import AssertionSigner
from gateway.forward.dispatch import Targets
from gateway.forward.headers import UpstreamHeaders
from gateway.forward.websocket import serve_websocket
from gateway.front.cors import Cors
from gateway.front.cross_origin import CrossOrigin
from gateway.front.exchange import Exchange, Receive, Scope, Send
from gateway.front.head import check_head
from gateway.front.locate import Locator
from gateway.front.login import redirect_to_login
from gateway.front.request import RequestView
from gateway.front.trusted_proxies import TrustedProxies
from gateway.labels.scope import OrgScope
from gateway.observe import access_log as accesslog
from gateway.observe.metrics import CURRENT, Metrics, RequestTimes, TimedUpstreams
from gateway.observe.tracing import Tracing
from gateway.orgs.stage import build_org_stages
from gateway.permissions.checker import build_permissions
from gateway.pipeline import handle
from gateway.policy import PolicyStore
from gateway.replicas.permissions import RedisPermissions
from gateway.replicas.redis import Guard, RedisShared, RedisWindows, connect
from gateway.replicas.revocations import Revocations
from gateway.server import heap, protocol
from gateway.server.lifecycle import Drain, Tracker
from gateway.server.response_cycle import body_late, body_timed_out

log = logging.getLogger("gateway")

Endpoint = Callable[[Gateway, Exchange], Awaitable[None]]


class GatewayApp:
    def __init__(self, settings: Settings, policies: PolicyStore) -> None:
        self.settings = settings
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self.metrics = Metrics()
        self.tracing = Tracing(settings.tracing, self.proxies)
        self.drain = Drain()
        protocol.configure(settings.limits)
        upstreams = TimedUpstreams(settings.upstreams)
        upstreams.metrics = self.metrics
        signer = AssertionSigner(settings.public_url, settings.tenants, settings.assertion_keys_dir)
        cors = Cors(settings)
        self.gw = Gateway(
            settings=settings,
            policies=policies,
            authn={},
            upstreams=upstreams,
            signer=signer,
            upstream_headers=UpstreamHeaders(settings, signer),
            targets=Targets(settings, upstreams, OrgScope(upstreams, settings.limits.max_body_bytes, signer.assertion)),
            ory=httpx.AsyncClient(follow_redirects=False, cookies=NoCookies(), event_hooks=self.metrics.ory_hooks()),
            proxies=self.proxies,
            locator=Locator(settings),
            tracing=self.tracing,
            cors=cors,
            cross_origin=CrossOrigin(settings, cors),
        )
        self.revocations = Revocations(self.gw, self.metrics)
        handlers: dict[str, Endpoint] = {
            paths.HEALTHZ: _healthz,
            paths.READYZ: self._readyz,
            paths.ASSERTION_JWKS: _jwks,
            paths.DECISIONS: decisions,
            paths.REVOKE: self.revocations.endpoint,
            paths.METRICS: self._metrics,
        }
        served = [p for p in paths.ENDPOINTS if p != paths.METRICS or settings.metrics_listen is None]
        #: the gateway's own endpoints (`gateway.endpoints.ENDPOINTS`), answered before tenant routing
        self.endpoints: dict[str, Endpoint] = {path: handlers[path] for path in served}
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
            endpoint = self.endpoints.get(path) or (decisions if path.startswith(paths.DECISIONS_PREFIX) else None)
            await (endpoint(self.gw, ex) if endpoint else handle(self.gw, ex))
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

    async def _readyz(self, gw: Gateway, ex: Exchange) -> None:
        if self.drain.draining:
            await ex.respond_json(503, {"status": "draining", "failing": {}}, [(b"retry-after", b"5")])
            return
        await readiness(gw, ex)

    async def _metrics(self, gw: Gateway, ex: Exchange) -> None:
        body, content_type = self.metrics.render()
        await ex.send_start(200, [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")])
        await ex.send({"type": "http.response.body", "body": body})

    async def _fail(self, ex: Exchange, error: GatewayError) -> None:
        if ex.status:  # headers already sent: all that is left is to end the stream
            return
        if isinstance(error, Unauthenticated) and (login := redirect_to_login(self.settings, ex, error)):
            ex.log.update(decision="deny", reason="login_redirect")
            await ex.respond(303, b"", [(b"location", login.encode()), (b"cache-control", b"no-store")])
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
        gw = self.gw
        settings = self.settings
        self.tracing.start()  # OTLP export, when configured: a background thread sends the spans
        shared = windows = shared_permissions = None
        if settings.redis_url is not None:  # never contacted here: Redis being down must not stop a start
            client = connect(settings.redis_url)
            self._closers.append(client.aclose)
            guard = Guard()
            shared = RedisShared(client, settings.cache.max_ttl, guard)
            shared_permissions = RedisPermissions(client, settings.cache.max_ttl, guard)
            windows = RedisWindows(client, guard)
            self.revocations.client, self.revocations.shared = client, shared
            self.revocations.shared_permissions = shared_permissions
            self._tasks.append(asyncio.create_task(self.revocations.listen()))
        gw.authn.update(build_authenticators(settings, gw.ory, shared=shared))
        gw.permissions.update(build_permissions(settings, gw.ory, shared=shared_permissions))
        gw.orgs.update(build_org_stages(settings.tenants, gw.permissions))
        # stream re-checks see the same caches (and their revocations)
        gw.targets.authn, gw.targets.orgs, gw.targets.permissions = gw.authn, gw.orgs, gw.permissions
        with ratelimit.sharing(windows):
            gw.targets.builtins = bind_builtins(gw)
        self.metrics.watch(gw.authn, lambda: gw.targets.open_streams, shared.counts if shared else None)
        if settings.metrics_listen is not None:
            try:
                self._closers.append(self.metrics.serve(*settings.metrics_listen))
            except OSError as exc:  # `serve --workers N`: the first worker has the port
                log.warning(f"metrics not served on {settings.metrics_listen}: {exc}")
        self.drain.install()
        self._tasks.append(asyncio.create_task(gw.policies.watch()))
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, gw.policies.reload_in_background)
        heap.settle()  # everything alive now lives as long as the process

    async def shutdown(self) -> None:
        accesslog.SINK.flush()
        for task in self._tasks:
            task.cancel()
        await self.gw.upstreams.close()
        await self.gw.ory.aclose()
        for close in self._closers:
            with contextlib.suppress(Exception):
                result = close()
                if result is not None:
                    await result
        self.tracing.shutdown()  # the spans still queued, sent within a bounded wait


class NoCookies(httpx.Cookies):
    """The shared Ory client must never keep one caller's Set-Cookie for the next call."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


async def _nothing() -> None:
    return None


async def _healthz(gw: Gateway, ex: Exchange) -> None:
    await ex.respond_json(200, {"status": "ok"})


async def _jwks(gw: Gateway, ex: Exchange) -> None:
    await ex.respond(200, gw.signer.jwks_body, [(b"cache-control", b"public, max-age=300")])


def create_app(settings: Settings, policies: PolicyStore) -> Any:
    return GatewayApp(settings, policies)
