"""Start the real @coji/durably service (server.mjs) as a process for tests.

    with durably_server() as durably:
        httpx.post(durably.api_url + "/trigger", json={...})
        durably.recorder.requests()   # what Durably actually received

It runs under tests.support.processes.spawn on a free port, ready once its recorder
answers. ``ensure_installed()`` runs ``install.sh`` (idempotent, ~1 s when up to date).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.polling import eventually
from tests.support.processes import Proc, answers, free_port, spawn

#: the Durably sample service and its npm install (tests/durably/)
HERE = Path(__file__).resolve().parents[1] / "durably"
SERVER = HERE / "server.mjs"
INSTALL = HERE / "install.sh"
BASE_PATH = "/api/durably"
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
    proc: Proc

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.proc.process

    @property
    def base_url(self) -> str:
        return self.proc.url

    @property
    def api_url(self) -> str:
        return self.base_url + BASE_PATH

    @property
    def recorder(self) -> Recorder:
        return Recorder(self.base_url)


@contextmanager
def durably_server(
    db: str = ":memory:", env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[DurablyServer]:
    """Install if needed, start server.mjs on a free port, stop it (SIGTERM) afterwards."""
    ensure_installed()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["node", str(SERVER), "--port", str(port)]
    proc = spawn(args, url, answers(url + "/__recorder/requests"), {"DURABLY_DB": db, **(env or {})}, timeout)
    try:
        yield DurablyServer(proc)
    finally:
        proc.stop()


def wait_for_status(api_url: str, run_id: str, statuses: set[str], timeout: float = 15.0) -> dict[str, Any]:
    """Poll GET /run until the run reaches one of ``statuses``; fail the test past `timeout`."""

    def run() -> dict[str, Any]:
        got: dict[str, Any] = httpx.get(f"{api_url}/run", params={"runId": run_id}).json()
        return got

    def reached() -> dict[str, Any] | None:
        got = run()
        return got if got.get("status") in statuses else None

    return eventually(reached, timeout=timeout, what=lambda: f"run {run_id} to reach {sorted(statuses)}: {run()}")
