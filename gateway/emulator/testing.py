"""Start the emulator as a real process on a free port, for tests in any package.

with start_emulator(["customer"], seed=path) as emu:
    httpx.get(emu.project_url("customer") + "/sessions/whoami")
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.cli.processes import stop_process
from gateway.emulator.state import DEFAULT_API_KEY


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningEmulator:
    base_url: str
    process: subprocess.Popen[bytes]
    api_key: str = DEFAULT_API_KEY
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

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
        stop_process(self.process, timeout=5)


def _wait_ready(emulator: RunningEmulator, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            err = ""
            if emulator.process.stderr is not None:
                emulator.process.stderr.seek(0)
                err = emulator.process.stderr.read().decode(errors="replace")
            raise RuntimeError(f"emulator exited with {emulator.process.returncode}: {err.strip()}")
        try:
            if httpx.get(f"{emulator.base_url}/_emulator/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    emulator.stop()
    raise RuntimeError(f"emulator did not become ready within {timeout} s")


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
    port = free_port()
    cmd = [sys.executable, "-m", "gateway.emulator", "--listen", f"127.0.0.1:{port}", "--api-key", api_key]
    cmd += ["--base-url", base_url] if base_url else []
    for name in projects:
        cmd += ["--project", name]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; read on failure
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    running = RunningEmulator(base_url=f"http://127.0.0.1:{port}", process=process, api_key=api_key)
    _wait_ready(running, timeout)
    return running


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
