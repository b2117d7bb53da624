"""Fixtures shared by the end-to-end suites: the seed world as real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.world import World, start_world


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """Emulator + Durably + recording upstream + gateway, started once per test session."""
    with start_world() as running:
        yield running
