from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from gateway.config.settings import Settings
from tests.authn.emulated import API_KEY, SEED, settings_for
from tests.authn.fakes import FakeOry
from tests.support.clock import FakeClock, OffsetClock
from tests.support.emulator import RunningEmulator, start_emulator


@pytest.fixture
def ory() -> FakeOry:
    return FakeOry()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    seed: Path = tmp_path_factory.mktemp("authn") / "seed.yaml"
    seed.write_text(SEED)
    with start_emulator(["alpha", "beta", "gamma-cloud"], seed=seed, api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
def emu(emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def settings(emu: RunningEmulator) -> Settings:
    return settings_for(emu)


@pytest.fixture
def wall() -> OffsetClock:
    return OffsetClock()


@pytest_asyncio.fixture(loop_scope="function")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
