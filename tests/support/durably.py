"""Start the real @coji/durably service (server.mjs) as a process for tests.

    with durably_server() as durably:
        httpx.post(durably.api_url + "/trigger", json={...})
        durably.recorder.requests()   # what Durably actually received

The server listens on a free port chosen by the OS (``--port 0``); the port is
read from its ready line, so there is no race between picking and binding.
``ensure_installed()`` runs ``install.sh`` (idempotent, ~1 s when up to date).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: the Durably sample service and its npm install (tests/durably/)
HERE = Path(__file__).resolve().parents[1] / "durably"
SERVER = HERE / "server.mjs"
INSTALL = HERE / "install.sh"
BASE_PATH = "/api/durably"
_READY = re.compile(r"durably listening on (\d+)")
_install_lock = threading.Lock()
_installed = False


def ensure_installed() -> None:
    """Run install.sh once per process; raise with its output if it fails."""
    global _installed
    with _install_lock:
        if _installed:
            return
        if shutil.which("node") is None:
            raise RuntimeError("node is not installed; the Durably harness needs Node 20+")
        proc = subprocess.run([str(INSTALL)], cwd=HERE, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tests/durably/install.sh failed:\n{proc.stdout}\n{proc.stderr}")
        _installed = True


@dataclass(frozen=True)
class RecordedRequest:
    seq: int
    method: str
    path: str  # raw request target: path + "?" + query, exactly as received
    headers: tuple[tuple[str, str], ...]  # raw (name, value) pairs, in order
    body: str
    status: int | None

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def query(self) -> str:
        return self.path.partition("?")[2]


@dataclass(frozen=True)
class Recorder:
    base_url: str

    def requests(self) -> list[RecordedRequest]:
        data: list[dict[str, Any]] = httpx.get(f"{self.base_url}/__recorder/requests").json()
        return [_to_record(item) for item in data]

    def clear(self) -> None:
        httpx.delete(f"{self.base_url}/__recorder/requests").raise_for_status()


def _to_record(item: Mapping[str, Any]) -> RecordedRequest:
    return RecordedRequest(
        seq=int(item["seq"]),
        method=str(item["method"]),
        path=str(item["path"]),
        headers=tuple((str(k), str(v)) for k, v in item["headers"]),
        body=str(item["body"]),
        status=item["status"],
    )


@dataclass
class DurablyServer:
    port: int
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + BASE_PATH

    @property
    def recorder(self) -> Recorder:
        return Recorder(self.base_url)


def _pump(proc: subprocess.Popen[str], lines: list[str], ready: threading.Event) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if _READY.search(line):
            ready.set()
    ready.set()  # process ended: unblock the waiter, which then sees no port


def _start(db: str, env: Mapping[str, str] | None, timeout: float) -> DurablyServer:
    full_env = {**os.environ, "DURABLY_DB": db, **(env or {})}
    proc = subprocess.Popen(
        ["node", str(SERVER), "--port", "0"],
        cwd=HERE,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()
    threading.Thread(target=_pump, args=(proc, lines, ready), daemon=True).start()
    ready.wait(timeout)
    port = next((int(m.group(1)) for m in map(_READY.search, lines) if m), None)
    if port is None:
        _stop(proc)
        raise RuntimeError("durably server did not start:\n" + "\n".join(lines))
    return DurablyServer(port=port, process=proc, output=lines)


def _stop(proc: subprocess.Popen[str], grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


@contextmanager
def durably_server(
    db: str = ":memory:", env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[DurablyServer]:
    """Install if needed, start server.mjs on a free port, stop it (SIGTERM) afterwards."""
    ensure_installed()
    server = _start(db, env, timeout)
    try:
        yield server
    finally:
        _stop(server.process)


def wait_for_status(api_url: str, run_id: str, statuses: set[str], timeout: float = 15.0) -> dict[str, Any]:
    """Poll GET /run until the run reaches one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = httpx.get(f"{api_url}/run", params={"runId": run_id}).json()
        if run.get("status") in statuses or time.monotonic() > deadline:
            return run
        time.sleep(0.05)
