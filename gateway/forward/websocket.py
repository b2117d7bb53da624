"""WebSocket proxying: authorized at the handshake, only on routes that allow it.

The handshake runs the same pipeline as any request (tenant, rule, cross-origin use of
the cookie (CSWSH), authn, authz, `gateway.pipeline.decide`) and the upstream leg gets the same headers
(`gateway.forward.headers.UpstreamHeaders`, less the handshake's own); a refusal
closes before accept, which the server answers with HTTP 403, except a fault (Ory, Keto or
the upstream unreachable: 502/503): that is answered with its own status, `Retry-After`
and JSON body (the ASGI WebSocket denial response), so a client retries rather than gives up.
The handshake is traced
like a request (its span lasts as long as the socket; the upstream handshake carries
its `traceparent`). Label
profiles cannot be enforced on frames, so only `headers` routes may allow
websockets. An open socket counts as a stream (`gateway.forward.stream_cap`). While open,
the principal is re-checked every `GATEWAY_STREAM_RECHECK_SECONDS`; a failed check closes
the socket (1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp

from gateway.context import Gateway
from gateway.decision import Decision
from gateway.errors import BadGateway, GatewayError
from gateway.front.exchange import Exchange, Receive, Scope, Send
from gateway.front.paths import quote_path
from gateway.front.request import RequestView
from gateway.observe import access_log as accesslog
from gateway.observe import tracing
from gateway.pipeline import decide
from gateway.policy import Forward

log = logging.getLogger("gateway.websocket")

#: the handshake's own headers: aiohttp makes its own for the upstream leg
HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "origin",
    }
)
POLICY_VIOLATION = 1008
#: statuses that mean "try again later" (a limit, Ory, Keto or the upstream down), not "no"
FAULTS = frozenset({429, 502, 503, 504})


async def serve_websocket(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    client = scope.get("client")
    request = RequestView("GET", "", scope.get("query_string", b""), scope["headers"], "")
    origin = gw.proxies.origin_of(client[0] if client else "", scope.get("scheme", "ws"), request)
    request.client_ip, request.scheme, request.host, request.request_id = origin[:4]
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    trace = gw.tracing.begin(request, client[0] if client else "")
    ex = Exchange(scope, receive, send, request, origin, raw_path, trace, handshake=True)
    await receive()  # websocket.connect
    try:
        decision = await decide(gw, ex)
        target = decision.match.route.target
        route = decision.match.route
        if not route.websocket or not isinstance(target, Forward) or route.injects_labels:
            raise GatewayError("websockets are not allowed on this route", reason="websocket_refused")
        held = gw.relay.cap.take(decision.tenant, decision.principal)  # an open socket is a stream
    except GatewayError as error:
        log.info("websocket refused", extra={"reason": error.reason, "request_id": origin.request_id})
        ex.status = await _refuse(ex, error)
        ex.log.update(decision="deny", reason=error.reason)
        accesslog.emit(ex)  # audited like any other denial
        gw.tracing.finish(trace, ex.log, ex.status)
        return
    ex.log["decision"] = "allow"
    try:
        await _proxy(gw, ex, decision, target)
    finally:
        gw.relay.cap.release(decision.tenant, held)
        gw.tracing.finish(trace, ex.log, ex.status)


async def _proxy(gw: Gateway, ex: Exchange, decision: Decision, target: Forward) -> None:
    url = gw.upstreams.url(target.upstream, _path_and_query(ex, decision)).with_scheme(
        "wss" if gw.upstreams.urls[target.upstream].startswith("https") else "ws"
    )
    protocols = tuple(ex.scope.get("subprotocols") or ())
    ex.log["upstream"] = target.upstream
    with tracing.upstream_span(target.upstream, "GET") as call:  # the handshake's traceparent names this span
        headers = _upstream_headers(gw, ex, decision, target)
        try:
            upstream = await gw.upstreams.session(target.upstream).ws_connect(
                url, headers=headers, protocols=protocols, timeout=aiohttp.ClientWSTimeout(ws_close=5)
            )
        except (aiohttp.ClientError, TimeoutError):
            call.fail("upstream_unreachable")
            ex.status = await _refuse(ex, BadGateway("the upstream is unreachable", reason="upstream_unreachable"))
            return
        call.response(101)
    ex.status = 101
    refreshed = [(b"set-cookie", ex.session_cookie)] if ex.session_cookie else []  # whoami refreshed it
    await ex.send({"type": "websocket.accept", "subprotocol": upstream.protocol, "headers": refreshed})
    async with upstream:
        tasks = [
            asyncio.create_task(_client_to_upstream(ex, upstream)),
            asyncio.create_task(_upstream_to_client(ex, upstream)),
            asyncio.create_task(_recheck(gw, ex, decision)),
        ]
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _refuse(ex: Exchange, error: GatewayError) -> int:
    """Refuse the handshake; returns the status the client gets. A refusal is 403 (a close
    before accept); a fault (5xx) is its own answer where the server can send one."""
    if error.status not in FAULTS or "websocket.http.response" not in ex.scope.get("extensions", {}):
        await ex.send({"type": "websocket.close", "code": POLICY_VIOLATION})  # the server answers 403
        return 403
    headers = [(k.encode(), v.encode("latin-1", "replace")) for k, v in error.headers().items()]
    headers += [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    await ex.send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
    await ex.send({"type": "websocket.http.response.body", "body": error.body(ex.origin.request_id)})
    return error.status


def _upstream_headers(gw: Gateway, ex: Exchange, decision: Decision, target: Forward) -> list[tuple[str, str]]:
    """What any forwarded request carries, less the handshake's own headers."""
    headers = gw.upstream_headers.request(ex, decision, target.upstream, drop=HANDSHAKE)
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]  # aiohttp takes text


def _path_and_query(ex: Exchange, decision: Decision) -> str:
    path = quote_path(decision.match.upstream_path)
    return path + "?" + ex.request.raw_query.decode("latin-1") if ex.request.raw_query else path


async def _client_to_upstream(ex: Exchange, upstream: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        message: dict[str, Any] = await ex.receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close()
            return
        if message.get("bytes") is not None:
            await upstream.send_bytes(message["bytes"])
        elif message.get("text") is not None:
            await upstream.send_str(message["text"])


async def _upstream_to_client(ex: Exchange, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async for message in upstream:
        if message.type == aiohttp.WSMsgType.TEXT:
            await ex.send({"type": "websocket.send", "text": message.data})
        elif message.type == aiohttp.WSMsgType.BINARY:
            await ex.send({"type": "websocket.send", "bytes": message.data})
        else:
            break
    await ex.send({"type": "websocket.close", "code": upstream.close_code or 1000})


async def _recheck(gw: Gateway, ex: Exchange, decision: Decision) -> None:
    """Close the socket when the principal stops being valid (same rule as for streams)."""
    if decision.principal is None:
        await asyncio.Event().wait()
    await gw.recheck.until_refused(ex, decision)
    await ex.send({"type": "websocket.close", "code": POLICY_VIOLATION})
