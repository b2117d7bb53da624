"""The gateway's ASGI app behind granian's RSGI interface, for `bench.serving` only.

    granian --interface rsgi --factory bench.rsgi:app

RSGI hands the app a scope and a protocol object (`await protocol()` reads the body,
`protocol.response_bytes(...)` answers in one call, `protocol.response_stream(...)` streams).
This adapter turns them into the ASGI calls the gateway makes, holding the response head
until the first body message so a one-piece answer leaves through `response_bytes`. It is
what a move to RSGI would cost at least: the gateway's code is ASGI throughout.
"""

from __future__ import annotations

from typing import Any

from gateway.server.factory import app as gateway_app

Message = dict[str, Any]


class RSGIGateway:
    def __init__(self) -> None:
        self.asgi = gateway_app()
        self.started = False

    def __rsgi_init__(self, loop: Any) -> None:
        """Called before granian runs the loop: the gateway's start-up runs on it first."""
        loop.run_until_complete(self._lifespan("startup"))

    def __rsgi_del__(self, loop: Any) -> None:
        pass

    async def _lifespan(self, phase: str) -> None:
        sent: list[Message] = [{"type": f"lifespan.{phase}"}]

        async def receive() -> Message:
            return sent.pop() if sent else {"type": "lifespan.shutdown"}

        async def send(message: Message) -> None:
            if message["type"].endswith("failed"):
                raise RuntimeError(message.get("message", "lifespan failed"))
            if message["type"] == "lifespan.startup.complete":
                raise _Started

        try:
            await self.asgi({"type": "lifespan"}, receive, send)
        except _Started:
            self.started = True

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        path = scope.path
        raw_path = path.encode("latin-1")
        asgi_scope: Message = {
            "type": "http",
            "http_version": scope.http_version,
            "method": scope.method,
            "scheme": scope.scheme,
            "path": path,
            "raw_path": raw_path,
            "query_string": scope.query_string.encode("latin-1"),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()],
            "client": (scope.client.rsplit(":", 1)[0], 0),
            "server": ("127.0.0.1", 0),
        }
        read = False

        async def receive() -> Message:
            nonlocal read
            if read:
                return {"type": "http.disconnect"}
            read = True
            return {"type": "http.request", "body": await protocol(), "more_body": False}

        head: list[Any] = []
        stream: Any = None

        async def send(message: Message) -> None:
            nonlocal stream
            if message["type"] == "http.response.start":
                pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]]
                head[:] = [message["status"], pairs]
            elif stream is None and not message.get("more_body", False):
                protocol.response_bytes(head[0], head[1], message.get("body", b""))
            else:
                if stream is None:
                    stream = protocol.response_stream(head[0], head[1])
                if message.get("body"):
                    await stream.send_bytes(message["body"])

        await self.asgi(asgi_scope, receive, send)


class _Started(Exception):
    pass


def app() -> RSGIGateway:
    return RSGIGateway()
