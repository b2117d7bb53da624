"""W3C Trace Context parsing as a receiver must do it (the cases of the spec's test suite)."""

from __future__ import annotations

import pytest

from gateway.observe.tracecontext import (
    MAX_STATE_CHARS,
    Parent,
    checked_state,
    new_ids,
    parse,
    traceparent,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01".encode()


def test_a_valid_traceparent_is_the_parent() -> None:
    assert parse([VALID], []) == Parent(TRACE, SPAN, True, "")
    assert parse([f"00-{TRACE}-{SPAN}-00".encode()], []) == Parent(TRACE, SPAN, False, "")
    assert parse([b"  " + VALID + b" "], []) == Parent(TRACE, SPAN, True, "")  # optional whitespace


def test_only_the_sampled_bit_of_the_flags_is_read() -> None:
    assert parse([f"00-{TRACE}-{SPAN}-09".encode()], []) == Parent(TRACE, SPAN, True, "")
    assert parse([f"00-{TRACE}-{SPAN}-fe".encode()], []) == Parent(TRACE, SPAN, False, "")


def test_a_later_version_is_read_for_its_first_fields() -> None:
    assert parse([f"cc-{TRACE}-{SPAN}-01".encode()], []) == Parent(TRACE, SPAN, True, "")
    assert parse([f"cc-{TRACE}-{SPAN}-01-what-comes-next".encode()], []) == Parent(TRACE, SPAN, True, "")
    assert parse([f"cc-{TRACE}-{SPAN}-01.what".encode()], []) is None  # extra fields follow a dash


@pytest.mark.parametrize(
    "value",
    [
        "",
        "00",
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{TRACE}-{SPAN}-01-",  # version 00 is exactly 55 characters
        f"00-{TRACE}-{SPAN}-01x",
        f"00-{TRACE.upper()}-{SPAN}-01",  # lower-case hex only
        f"00-{TRACE}-{SPAN.upper()}-01",
        f"0A-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-0G",
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero ids
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE[:-1]}-{SPAN}0-01",  # a dash out of place
        f"00_{TRACE}_{SPAN}_01",
        f"00-{TRACE}-{SPAN}-1",
        f"00-{TRACE}z{SPAN}-01"[:55],
        f"00-{TRACE[:16]}\u00e9{TRACE[17:]}-{SPAN}-01",
    ],
)
def test_anything_else_is_no_parent(value: str) -> None:
    assert parse([value.encode("utf-8")], [b"vendor=value"]) is None


def test_two_traceparent_headers_are_no_parent() -> None:
    assert parse([VALID, VALID], []) is None
    assert parse([], [b"vendor=value"]) is None


def test_tracestate_headers_are_joined_and_kept_as_sent() -> None:
    assert parse([VALID], [b"rojo=00f067aa0ba902b7", b"congo=t61rcWkgMzE"]).state == (  # type: ignore[union-attr]
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    )
    assert checked_state([b" a=1 ,\t, b=2 "]) == "a=1,b=2"  # empty members and whitespace go
    assert checked_state([b"tenant@system=value", b"k_-*/9=v a l"]) == "tenant@system=value,k_-*/9=v a l"


@pytest.mark.parametrize(
    "value",
    [
        b"Upper=1",  # keys are lower case
        b"a=1,a=2",  # duplicate keys
        b"a=",  # an empty value
        b"a=b,c",  # a member without '='
        b"a=b=c",  # '=' in a value
        b"a=b\tc",  # a tab inside a value
        b"9a=1",  # a simple key starts with a letter
        b"t@S=1",
        b"a=\x7f",
        ",".join(f"k{i}=v" for i in range(33)).encode(),  # at most 32 members
    ],
)
def test_a_malformed_tracestate_is_dropped_as_a_whole(value: bytes) -> None:
    assert checked_state([b"good=1", value]) == ""


def test_a_long_tracestate_loses_its_long_members_first_then_from_the_end() -> None:
    long_member = "big=" + "x" * 200
    members = [f"k{i}={'v' * 40}" for i in range(12)]  # 12 x 44 = 528 characters with commas
    state = checked_state([",".join([members[0], long_member, *members[1:]]).encode()])
    assert len(state) <= MAX_STATE_CHARS
    assert "big=" not in state
    assert state == ",".join(members[:11])


def test_new_ids_are_hex_of_the_right_length_and_not_repeated() -> None:
    drawn = [new_ids() for _ in range(3000)]  # across batches
    traces = {ids[:32] for ids in drawn}
    spans = {ids[32:] for ids in drawn}
    assert len(traces) == len(spans) == 3000
    assert all(len(t) == 32 and int(t, 16) for t in traces)
    assert all(len(s) == 16 and int(s, 16) for s in spans)


def test_the_header_value_round_trips() -> None:
    assert traceparent(TRACE, SPAN, True) == VALID
    assert parse([traceparent(TRACE, SPAN, False)], []) == Parent(TRACE, SPAN, False, "")
