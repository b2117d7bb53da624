"""W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` and `tracestate`.

    parse(traceparents, tracestates) -> Parent | None   what a caller sent, or None: start a new trace
    new_ids()                                           a trace id and a span id, random, never zero
    traceparent(trace_id, span_id, sampled)             the header value, version 00

Parsing follows the spec's rules for a receiver: exactly one `traceparent`; lower-case hex
only; version `ff` and all-zero ids are invalid; a version above 00 is read for its first
four fields when the value goes on with `-`. Anything else is no parent at all (the
gateway then starts a new trace and drops the caller's `tracestate` with it). `tracestate`
headers are joined, checked member by member (key and value grammar, at most 32 members,
no duplicate keys) and dropped as a whole if any member is malformed; above 512 characters,
members longer than 128 go first, then members from the end (the spec's truncation order).

Ids are lower-case hex, random (`os.urandom`): W3C asks for random trace ids, and other
services sample by their low bits. They are drawn many requests' worth at a time
(`BATCH`) and handed out by slicing: drawing and formatting them one by one was a large
share of the gateway's tracing cost per request (docs/performance.md).
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

MAX_STATE_MEMBERS = 32
MAX_STATE_CHARS = 512
LONG_STATE_MEMBER = 128
#: 48 hex digits per request (a trace id and a span id), drawn for this many requests at once
BATCH = 1024

#: version, trace id, parent id, flags, and what a later version may add after a dash
_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16

_KEY_CHARS = r"[a-z0-9_\-*/]"
_STATE_MEMBER = re.compile(
    rf"(?:[a-z]{_KEY_CHARS}{{0,255}}|[a-z0-9]{_KEY_CHARS}{{0,240}}@[a-z]{_KEY_CHARS}{{0,13}})"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)


class Parent(NamedTuple):
    """A valid incoming trace context: the caller's span is the gateway's span's parent."""

    trace_id: str
    span_id: str
    sampled: bool
    #: the caller's `tracestate`, checked, to pass on unchanged ("" when none)
    state: str


def parse(traceparents: list[bytes], tracestates: list[bytes]) -> Parent | None:
    """The caller's context from every `traceparent` and `tracestate` header it sent."""
    if len(traceparents) != 1:  # none, or several: nothing to continue
        return None
    found = _TRACEPARENT.fullmatch(traceparents[0].strip())
    if found is None:
        return None
    version, trace_id, span_id, flags, more = found.groups()
    if version == b"ff" or (version == b"00" and more is not None):  # 00 is exactly 55 characters
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return Parent(trace_id.decode(), span_id.decode(), bool(int(flags, 16) & 1), checked_state(tracestates))


def checked_state(values: list[bytes]) -> str:
    """The `tracestate` to pass on: "" when absent or malformed, truncated as the spec says."""
    if not values:
        return ""
    joined = b",".join(values).decode("latin-1")
    members = [m.strip(" \t") for m in joined.split(",")]
    members = [m for m in members if m]
    if len(members) > MAX_STATE_MEMBERS or not all(_STATE_MEMBER.fullmatch(m) for m in members):
        return ""
    keys = [m.split("=", 1)[0] for m in members]
    if len(set(keys)) != len(keys):
        return ""
    return _truncated(members)


def _truncated(members: list[str]) -> str:
    state = ",".join(members)
    if len(state) <= MAX_STATE_CHARS:
        return state
    members = [m for m in members if len(m) <= LONG_STATE_MEMBER]
    while members and len(",".join(members)) > MAX_STATE_CHARS:
        members.pop()
    return ",".join(members)


def new_ids() -> str:
    """48 hex digits: a trace id (32) then a span id (16), random, neither all zeros."""
    global _drawn, _next
    at = _next
    if at >= len(_drawn):
        _drawn, at = _draw(), 0
    _next = at + 48
    return _drawn[at : at + 48]


def _draw() -> str:
    drawn = os.urandom(24 * BATCH).hex()
    while "0" * 16 in drawn:  # an all-zero id (or a run that could hold one): about never
        drawn = os.urandom(24 * BATCH).hex()
    return drawn


def _forget() -> None:
    """A forked child must not hand out its parent's ids."""
    global _drawn, _next
    _drawn, _next = "", 0


_drawn = ""
_next = 0
os.register_at_fork(after_in_child=_forget)


def traceparent(trace_id: str, span_id: str, sampled: bool) -> bytes:
    """The version-00 header value (flags: only the sampled bit)."""
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}".encode("ascii")
