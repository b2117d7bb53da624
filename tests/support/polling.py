"""Waiting for what another process (or thread) does: one helper, one contract.

    run = eventually(lambda: finished_run(rid), timeout=15, what=f"run {rid} to finish")

`eventually(check)` calls `check()` every `interval` seconds until it returns something
truthy, and returns that value. When `timeout` seconds pass first, it fails the test with
an `AssertionError` saying what it waited for: `what` is text, or a function called at that
moment (for the state worth showing, e.g. the sockets still open). `poll(check)` is the same
wait for a caller that decides itself what a timeout means: it returns None then.

Only for another process or thread: code under test that runs in the test's own process
takes a clock (tests.support.clock) and the test moves it instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(check: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.05) -> T | None:
    """The first truthy value of `check()` within `timeout` seconds; else None."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def eventually(
    check: Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str | Callable[[], object] = "",
) -> T:
    """The first truthy value of `check()` within `timeout` seconds; else fail the test."""
    got = poll(check, timeout=timeout, interval=interval)
    if not got:
        described = what() if callable(what) else what
        raise AssertionError(f"not within {timeout} s: {described or check}")
    return got
