"""What a span is to the rest of the gateway: the request's trace, the active span calls are
children of, and the `with` scope of a span (`NOOP` when spans are not exported).

`gateway.observe.tracing` makes them, and `gateway.observe.export` records them when export
is on; both read these types from here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol

Header = tuple[bytes, bytes]
AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]
Kind = Literal["internal", "client"]


class Active(Protocol):
    """What a call made now is a child of: its outgoing headers, and its span when recorded."""

    @property
    def headers(self) -> tuple[Header, ...]: ...

    @property
    def span(self) -> Any: ...

    @property
    def state(self) -> str: ...

    @property
    def export(self) -> Any:
        """The exporter recording this trace's spans (`gateway.observe.export.Export`), or None."""


# a NamedTuple, not a class with __init__: built per request (docs/performance.md)
class RequestTrace(NamedTuple):
    """One request's place in its trace: the gateway's (server) span."""

    trace_id: str
    sampled: bool
    #: the caller's `tracestate`, passed on ("" when none)
    state: str
    #: `traceparent` (and `tracestate`) naming this span as parent
    headers: tuple[Header, ...]
    #: the SDK's span when exported, else None
    span: Any = None
    #: the exporter that records this trace's spans (`gateway.observe.export.Export`), else None
    export: Any = None


#: the span calls made now are children of (a request's trace, or a span inside it)
ACTIVE: ContextVar[Active | None] = ContextVar("gateway_trace", default=None)


class Scope:
    """A span while it is open (`with`): `set` adds an attribute, `response` records a client
    span's HTTP status, `fail` an error by its fixed reason id (an exception leaving the
    block is recorded the same way)."""

    __slots__ = ()

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def set(self, key: str, value: AttributeValue) -> None:
        return None

    def response(self, status: int) -> None:
        return None

    def fail(self, reason: str) -> None:
        return None


class _Noop(Scope):
    """The scope of every span when export is off. Its `with` costs two C calls instead of two
    Python ones (docs/performance.md): enter returns NOOP, exit returns "" (falsy: an exception
    is never swallowed)."""

    __slots__ = ()


NOOP = _Noop()
_Noop.__enter__ = itertools.repeat(NOOP).__next__  # type: ignore[assignment,method-assign]
_Noop.__exit__ = "".format  # type: ignore[assignment,method-assign]
