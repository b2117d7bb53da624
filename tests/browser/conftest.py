"""One headless Chromium per test module (tests.support.browser), and one gateway in front
of a Durably that trusts only it (tests.support.guarded) for the whole folder.

Per module, not per session: Playwright's sync API runs its own event loop in this thread
while the browser is open, and the suite's asyncio tests (collected after these) need the
thread free again."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium
from tests.support.guarded import Guarded, guarded_jobs
from tests.support.processes import answers, free_port, running
from tests.support.world import World

#: how often an open stream's principal is re-checked here (the revoked-session test waits on it)
RECHECK_SECONDS = 2


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="package")
def jobs(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    """The dashboard's gateway: the session world's emulator and dashboard page, its own Durably
    (auth hooks on the gateway's assertion) and streams re-checked every RECHECK_SECONDS."""
    env = {"GATEWAY_STREAM_RECHECK_SECONDS": str(RECHECK_SECONDS)}
    with guarded_jobs(world, tmp_path_factory.mktemp("browser"), env) as running:
        yield running


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another origin on this machine: a plain static server on another loopback port (a real
    server: Chromium treats a page it did not load from a loopback address as public)."""
    folder: Path = tmp_path_factory.mktemp("elsewhere")
    (folder / "index.html").write_text("<!doctype html><title>cats</title><h1>cute cats</h1>")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)]
    with running(args, origin, answers(origin + "/")):
        yield origin
