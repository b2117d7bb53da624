"""Processes for tests/robustness: one Ory emulator, recording and faulty upstreams per session;
each module starts the gateway it needs (settings differ: timeouts, cache TTLs, Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.robustness.support import Faulty, faulty_upstream
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.processes import Recorder, recording_upstream
from tests.support.seed import CLIENTS, PASSWORDS, SEED, TENANTS, client_token, login


@dataclass
class Backends:
    emulator: RunningEmulator
    rec: Recorder
    faulty: Faulty
    http: httpx.Client
    _tokens: dict[str, str]

    def token(self, who: str) -> str:
        """A session token (user name) or a machine token (``client:scope``), cached."""
        if who not in self._tokens:
            if ":" in who:
                client, scope = who.split(":", 1)
                tenant, secret = CLIENTS[client]
                self._tokens[who] = client_token(self.emulator.base_url, tenant, client, secret, scope)
            else:
                self._tokens[who] = login(self.emulator.base_url, *PASSWORDS[who])
        return self._tokens[who]

    def recorded(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = self.http.get(self.rec.url + "/__recorder/requests").json()
        return got

    def clear(self) -> None:
        self.http.delete(self.rec.url + "/__recorder/requests").raise_for_status()

    def faults(self, method: str, **body: object) -> None:
        url = self.emulator.base_url + "/_emulator/faults"
        resp = self.http.post(url, json=body) if method == "POST" else self.http.delete(url)
        resp.raise_for_status()


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    with (
        start_emulator(TENANTS, seed=SEED) as emulator,
        recording_upstream() as rec,
        faulty_upstream() as faulty,
        httpx.Client(timeout=15) as http,
    ):
        yield Backends(emulator, rec, faulty, http, {})
