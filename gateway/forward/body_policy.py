"""`BodyPolicy`: what is read of a request body before it is forwarded.

Small bodies (64 KiB at most) are read into memory (one write upstream); larger ones are
streamed. A route whose label profile inspects the body (`Route.injects_labels`) gets it in
memory, bounded by GATEWAY_MAX_BODY_BYTES: a larger declared length is refused (413) before
a byte is read. A protocol upgrade is refused unless the route allows websockets.
"""

from __future__ import annotations

from gateway.errors import BadRequest, PayloadTooLarge
from gateway.forward.proxy import Body
from gateway.front.exchange import Exchange
from gateway.policy import Route


class BodyPolicy:
    def __init__(self, limit: int) -> None:
        #: GATEWAY_MAX_BODY_BYTES: the bound on a body the gateway inspects
        self.limit = limit

    async def take(self, ex: Exchange, route: Route) -> Body:
        """What is forwarded of the request body: in memory (bounded) or streamed."""
        if b"upgrade" in ex.request.first and not route.websocket:
            raise BadRequest("protocol upgrades are not allowed on this route", reason="upgrade_refused")
        inspected = route.injects_labels
        if not ex.has_body():
            return None
        declared = ex.request.header(b"content-length")
        size = int(declared) if declared is not None and declared.isdigit() else None
        limit = self.limit
        if inspected and size is not None and size > limit:  # refused before reading a byte
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        if size is not None and size <= 64 << 10:  # small: in memory whatever the route
            return await ex.read_body(min(limit, 64 << 10) if inspected else 64 << 10)
        return ex.stream_body()
