"""The gateway as a real process (`python -m gateway serve` under uvicorn), wired to the emulator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procs import ROOT, Child, pinned, spawn, wait_http
from tests.support.processes import clean_env, free_port
from tests.support.seed import client_token, gateway_env, login

BENCH_POLICIES = Path(__file__).resolve().parent / "policies"
SHIPPED_POLICIES = ROOT / "policies"
HUMAN = ("customer", "alice@acme.example", "alice-password")
MACHINE = ("dealer", "partner-inventory", "partner-inventory-secret")


@dataclass
class Gateway:
    child: Child
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.child.pid

    def stop(self) -> None:
        self.child.stop()


@dataclass(frozen=True)
class Credentials:
    human: str
    machine: str


def obtain_credentials(emulator_url: str) -> Credentials:
    """A Kratos session token (native login flow) and a client-credentials access token."""
    return Credentials(
        human=login(emulator_url, *HUMAN),
        machine=client_token(emulator_url, *MACHINE, scope="inventory:read"),
    )


def merge_policies(target: Path, sources: Iterable[Path]) -> Path:
    """One policies folder holding the YAML files of every source folder."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        for file in sorted(source.glob("*.yaml")):
            shutil.copy(file, target / file.name)
    return target


def bench_env(port: int, emulator_url: str, upstream_url: str, policies: Path) -> dict[str, str]:
    """The demo wiring (three tenants on the emulator's projects), every upstream on nginx."""
    env = gateway_env(port, emulator_url, upstream_url, upstream_url)
    env["GATEWAY_UPSTREAM_BENCH_URL"] = upstream_url
    env["GATEWAY_POLICIES_DIR"] = str(policies)
    return env


def spawn_gateway(name: str, env: Mapping[str, str], log: Path, cpu: int | None = 1, workers: int = 1) -> Gateway:
    """Start the process without waiting; a free port is chosen unless `env` has GATEWAY_LISTEN.

    `cpu=None`: not pinned (loading a big configuration may use any core; `repin` later; or
    `workers` > 1, one per core).
    """
    env = dict(env)
    if "GATEWAY_LISTEN" not in env:
        env["GATEWAY_LISTEN"] = f"127.0.0.1:{free_port()}"
    port = int(env["GATEWAY_LISTEN"].rsplit(":", 1)[1])
    args = [sys.executable, "-m", "gateway", "serve", "--workers", str(workers)]
    child = spawn(name, args if cpu is None else pinned(cpu, args), log, clean_env(env))
    return Gateway(child, port)


def repin(gateway: Gateway, cpu: int = 1) -> None:
    """Move every thread of a running gateway to `cpu`."""
    if cpu < (os.cpu_count() or 1):
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(gateway.pid)], check=True, capture_output=True)


def wait_ready(gateway: Gateway, timeout: float = 120.0) -> None:
    try:
        wait_http(gateway.child, gateway.url + "/healthz", timeout=timeout)
    except BaseException:
        gateway.stop()
        raise


def start_gateway(name: str, env: Mapping[str, str], log: Path, cpu: int = 1, timeout: float = 120.0) -> Gateway:
    gateway = spawn_gateway(name, env, log, cpu)
    wait_ready(gateway, timeout)
    return gateway


def has_decisions(gateway: Gateway, token: str) -> bool:
    """Whether the gateway answers a forward-auth check at /decisions/<path> (Oathkeeper style)."""
    try:
        resp = httpx.get(
            gateway.url + "/decisions/customer/bench/small", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.TransportError:
        return False
    return 200 <= resp.status_code < 300
