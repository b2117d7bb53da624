"""A read-only view of the incoming request, as the pipeline stages see it."""

from __future__ import annotations

from collections.abc import Callable, KeysView
from dataclasses import dataclass, field
from typing import TypeVar

V = TypeVar("V")


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
    #: header name -> its first value: the one pass over the headers every stage reads from
    #: (built in C: `dict` over the reversed list keeps the first of repeated names)
    first: dict[bytes, bytes] = field(init=False, repr=False, compare=False)
    #: header name -> every value, only when some name is repeated (else None: `first` is all)
    repeated: dict[bytes, list[bytes]] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        headers = self.headers
        self.first = first = dict(reversed(headers))
        self.repeated = None if len(first) == len(headers) else _grouped(headers)

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower-case), or None."""
        return self.first.get(name)

    def header_values(self, name: bytes) -> list[bytes]:
        if self.repeated is not None:
            return self.repeated.get(name, [])
        value = self.first.get(name)
        return [] if value is None else [value]

    def header_names(self) -> KeysView[bytes]:
        """Every header name sent (lower-case, each once)."""
        return self.first.keys()

    def cookie_header(self) -> str | None:
        """All Cookie headers joined as one (HTTP/2 may split them)."""
        values = self.header_values(b"cookie")
        return "; ".join(v.decode("latin-1") for v in values) if values else None


def _grouped(headers: list[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    index: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        index.setdefault(name, []).append(value)
    return index


class Spellings(dict[bytes, V]):
    """Header name as sent -> what a check makes of it, worked out once per name.

    Looked up with `spellings[name]` (a C dictionary hit on the hot path, no Python call);
    a name not seen yet is worked out by `judge`, and kept while fewer than `limit` are
    (names past the limit are worked out each time: a client cannot grow it without bound).
    """

    def __init__(self, judge: Callable[[bytes], V], limit: int = 4096) -> None:
        super().__init__()
        self.judge = judge
        self.limit = limit

    def __missing__(self, name: bytes) -> V:
        verdict = self.judge(name)
        if len(self) < self.limit:
            self[name] = verdict
        return verdict
