"""The collector settings the app applies once it has started (gateway/server/heap.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from gateway.server import heap


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_settle_freezes_what_lives_and_collects_young_objects_less_often() -> None:
    long_lived = [object() for _ in range(1000)]
    heap.settle()
    assert gc.get_freeze_count() >= len(long_lived)
    assert gc.get_threshold() == heap.THRESHOLDS
    # cycles made after start-up are still collected
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


class _Node:
    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("restore_gc")
def test_a_promoted_cycle_is_freed_by_a_full_collection_that_comes_on_its_own() -> None:
    """A keep-alive connection and its parser reference each other and live long enough to
    reach the oldest generation; once dropped, only a full collection frees them. It must come
    on its own while the server makes short-lived cycles (tens of thousands a second under load,
    freed by the young collections), not once the whole start-up heap's worth was promoted."""
    per_full = heap.THRESHOLDS[0] * heap.THRESHOLDS[1] * heap.THRESHOLDS[2]
    assert per_full <= 5_000_000  # a few minutes of such cycles at the soak's load
    heap.settle()
    old = _Node()
    gc.collect(1)  # promoted to the oldest generation, as a connection kept alive for seconds is
    gone = weakref.ref(old)
    del old
    full_before = gc.get_stats()[2]["collections"]
    made = 0
    while gone() is not None and made < 2 * per_full:
        _Node()
        made += 1
    assert gone() is None
    assert gc.get_stats()[2]["collections"] == full_before + 1
