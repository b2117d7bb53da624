"""Clocks to inject: the code under test takes `clock=` and the test moves time by hand.

    clock = FakeClock()
    cache = Cache(settings, clock, ...)
    clock.advance(31)          # the TTL has passed, no sleep

`OffsetClock` is the wall clock plus an offset, for code that talks to the emulator: the
test advances both together (`emulator.control("POST", "clock", {"advance": 60})`).
"""

from __future__ import annotations

import time

#: where a FakeClock starts: a plausible epoch (2027-01-15), so expiries are ordinary numbers
START = 1_800_000_000.0


class FakeClock:
    """A clock that stands still until the test advances it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class OffsetClock:
    """Wall clock plus an offset the test advances (in step with the emulator's clock)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
