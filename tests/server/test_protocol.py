"""The connection's deadlines (gateway.server.protocol): one timer per connection, moved by
every request, against a loop whose clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Callable

from gateway.server.protocol import Deadline


class Clock:
    """A loop with a hand-moved clock: `call_at` only records."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None], Timer]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()
        self.timers.append((when, callback, timer))
        return timer

    def advance(self, to: float) -> None:
        self.now = to
        due = [t for t in self.timers if t[0] <= to and not t[2].cancelled]
        self.timers = [t for t in self.timers if t not in due]
        for _, callback, _ in due:
            callback()


class Timer:
    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def test_a_deadline_moved_by_every_request_uses_one_timer_and_fires_once_late_enough() -> None:
    clock, fired = Clock(), []
    deadline = Deadline(clock, 10, lambda: fired.append(clock.now))  # type: ignore[arg-type]
    deadline.start()
    for now in (1.0, 2.0, 5.0):  # requests keep pushing it back
        clock.now = now
        deadline.clear()
        deadline.start()
    assert len(clock.timers) == 1
    clock.advance(10)  # the first timer finds the deadline moved to 15 and re-arms for it
    assert fired == [] and [t[0] for t in clock.timers] == [15.0]
    clock.advance(15)
    assert fired == [15] and not deadline.pending


def test_a_cleared_deadline_never_fires_and_cancel_drops_the_timer() -> None:
    clock, fired = Clock(), []
    deadline = Deadline(clock, 10, lambda: fired.append(clock.now))  # type: ignore[arg-type]
    deadline.start()
    deadline.clear()
    clock.advance(20)
    assert fired == [] and clock.timers == []
    deadline.start()
    deadline.cancel()
    assert clock.timers[0][2].cancelled
