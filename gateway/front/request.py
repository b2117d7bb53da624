"""A read-only view of the incoming request, as the pipeline stages see it."""

from __future__ import annotations

from collections.abc import KeysView
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestView:
    method: str
    #: the canonical path (see gateway.front.paths): what is matched is what is forwarded
    path: str
    raw_query: bytes
    #: raw ASGI headers, names lower-case
    headers: list[tuple[bytes, bytes]]
    client_ip: str
    request_id: str = ""
    host: str = ""
    scheme: str = "http"
    _index: dict[bytes, list[bytes]] | None = field(default=None, repr=False)

    def _headers(self) -> dict[bytes, list[bytes]]:
        if self._index is None:
            index: dict[bytes, list[bytes]] = {}
            for name, value in self.headers:
                index.setdefault(name, []).append(value)
            self._index = index
        return self._index

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower-case), or None."""
        values = self._headers().get(name)
        return values[0] if values else None

    def header_values(self, name: bytes) -> list[bytes]:
        return self._headers().get(name, [])

    def header_names(self) -> KeysView[bytes]:
        """Every header name sent (lower-case, each once)."""
        return self._headers().keys()

    def cookie_header(self) -> str | None:
        """All Cookie headers joined as one (HTTP/2 may split them)."""
        values = self.header_values(b"cookie")
        return "; ".join(v.decode("latin-1") for v in values) if values else None
