"""One headless Chromium per test module (tests.support.browser).

Per module, not per session: Playwright's sync API runs its own event loop in this thread
while the browser is open, and the suite's asyncio tests (collected after these) need the
thread free again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running
