"""The stages after authorization, as `gateway.pipeline.handle` calls them in turn.

`Targets.builtin` hands a built-in route to its handler (bound by id at start-up);
`Targets.body` decides what is read of the request body; `forward_plan` turns the
route, the label profile's rewrite and the upstream headers into one `ForwardPlan`;
`Targets.forward` sends it. A long-lived answer (SSE, a streamed run) is counted
against GATEWAY_MAX_STREAMS and its principal re-checked every
GATEWAY_STREAM_RECHECK_SECONDS while it is open - authentication, organization, authorization
and permission, as when it opened (WebSockets share `recheck`). A label-enforced event
stream is relayed by `gateway.forward.keepalive` (its own head, heartbeats while quiet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any

from gateway.authn import TenantAuthenticator
from gateway.authz import authorize
from gateway.config.load import Settings
from gateway.decision import Decision
from gateway.endpoints.builtins import Handler
from gateway.errors import BadRequest, Forbidden, GatewayError, NotFound, PayloadTooLarge, ServiceUnavailable
from gateway.forward import keepalive
from gateway.forward.proxy import Body, ForwardPlan, Upstreams, timeouts_of
from gateway.front.exchange import Exchange, Send
from gateway.front.paths import quote_path
from gateway.labels.scope import OrgScope, Prepared
from gateway.orgs.stage import OrgStage
from gateway.permissions.checker import TenantPermissions
from gateway.policy import Builtin, Forward, Match, Route

Message = dict[str, Any]

log = logging.getLogger("gateway")


class TooManyStreams(ServiceUnavailable):
    """GATEWAY_MAX_STREAMS long-lived responses are open already (503, Retry-After)."""

    code = "too_many_streams"


class Targets:
    """Where an allowed request goes: a built-in by id, or an upstream by name."""

    def __init__(self, settings: Settings, upstreams: Upstreams, labels: OrgScope) -> None:
        self.settings = settings
        self.upstreams = upstreams
        #: the label profiles' per-request step (rewrites, response filters, run look-ups)
        self.labels = labels
        #: built-in id -> handler (set by the app at start-up)
        self.builtins: Mapping[str, Handler] = {}
        #: the pipeline's authenticators, organization stages and permissions (set by the app
        #: at start-up), for re-checking the principal of an open stream through the same
        #: caches and their revocations
        self.authn: Mapping[str, TenantAuthenticator] = {}
        self.orgs: Mapping[str, OrgStage] = {}
        self.permissions: Mapping[str, TenantPermissions] = {}
        #: long-lived responses open now (bounded by GATEWAY_MAX_STREAMS)
        self.open_streams = 0

    async def builtin(self, ex: Exchange, decision: Decision, target: Builtin) -> None:
        handler = self.builtins.get(target.name)
        if handler is None:  # the loader rejects unknown builtins; fail closed anyway
            raise NotFound("no such route", reason="unknown_builtin")
        await handler(ex, decision.match, decision.principal)

    async def body(self, ex: Exchange, route: Route) -> Body:
        """What is forwarded of the request body: in memory when small (and when a label
        profile inspects it, bounded by GATEWAY_MAX_BODY_BYTES), else streamed. A protocol
        upgrade is refused unless the route allows websockets."""
        if b"upgrade" in ex.request.first and not route.websocket:
            raise BadRequest("protocol upgrades are not allowed on this route", reason="upgrade_refused")
        inspected = route.injects_labels
        if not ex.has_body():
            return None
        declared = ex.request.header(b"content-length")
        size = int(declared) if declared is not None and declared.isdigit() else None
        limit = self.settings.limits.max_body_bytes
        if inspected and size is not None and size > limit:  # refused before reading a byte
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        if size is not None and size <= 64 << 10:
            return await ex.read_body(min(limit, 64 << 10) if inspected else 64 << 10)
        return ex.stream_body()

    def forward(self, ex: Exchange, decision: Decision, plan: ForwardPlan) -> Awaitable[object]:
        """Send the plan upstream and relay the answer; a long-lived one is bounded and re-checked.
        A short one is the upstream call's own coroutine (no frame of this one to resume)."""
        ex.log["upstream"] = plan.upstream
        # the exchange's status is set as the response starts (by the app's `Tracker`): from
        # there on errors can only end the stream
        send = _with_cors(ex) if ex.cors else ex.send
        if not plan.long_lived:
            return self.upstreams.forward(plan, send)
        heartbeat = self.settings.limits.sse_heartbeat_seconds
        if heartbeat and plan.stream is not None:  # a label-enforced event stream: early head, heartbeats
            return self._long_lived(ex, decision, plan, keepalive.forward(self.upstreams, plan, send, heartbeat))
        return self._long_lived(ex, decision, plan, self.upstreams.forward(plan, send))

    async def _long_lived(
        self, ex: Exchange, decision: Decision, plan: ForwardPlan, call: Coroutine[Any, Any, int]
    ) -> None:
        limit = self.settings.limits.max_streams
        if self.open_streams >= limit:
            call.close()
            raise TooManyStreams(f"{limit} streams are open; try again later", retry_after=5, reason="too_many_streams")
        self.open_streams += 1
        try:
            await self._stream(ex, decision, call, watch_disconnect=not _is_stream(plan.body))
        finally:
            self.open_streams -= 1

    async def _stream(self, ex: Exchange, decision: Decision, call: Awaitable[int], *, watch_disconnect: bool) -> None:
        """A long-lived response: ends when the upstream ends it, when the client goes away
        (the upstream connection is closed with it), or when a re-check of the principal
        every GATEWAY_STREAM_RECHECK_SECONDS fails (session revoked or expired, roles lost)."""
        relay = asyncio.ensure_future(call)
        watchers: list[asyncio.Task[GatewayError | None]] = []
        if watch_disconnect:  # the request body is consumed: receive() now only reports a disconnect
            watchers.append(asyncio.create_task(_disconnected(ex)))
        if decision.principal is not None:
            watchers.append(asyncio.create_task(self.recheck(ex, decision)))
        try:
            await asyncio.wait([relay, *watchers], return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # this request was cancelled (body deadline, shutdown): so is its relay
            relay.cancel()
            raise
        finally:
            for task in watchers:
                task.cancel()
        if relay.done():
            relay.result()  # the upstream ended the stream (or failed before the head: 502/504)
            return
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        ended = next((t.result() for t in watchers if t.done() and not t.cancelled()), None)
        ex.log["stream_end"] = ended.reason if ended is not None else "client_disconnected"
        if ex.status:  # head sent: end the body (a no-op if the client is gone)
            await ex.send({"type": "http.response.body", "body": b""})
        elif ended is not None:
            raise ended

    async def recheck(self, ex: Exchange, decision: Decision) -> GatewayError | None:
        """Returns the error that ends the stream (never returns while the principal holds)."""
        first = decision.principal
        assert first is not None
        route, tenant = decision.match.route, decision.tenant
        interval = self.settings.limits.stream_recheck_seconds
        authn, orgs, permissions = self.authn.get(tenant), self.orgs.get(tenant), self.permissions.get(tenant)
        while True:
            await asyncio.sleep(interval)
            try:
                if authn is None or orgs is None or permissions is None:
                    raise Forbidden("the principal can no longer be verified", reason="stream_recheck_failed")
                now = await authn.authenticate(ex.request, route.kinds)
                now = await orgs.choose(ex.request, decision.match, now, decision.policies.tenant_roles(tenant))
                authorize(route, now)
                await permissions.require(decision.match, now)  # a removed membership or permission ends it
                if (now.subject, now.organization, now.tenant) != (first.subject, first.organization, first.tenant):
                    raise Forbidden("the principal changed", reason="stream_principal_changed")
            except GatewayError as error:  # fail closed: revoked, expired, demoted, or Ory unreachable
                log.info("stream ended by re-check", extra={"request_id": ex.origin.request_id, "reason": error.reason})
                return error


def forward_plan(
    method: str, match: Match, target: Forward, prepared: Prepared, headers: list[tuple[bytes, bytes]]
) -> ForwardPlan:
    """The upstream request: the canonical path re-encoded, the query as the label profile
    left it, and the route's timeout (its idle timeout for a long-lived answer)."""
    route = match.route
    path = quote_path(match.upstream_path)
    query = prepared.query
    long_lived = route.stream or prepared.long_lived
    return ForwardPlan(
        upstream=target.upstream,
        method=method,
        path_and_query=path + "?" + query.decode("latin-1") if query else path,
        headers=headers,
        body=prepared.body,
        timeouts=timeouts_of(route.idle_timeout if long_lived else route.timeout),
        whole=prepared.whole,
        stream=prepared.stream,
        error_whole=prepared.error_whole,
        long_lived=long_lived,
    )


def _is_stream(body: Body) -> bool:
    return body is not None and not isinstance(body, bytes)


async def _disconnected(ex: Exchange) -> None:
    while (await ex.receive())["type"] != "http.disconnect":
        pass


def _with_cors(ex: Exchange) -> Send:
    """`ex.send` adding the gateway's CORS answer to the response start (the upstream's own
    was dropped: `gateway.forward.headers`)."""

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            ex.status = message["status"]
            message = {**message, "headers": [*message["headers"], *ex.cors]}
        await ex.send(message)

    return send
