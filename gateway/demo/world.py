"""The demo's world: emulator, Durably sample and inventory sample as child processes,
users logged in, and the gateway environment that points at them."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.cli.processes import stop_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DURABLY = ROOT / "tests" / "durably" / "server.mjs"
SEED = HERE / "seed.yaml"
TENANTS = ("customer", "admin", "dealer")
API_KEYS = {"customer": "ory_pat_customer_demo", "admin": "ory_pat_admin_demo", "dealer": "ory_pat_dealer_demo"}
USERS = {
    "alice": ("customer", "alice@acme.example", "alice-password"),
    "bob": ("customer", "bob@globex.example", "bob-password"),
    "dana": ("customer", "dana@consult.example", "dana-password"),
}


@dataclass
class DemoWorld:
    gateway_url: str
    emulator_url: str
    jobs_url: str
    inventory_url: str
    dashboard_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    machine_token: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def env_file(self) -> Path:
        return ROOT / ".demo.env"

    def write_env(self) -> None:
        self.env_file.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(self.env.items())))


def demo_env(world: DemoWorld, policies: Path | None) -> dict[str, str]:
    return world.env | ({"GATEWAY_POLICIES_DIR": str(policies)} if policies else {})


def gateway_env(
    gateway_port: int, emulator_url: str, jobs_url: str, inventory_url: str, dashboard_url: str | None = None
) -> dict[str, str]:
    """`dashboard_url`: the demo dashboard (gateway.demo.dashboard); without one the route
    points at the inventory sample, for callers that never open the page (the benchmark)."""
    env = {
        "GATEWAY_TENANTS": ",".join(TENANTS),
        "GATEWAY_DEFAULT_TENANT": "customer",
        "GATEWAY_POLICIES_DIR": str(ROOT / "policies"),
        "GATEWAY_LISTEN": f"127.0.0.1:{gateway_port}",
        "GATEWAY_UPSTREAM_JOBS_URL": jobs_url,
        "GATEWAY_UPSTREAM_INVENTORY_URL": inventory_url,
        "GATEWAY_UPSTREAM_DASHBOARD_URL": dashboard_url or inventory_url,
    }
    for tenant in TENANTS:
        p = f"GATEWAY_TENANT_{tenant.upper()}_"
        base = f"{emulator_url}/{tenant}"
        env |= {
            p + "MODE": "self-hosted",
            p + "TRANSPORT": "cookie-or-bearer",
            p + "KRATOS_PUBLIC_URL": base,
            p + "KRATOS_ADMIN_URL": base,
            p + "KRATOS_ADMIN_TOKEN": API_KEYS[tenant],
            p + "HYDRA_PUBLIC_URL": base,
            p + "HYDRA_ADMIN_URL": base,
            p + "HYDRA_ADMIN_TOKEN": API_KEYS[tenant],
            p + "SESSION_COOKIE_NAME": f"ory_session_{tenant}",
            # Ory Permissions: the emulator serves it per project, as Ory Network does (API key)
            p + "KETO_READ_URL": base,
            p + "KETO_WRITE_URL": base,
            p + "KETO_TOKEN": API_KEYS[tenant],
        }
    # tokenized sessions (`whoami?tokenize_as=jwt`), verified with the template's published keys
    env["GATEWAY_TENANT_CUSTOMER_SESSION_JWKS_URL"] = f"{emulator_url}/customer/.well-known/ory/tokenizer/jwt/jwks.json"
    env["GATEWAY_TENANT_DEALER_CLIENT_ID"] = "dealer-gateway"
    env["GATEWAY_TENANT_DEALER_CLIENT_SECRET"] = "dealer-gateway-secret"
    return env


@contextlib.contextmanager
def start_world(args: argparse.Namespace) -> Iterator[DemoWorld]:
    emulator_url = f"http://127.0.0.1:{args.emulator_port}"
    jobs_url = f"http://127.0.0.1:{args.jobs_port}"
    inventory_url = f"http://127.0.0.1:{args.inventory_port}"
    dashboard_url = f"http://127.0.0.1:{args.dashboard_port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            _spawn(
                [
                    sys.executable,
                    "-m",
                    "gateway.emulator",
                    "--listen",
                    f"127.0.0.1:{args.emulator_port}",
                    *[a for t in TENANTS for a in ("--project", t)],
                    "--seed",
                    str(SEED),
                ]
            )
        )
        wait_until_up(f"{emulator_url}/_emulator/health", procs[-1], "the Ory emulator")
        if not DURABLY.is_file():
            raise SystemExit(f"error: {DURABLY} is missing (run scripts/setup from a checkout)")
        # the job service accepts only requests that carry the gateway's identity assertion
        gateway_url = f"http://127.0.0.1:{args.port}"
        guard = {
            "DURABLY_GATEWAY_JWKS_URL": f"{gateway_url}/.well-known/jwks.json",
            "DURABLY_GATEWAY_ISSUER": gateway_url,
        }
        procs.append(_spawn(["node", str(DURABLY), "--port", str(args.jobs_port)], guard))
        wait_until_up(f"{jobs_url}/__recorder/requests", procs[-1], "the Durably sample")
        procs.append(_spawn([sys.executable, "-m", "gateway.demo.inventory", "--port", str(args.inventory_port)]))
        wait_until_up(f"{inventory_url}/health", procs[-1], "the inventory sample")
        procs.append(_spawn([sys.executable, "-m", "gateway.demo.dashboard", "--port", str(args.dashboard_port)]))
        wait_until_up(f"{dashboard_url}/health", procs[-1], "the dashboard")
        world = DemoWorld(f"http://127.0.0.1:{args.port}", emulator_url, jobs_url, inventory_url, dashboard_url)
        world.env = gateway_env(args.port, emulator_url, jobs_url, inventory_url, dashboard_url)
        world.write_env()
        world.tokens = {name: login(emulator_url, *user) for name, user in USERS.items()}
        world.machine_token = client_token(emulator_url, "dealer", "partner-inventory", "partner-inventory-secret")
        yield world
    finally:
        for proc in reversed(procs):
            stop_process(proc, timeout=5)


def login(emulator_url: str, tenant: str, identifier: str, password: str) -> str:
    """Kratos native login flow: returns a session token (ory_st_...)."""
    base = f"{emulator_url}/{tenant}"
    flow = httpx.get(f"{base}/self-service/login/api").json()
    resp = httpx.post(
        f"{base}/self-service/login",
        params={"flow": flow["id"]},
        json={"method": "password", "identifier": identifier, "password": password},
    )
    resp.raise_for_status()
    return str(resp.json()["session_token"])


def client_token(emulator_url: str, tenant: str, client_id: str, secret: str, scope: str = "inventory:read") -> str:
    resp = httpx.post(
        f"{emulator_url}/{tenant}/oauth2/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "scope": scope},
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def wait_until_up(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: {what} exited with {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise SystemExit(f"error: {what} did not answer at {url} within {timeout:.0f} s")
