"""Shared pieces of tests/robustness: processes, process probes, budgets.

Budgets: ``FUZZ_EXAMPLES`` (default 200) sets the examples per fuzz target and, scaled
down, per live property; ``SOAK_REQUESTS`` (default 20000) the size of the soak.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ROOT, Proc, answers, free_port, gateway_process, running
from tests.support.seed import gateway_env

HERE = Path(__file__).resolve().parent
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
#: live properties cost a request (or a few) per example: a quarter of the fuzz budget, at least 60
LIVE_EXAMPLES = max(60, FUZZ_EXAMPLES // 4)
SOAK_REQUESTS = int(os.environ.get("SOAK_REQUESTS", "20000"))


@dataclass
class Faulty:
    """Client for tests/robustness/faulty_upstream.py."""

    url: str

    def requests(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = httpx.get(self.url + "/__faulty/requests", timeout=10).json()
        return got

    def clear(self) -> None:
        httpx.delete(self.url + "/__faulty/requests", timeout=10).raise_for_status()

    def stats(self) -> dict[str, int]:
        got: dict[str, int] = httpx.get(self.url + "/__faulty/stats", timeout=10).json()
        return got


@contextmanager
def faulty_upstream() -> Iterator[Faulty]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "tests.robustness.faulty_upstream", "--port", str(port)]
    with running(args, url, answers(url + "/__faulty/stats")):
        yield Faulty(url)


def robust_env(emulator_url: str, jobs_url: str, rec_url: str, faulty_url: str, **extra: str) -> dict[str, str]:
    env = gateway_env(free_port(), emulator_url, jobs_url, rec_url)
    env.pop("GATEWAY_LISTEN")
    env["GATEWAY_UPSTREAM_REC_URL"] = rec_url
    env["GATEWAY_UPSTREAM_FAULTY_URL"] = faulty_url
    # every generated call, junk credentials included, comes from one address: the budget of
    # unknown credentials would answer 429 for what these suites expect a 401 for (the budget
    # is tested in test_isolation.py)
    env["GATEWAY_AUTH_FAILURES_PER_MINUTE"] = "1000000"
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
