"""Real processes for end-to-end tests: the gateway under uvicorn and a recording upstream."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.cli.processes import stop_process
from gateway.emulator.testing import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_process(self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _spawn(args: list[str], env: Mapping[str, str], health: str, timeout: float = 20.0) -> Proc:
    log = Path(tempfile.mkstemp(prefix="proc-", suffix=".log")[1])
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    full_env.update(env)
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    proc = Proc(health.rsplit("/", 1)[0] if health.endswith("healthz") else health, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited with {process.returncode}:\n{proc.output()}")
        try:
            httpx.get(health, timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.stop()
    raise RuntimeError(f"{args} did not become ready:\n{proc.output()}")


@contextmanager
def gateway_process(env: Mapping[str, str], timeout: float = 20.0) -> Iterator[Proc]:
    listen = env.get("GATEWAY_LISTEN") or f"127.0.0.1:{free_port()}"
    env = {"GATEWAY_POLICIES_DIR": str(ROOT / "policies"), **env, "GATEWAY_LISTEN": listen}
    proc = _spawn([sys.executable, "-m", "gateway", "serve"], env, f"http://{listen}/healthz", timeout)
    proc.url = f"http://{listen}"
    try:
        yield proc
    finally:
        proc.stop()


class Recorder:
    """Client for tests.support.recorder."""

    def __init__(self, url: str) -> None:
        self.url = url

    def requests(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = httpx.get(self.url + "/__recorder/requests").json()
        for item in items:
            item["body"] = base64.b64decode(item.pop("body_b64"))
        return items

    def clear(self) -> None:
        httpx.delete(self.url + "/__recorder/requests")


@contextmanager
def recording_upstream() -> Iterator[Recorder]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _spawn(
        [sys.executable, "-m", "tests.support.recorder", "--port", str(port)], {}, url + "/__recorder/requests"
    )
    try:
        yield Recorder(url)
    finally:
        proc.stop()


def header_values(recorded: dict[str, Any], name: str) -> list[str]:
    """Every value of `name` the upstream received, matched in every spelling."""
    want = name.lower().replace("_", "-").replace(".", "-")
    return [v for k, v in recorded["headers"] if k.lower().replace("_", "-").replace(".", "-") == want]
