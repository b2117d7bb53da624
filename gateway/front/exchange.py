"""One request/response exchange: the ASGI triple plus what the pipeline learned."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from gateway.errors import BadRequest, GatewayError, PayloadTooLarge
from gateway.front.request import RequestView
from gateway.front.trusted_proxies import Origin

if TYPE_CHECKING:
    from gateway.observe.spans import RequestTrace

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(slots=True)
class Exchange:
    scope: Scope
    receive: Receive
    send: Send
    request: RequestView
    origin: Origin
    raw_path: bytes
    #: the request's place in its W3C trace (gateway.observe.tracing): its ids, its span when exported
    trace: RequestTrace
    started: float = field(default_factory=time.perf_counter)
    #: fields for the access log line (tenant, rule, kind, principal, org, decision, reason)
    log: dict[str, object] = field(default_factory=dict)
    status: int = 0
    #: the principal kinds the matched route accepts (for the browser login redirect)
    kinds: tuple[str, ...] = ()
    #: a WebSocket handshake: checked for cross-origin use of the cookie like a request
    #: that changes state (gateway.front.cross_origin)
    handshake: bool = False
    #: Access-Control-* and Vary headers every answer to this request carries (gateway.front.cors)
    cors: tuple[tuple[bytes, bytes], ...] = ()
    #: whoami's refreshed session cookie (a `Set-Cookie` value) for this request's answer only
    session_cookie: bytes = b""
    #: the RateLimit fields of the route's quota this request counted against (`gateway.quotas.routes`)
    quota: tuple[tuple[bytes, bytes], ...] = ()

    def refreshed(self, set_cookie: str) -> None:
        """Pass a refreshed session cookie on with whatever this request is answered
        (`gateway.authn`: its `refreshed` callback)."""
        self.session_cookie = set_cookie.encode("latin-1")

    def added(self) -> list[tuple[bytes, bytes]]:
        """The gateway's own headers on top of an answer: CORS, the route's RateLimit fields, a
        refreshed session cookie."""
        if not self.session_cookie:
            return [*self.cors, *self.quota]
        return [*self.cors, *self.quota, (b"set-cookie", self.session_cookie)]

    async def send_start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        if self.cors or self.quota or self.session_cookie:
            headers = [*headers, *self.added()]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def respond(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        # the length lets the head and the body leave in one write; X-Request-Id is the Tracker's
        base = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await self.send_start(status, base + headers if headers else base)
        await self.send({"type": "http.response.body", "body": body})

    async def respond_json(self, status: int, doc: object, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await self.respond(status, orjson.dumps(doc), headers)

    async def respond_error(self, error: GatewayError, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        """`headers`: more the answer carries (a `/decisions` denial's `X-Accel-Expires: 0`)."""
        self.log["decision"] = "deny"
        self.log["reason"] = error.reason
        extra = [(k.encode(), v.encode("latin-1", "replace")) for k, v in error.headers().items()]
        extra.append((b"cache-control", b"no-store"))
        extra.extend(headers)
        await self.respond(error.status, error.body(self.origin.request_id), extra)

    def has_body(self) -> bool:
        headers = self.request.first
        return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers

    async def read_body(self, limit: int) -> bytes:
        """The whole request body, refused with 413 past `limit` before buffering more."""
        declared = self.request.header(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.stream_body():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def stream_body(self) -> AsyncIterator[bytes]:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("client disconnected while sending the body", reason="client_disconnected")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
