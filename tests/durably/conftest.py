from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.durably import DurablyServer, durably_server


@pytest.fixture(scope="module")
def durably() -> Iterator[DurablyServer]:
    # throttle 0 so every progress event reaches SSE subscribers deterministically
    with durably_server(env={"DURABLY_SSE_THROTTLE_MS": "0"}) as server:
        yield server
