"""Where an authorized request goes: an upstream (through its label profile) or a built-in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gateway.authn import TenantAuthenticator
from gateway.authz import authorize
from gateway.config.load import Settings
from gateway.decision import Decision
from gateway.errors import BadRequest, Forbidden, GatewayError, NotFound, PayloadTooLarge, ServiceUnavailable
from gateway.forward.assertion import AssertionSigner
from gateway.forward.headers import upstream_request_headers
from gateway.forward.identity import identity_header_bytes
from gateway.forward.proxy import Body, Timeouts, Upstreams
from gateway.front.exchange import Exchange
from gateway.front.paths import quote_path
from gateway.labels.scope import OrgScope, Prepared
from gateway.policy import Builtin, Forward, Match
from gateway.principal import Principal

Handler = Callable[[Exchange, Match, Principal | None], Awaitable[None]]
Message = dict[str, Any]

log = logging.getLogger("gateway")


class TooManyStreams(ServiceUnavailable):
    """GATEWAY_MAX_STREAMS long-lived responses are open already (503, Retry-After)."""

    code = "too_many_streams"


class Targets:
    def __init__(
        self,
        settings: Settings,
        upstreams: Upstreams,
        signer: AssertionSigner,
        orgscope: OrgScope,
        builtins: Mapping[str, Handler],
    ) -> None:
        self.settings = settings
        self.upstreams = upstreams
        self.signer = signer
        self.orgscope = orgscope
        self.builtins = builtins
        #: the pipeline's authenticators (set by the app at start-up), for re-checking the
        #: principal of an open stream through the same cache and its revocations
        self.authn: Mapping[str, TenantAuthenticator] = {}
        #: long-lived responses open now (bounded by GATEWAY_MAX_STREAMS)
        self.open_streams = 0

    async def dispatch(self, ex: Exchange, decision: Decision) -> None:
        match, principal = decision.match, decision.principal
        target = match.route.target
        if isinstance(target, Builtin):
            handler = self.builtins.get(target.name)
            if handler is None:  # the loader rejects unknown builtins; fail closed anyway
                raise NotFound("no such route", reason="unknown_builtin")
            await handler(ex, match, principal)
            return
        await self.forward(ex, decision, target)

    async def forward(self, ex: Exchange, decision: Decision, target: Forward) -> None:
        match, principal = decision.match, decision.principal
        route = match.route
        if ex.request.header(b"upgrade") is not None and not route.websocket:
            raise BadRequest("protocol upgrades are not allowed on this route", reason="upgrade_refused")
        body = await self._body(ex, inspected=route.labels != "headers")
        prepared = await self.orgscope.prepare(ex, match, principal, body, decision.policies)
        path = quote_path(match.upstream_path)
        query = prepared.query
        path_and_query = path + "?" + query.decode("latin-1") if query else path
        headers = self._headers(ex, match, principal, prepared)
        long_lived = route.stream or prepared.long_lived
        wait = route.idle_timeout if long_lived else route.timeout
        timeouts = Timeouts(head=wait, idle=wait)
        ex.log["upstream"] = target.upstream

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                ex.status = message["status"]  # from here on errors can only end the stream
            await ex.send(message)

        call = self.upstreams.forward(
            target.upstream, ex.request.method, path_and_query, headers, prepared.body,
            send, timeouts, prepared.whole, prepared.stream, prepared.error_whole,
        )  # fmt: skip
        if not long_lived:
            await call
            return
        limit = self.settings.limits.max_streams
        if self.open_streams >= limit:
            call.close()
            raise TooManyStreams(f"{limit} streams are open; try again later", retry_after=5, reason="too_many_streams")
        self.open_streams += 1
        try:
            await self._stream(ex, decision, call, watch_disconnect=not _is_stream(prepared.body))
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
        route = decision.match.route
        interval = self.settings.limits.stream_recheck_seconds
        authn = self.authn.get(decision.tenant)
        while True:
            await asyncio.sleep(interval)
            try:
                if authn is None:
                    raise Forbidden("the principal can no longer be verified", reason="stream_recheck_failed")
                now = await authn.authenticate(ex.request, route.kinds)
                authorize(route, now)
                if (now.subject, now.organization, now.tenant) != (first.subject, first.organization, first.tenant):
                    raise Forbidden("the principal changed", reason="stream_principal_changed")
            except GatewayError as error:  # fail closed: revoked, expired, demoted, or Ory unreachable
                log.info("stream ended by re-check", extra={"request_id": ex.origin.request_id, "reason": error.reason})
                return error

    async def _body(self, ex: Exchange, *, inspected: bool) -> Body:
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

    def _headers(
        self, ex: Exchange, match: Match, principal: Principal | None, prepared: Prepared
    ) -> list[tuple[bytes, bytes]]:
        cookie = None if principal is None else self.settings.tenants[match.route.tenant].cookie_bytes
        headers = upstream_request_headers(ex.request.headers, drop=prepared.drop_headers, session_cookie=cookie)
        audience = match.route.target.upstream if isinstance(match.route.target, Forward) else "gateway"
        headers += identity_header_bytes(principal, match.route.tenant, ex.origin, audience, self.signer)
        if prepared.content_type is not None:
            headers.append((b"content-type", prepared.content_type.encode("latin-1")))
        return headers


def _is_stream(body: Body) -> bool:
    return body is not None and not isinstance(body, bytes)


async def _disconnected(ex: Exchange) -> None:
    while (await ex.receive())["type"] != "http.disconnect":
        pass
