"""The Ory emulator as a real process on a free port.

    with start_emulator(["customer"], seed=path) as emu:
        httpx.get(emu.project_url("customer") + "/sessions/whoami")
        emu.control("POST", "clock", {"advance": 60})

Started with tests.support.processes.spawn: ready once `/_emulator/health` answers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import httpx

from gateway.emulator.state import DEFAULT_API_KEY
from tests.support.processes import Proc, answers, free_port, spawn


@dataclass
class RunningEmulator:
    proc: Proc
    api_key: str = DEFAULT_API_KEY
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def base_url(self) -> str:
        return self.proc.url

    @property
    def process(self) -> Popen[bytes]:
        return self.proc.process

    def project_url(self, project: str) -> str:
        return f"{self.base_url}/{project}"

    def control(self, method: str, path: str, json: object | None = None) -> httpx.Response:
        """Call a /_emulator/ endpoint, e.g. control("POST", "clock", {"advance": 60})."""
        return self._http.request(method, f"{self.base_url}/_emulator/{path}", json=json)

    def reset(self) -> None:
        """Clear faults, the clock offset and the statistics."""
        self.control("POST", "reset").raise_for_status()

    def stop(self) -> None:
        self._http.close()
        self.proc.stop()


def launch(
    projects: Sequence[str] = ("default",),
    *,
    seed: Path | None = None,
    api_key: str = DEFAULT_API_KEY,
    timeout: float = 60.0,
    base_url: str | None = None,
) -> RunningEmulator:
    """Start `python -m gateway.emulator` on a free loopback port and wait until it answers.
    `base_url` is the public URL it names itself by (e.g. https://..., for Secure cookies)."""
    url = f"http://127.0.0.1:{free_port()}"
    args = [sys.executable, "-m", "gateway.emulator", "--listen", url.removeprefix("http://"), "--api-key", api_key]
    args += ["--base-url", base_url] if base_url else []
    for name in projects:
        args += ["--project", name]
    if seed is not None:
        args += ["--seed", str(seed)]
    return RunningEmulator(spawn(args, url, answers(url + "/_emulator/health"), timeout=timeout), api_key)


@contextmanager
def start_emulator(
    projects: Sequence[str] = ("default",),
    *,
    seed: Path | None = None,
    api_key: str = DEFAULT_API_KEY,
    timeout: float = 60.0,
    base_url: str | None = None,
) -> Iterator[RunningEmulator]:
    running = launch(projects, seed=seed, api_key=api_key, timeout=timeout, base_url=base_url)
    try:
        yield running
    finally:
        running.stop()
