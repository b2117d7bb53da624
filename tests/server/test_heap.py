"""The collector settings the app applies once it has started (gateway/server/heap.py)."""

from __future__ import annotations

import gc
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
