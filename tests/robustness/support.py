"""Shared pieces of tests/robustness: processes, a raw HTTP client, process probes, budgets.

Budgets: ``FUZZ_EXAMPLES`` (default 200) sets the examples per fuzz target and, scaled
down, per live property; ``SOAK_REQUESTS`` (default 20000) the size of the soak.
"""

from __future__ import annotations

import os
import shutil
import socket
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

from gateway.demo.world import gateway_env
from gateway.emulator.testing import free_port
from tests.support.processes import ROOT, Proc, gateway_process
from tests.support.rawhttp import dechunk

HERE = Path(__file__).resolve().parent
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
#: live properties cost a request (or a few) per example: a quarter of the fuzz budget, at least 60
LIVE_EXAMPLES = max(60, FUZZ_EXAMPLES // 4)
SOAK_REQUESTS = int(os.environ.get("SOAK_REQUESTS", "20000"))


@dataclass
class Faulty:
    url: str
    process: subprocess.Popen[bytes]

    def requests(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = httpx.get(self.url + "/__faulty/requests", timeout=10).json()
        return got

    def clear(self) -> None:
        httpx.delete(self.url + "/__faulty/requests", timeout=10).raise_for_status()

    def stats(self) -> dict[str, int]:
        got: dict[str, int] = httpx.get(self.url + "/__faulty/stats", timeout=10).json()
        return got


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def faulty_upstream() -> Iterator[Faulty]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.robustness.faulty_upstream", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/__faulty/stats", process)
        yield Faulty(url, process)
    finally:
        _stop(process)


def robust_env(emulator_url: str, jobs_url: str, rec_url: str, faulty_url: str, **extra: str) -> dict[str, str]:
    env = gateway_env(free_port(), emulator_url, jobs_url, rec_url)
    env.pop("GATEWAY_LISTEN")
    env["GATEWAY_UPSTREAM_REC_URL"] = rec_url
    env["GATEWAY_UPSTREAM_FAULTY_URL"] = faulty_url
    env.update(extra)
    return env


@contextmanager
def policies_dir() -> Iterator[Path]:
    """The shipped policies plus tests/robustness/policies, in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="robust-policies-"))
    try:
        for source in [*(ROOT / "policies").glob("*.yaml"), HERE / "policies" / "robustness.yaml"]:
            shutil.copy(source, folder / source.name)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def robust_gateway(env: Mapping[str, str]) -> Iterator[Proc]:
    with policies_dir() as folder, gateway_process({**env, "GATEWAY_POLICIES_DIR": str(folder)}) as proc:
        yield proc


# --- a raw HTTP/1.1 client: sends the request target exactly as given ------------------


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    #: the body was framed to its end (last chunk, or all of Content-Length)
    complete: bool = True

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def raw_request(
    url: str,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    body: bytes = b"",
    timeout: float = 10.0,
) -> RawResponse:
    """One request on a fresh connection (``Connection: close``), target bytes verbatim."""
    host, port = url.removeprefix("http://").split(":")
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: " + f"{host}:{port}".encode()]
    lines += [n + b": " + v for n, v in headers]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    pairs = [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in header_lines)]
    status = int(status_line.split(" ")[1])
    if any(k.lower() == "transfer-encoding" for k, _ in pairs):
        body, complete = dechunk(rest)
        return RawResponse(status, pairs, body, complete)
    length = next((int(v) for k, v in pairs if k.lower() == "content-length"), len(rest))
    return RawResponse(status, pairs, rest, len(rest) == length)


# --- process probes ---------------------------------------------------------------------


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def socket_count(pid: int) -> int:
    """Open sockets of `pid` (listening one included)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def socket_peers(pid: int) -> list[str]:
    """`ss` lines of the TCP sockets `pid` holds (for failure messages)."""
    out = subprocess.run(["ss", "-tanp"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if f"pid={pid}," in line]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settle(predicate: object, timeout: float = 10.0, interval: float = 0.1) -> bool:
    """Poll `predicate()` until true or `timeout`; returns its last value."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
