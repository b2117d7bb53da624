"""The soak's real processes, each one stoppable on its own, and the gateway in front.

Ory is one emulator process (Kratos and Hydra of the three seeded projects); Keto is a
second emulator process seeded the same way, serving the customer tenant's Ory Permissions
(`GATEWAY_TENANT_CUSTOMER_KETO_READ_URL`), so Ory and Keto fail independently. Redis is a
real redis-server (`GATEWAY_REDIS_URL`: shared decision cache, revocations). Upstreams: the
echo upstream `tests/robustness/faulty_upstream.py` (reads, writes, reports, public route;
records to a file so a kill loses nothing), the WebSocket echo `tests/support/wsecho.py`
(also recording) and the real Durably service. Only processes started here are signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.durably import DurablyServer, durably_server
from tests.support.processes import ROOT, Proc, RedisServer, answers, free_port, gateway_process, redis_process, spawn
from tests.support.seed import CLIENTS, PASSWORDS, SEED, TENANTS, browser_login, client_token, gateway_env, login

HERE = Path(__file__).resolve().parent
#: the gateway's settings for the soak: decisions cached 2 s (so every outage is felt),
#: bodies bounded at 3 s, open streams re-checked every 5 s, no budget of unknown credentials
SETTINGS = {
    "GATEWAY_CACHE_MAX_TTL": "2",
    "GATEWAY_CACHE_NEGATIVE_TTL": "1",
    "GATEWAY_HEADER_TIMEOUT": "2",
    "GATEWAY_BODY_TIMEOUT": "3",
    "GATEWAY_STREAM_RECHECK_SECONDS": "5",
    "GATEWAY_LOG_LEVEL": "ERROR",
    # all the traffic, its junk credentials included, comes from one address (the budget of
    # unknown credentials is tested in tests/robustness/test_isolation.py)
    "GATEWAY_AUTH_FAILURES_PER_MINUTE": "1000000",
}
SOAK_POLICY = """\
# The soak's WebSocket route: /<tenant>/live/** to the WebSocket echo.
tenants: [customer, dealer]
routes:
  - id: soak-live
    path: /live/**
    methods: [GET]
    allow:
      human:   {roles: {any: [viewer, member]}}
      machine: {scopes: {any: ["inventory:read"]}}
    forward: {upstream: live}
    websocket: true
    idle_timeout: 60
"""


@dataclass
class Restartable:
    """A process on a fixed port that can be frozen, killed and started again."""

    args: list[str]
    url: str
    ready_path: str
    proc: Proc | None = None

    def start(self) -> None:
        self.proc = spawn(self.args, self.url, answers(self.url + self.ready_path), timeout=30)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.process.pid

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
            self.proc.kill()


def emulator(port: int) -> Restartable:
    projects = [a for t in TENANTS for a in ("--project", t)]
    args = [sys.executable, "-m", "gateway.emulator", "--listen", f"127.0.0.1:{port}", *projects, "--seed", str(SEED)]
    return Restartable(args, f"http://127.0.0.1:{port}", "/_emulator/health")


def recording(module: str, port: int, record: Path, ready_path: str) -> Restartable:
    args = [sys.executable, "-m", module, "--port", str(port), "--record", str(record)]
    return Restartable(args, f"http://127.0.0.1:{port}", ready_path)


@dataclass
class Stack:
    ory: Restartable
    keto: Restartable
    redis: RedisServer
    echo: Restartable
    live: Restartable
    durably: DurablyServer
    gateway: Proc
    folder: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def echo_log(self) -> Path:
        return self.folder / "echo.jsonl"

    @property
    def live_log(self) -> Path:
        return self.folder / "live.jsonl"

    def credentials(self) -> dict[str, dict[str, str]]:
        """Request headers per principal (logged in once, through the emulator's real flows)."""
        ory = self.ory.url
        bearer = {who: login(ory, *PASSWORDS[who]) for who in ("alice", "bob", "dana")}
        bearer["bogus"] = "ory_st_" + "x" * 32
        heads = {who: {"Authorization": f"Bearer {token}"} for who, token in bearer.items()}
        name, value = browser_login(ory, *PASSWORDS["carol"])
        heads["carol"] = {"Cookie": f"{name}={value}"}
        return heads | self.machine_credentials()

    def machine_credentials(self) -> dict[str, dict[str, str]]:
        """Request headers of the machines: client-credentials tokens, which Hydra lets live one
        hour, so a run longer than that mints them again (`MACHINE_TOKENS_EVERY`)."""
        ory = self.ory.url
        bearer = {
            "partner": client_token(
                ory,
                "dealer",
                "partner-inventory",
                CLIENTS["partner-inventory"][1],
                "inventory:read jobs:read jobs:write",
            ),
            "cgw": client_token(ory, "customer", "customer-gateway", CLIENTS["customer-gateway"][1], "jobs:read"),
        }
        return {who: {"Authorization": f"Bearer {token}"} for who, token in bearer.items()}


def _policies(folder: Path) -> Path:
    policies = folder / "policies"
    policies.mkdir()
    for source in [*(ROOT / "policies").glob("*.yaml"), HERE.parent / "policies" / "robustness.yaml"]:
        shutil.copy(source, policies / source.name)
    (policies / "soak.yaml").write_text(SOAK_POLICY)
    return policies


def gateway_settings(stack_urls: dict[str, str], redis_url: str, policies: Path) -> dict[str, str]:
    env = gateway_env(free_port(), stack_urls["ory"], stack_urls["durably"], stack_urls["echo"])
    env.pop("GATEWAY_LISTEN")
    keto = stack_urls["keto"] + "/customer"
    env |= {
        "GATEWAY_POLICIES_DIR": str(policies),
        "GATEWAY_UPSTREAM_REC_URL": stack_urls["echo"],
        "GATEWAY_UPSTREAM_FAULTY_URL": stack_urls["echo"],
        "GATEWAY_UPSTREAM_LIVE_URL": stack_urls["live"],
        "GATEWAY_TENANT_CUSTOMER_KETO_READ_URL": keto,
        "GATEWAY_TENANT_CUSTOMER_KETO_WRITE_URL": keto,
        "GATEWAY_REDIS_URL": redis_url,
        **SETTINGS,
    }
    return env


@contextmanager
def running_stack(extra: dict[str, str] | None = None) -> Iterator[Stack]:
    """Every process of the soak; `extra` goes into the gateway's environment."""
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    ory, keto = emulator(free_port()), emulator(free_port())
    echo = recording("tests.robustness.faulty_upstream", free_port(), folder / "echo.jsonl", "/__faulty/stats")
    live = recording("tests.support.wsecho", free_port(), folder / "live.jsonl", "/health")
    restartable = (ory, keto, echo, live)
    try:
        with ExitStack() as stack:
            for proc in restartable:
                proc.start()
            redis = stack.enter_context(redis_process())
            durably = stack.enter_context(durably_server())
            stack.callback(lambda: _resume(durably.process.pid))
            urls = {"ory": ory.url, "keto": keto.url, "echo": echo.url, "live": live.url, "durably": durably.base_url}
            env = gateway_settings(urls, redis.url, _policies(folder)) | (extra or {})
            gateway = stack.enter_context(gateway_process(env))
            yield Stack(ory, keto, redis, echo, live, durably, gateway, folder)
    finally:
        for proc in restartable:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


def _resume(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
