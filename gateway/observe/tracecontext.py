"""W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` and `tracestate`.

    parse(traceparents, tracestates) -> Parent | None   what a caller sent, or None: start a new trace
    new_trace_id(), new_span_id()                      random ids (never all zeros)
    traceparent(trace_id, span_id, sampled)             the header value, version 00

Parsing follows the spec's rules for a receiver: exactly one `traceparent`; lower-case hex
only; version `ff` and all-zero ids are invalid; a version above 00 is read for its first
four fields when the value goes on with `-`. Anything else is no parent at all (the
gateway then starts a new trace and drops the caller's `tracestate` with it). `tracestate`
headers are joined, checked member by member (key and value grammar, at most 32 members,
no duplicate keys) and dropped as a whole if any member is malformed; above 512 characters,
members longer than 128 go first, then members from the end (the spec's truncation order).

Ids are ASCII hex as `str`: they go into headers and log lines as they are. The random
source is `random.getrandbits` (as OpenTelemetry's SDK uses): ids must be unique, not secret.
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

MAX_STATE_MEMBERS = 32
MAX_STATE_CHARS = 512
LONG_STATE_MEMBER = 128

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX2 = re.compile(r"[0-9a-f]{2}")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16

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
    value = traceparents[0].strip().decode("latin-1")
    if len(value) < 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    version, trace_id, span_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if not _HEX2.fullmatch(version) or version == "ff" or (version == "00" and len(value) != 55):
        return None
    if len(value) > 55 and value[55] != "-":  # a later version's extra fields follow a dash
        return None
    if not (_HEX32.fullmatch(trace_id) and _HEX16.fullmatch(span_id) and _HEX2.fullmatch(flags)):
        return None
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    return Parent(trace_id, span_id, bool(int(flags, 16) & 1), checked_state(tracestates))


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


def new_trace_id() -> str:
    return "%032x" % (random.getrandbits(128) or 1)


def new_span_id() -> str:
    return "%016x" % (random.getrandbits(64) or 1)


def traceparent(trace_id: str, span_id: str, sampled: bool) -> bytes:
    """The version-00 header value (flags: only the sampled bit)."""
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}".encode("ascii")
